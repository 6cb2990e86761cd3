"""Benchmark `ride-duration train` against the course's approach, as separate processes.

It builds yellow-sized months (3,066,766 and 2,913,955 rows, the sizes of yellow 2023-01 and
2023-02) by resampling real green rows with a fixed seed, then runs both approaches in
alternation, several times, on those months and on the lesson months, for both feature sets.
It reports median wall time, median peak memory (RSS) and their ratios; then our rich model's
time against our lesson model's, and, if xgboost is installed, the course's tuned XGBoost on
the lesson months; then a year: 12 months of 3 million rides trained in one run, streamed.
Run: `make bench`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import add_tlc_dir

HERE = Path(__file__).resolve().parent
SIZES = {"2023-01": 3_066_766, "2023-02": 2_913_955}
SEED = 20230101
TARGET_SPEEDUP_BIG = 12.0
TARGET_MEMORY_BIG = 0.25
TARGET_SPEEDUP_LESSON = 2.0
TARGET_RICH_OVER_LESSON = 3.0
BIG, LESSON = "3M rows (2023-01/02)", "lesson months"


def build_big_months(tlc_dir: Path, out: Path) -> Path:
    """Resample real green rows (all columns) to the size of a yellow month."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    for month, rows in SIZES.items():
        target = out / f"green_tripdata_{month}.parquet"
        if target.exists() and pq.ParquetFile(target).metadata.num_rows == rows:
            continue
        source = pq.read_table(tlc_dir / f"green_tripdata_{month}.parquet")
        sample = source.take(pa.array(rng.integers(0, source.num_rows, rows)))
        pq.write_table(sample, target.with_suffix(".part"), compression="zstd")
        os.replace(target.with_suffix(".part"), target)
    return out


YEAR_MONTHS = [f"2022-{m:02d}" for m in range(1, 13)]
YEAR_VAL = "2023-01"
YEAR_ROWS = 3_000_000
TARGET_YEAR_SECONDS, TARGET_YEAR_MIB, TARGET_YEAR_RSS_RATIO = 40.0, 1536.0, 1.5


def build_year(tlc_dir: Path, out: Path) -> Path:
    """Twelve months of 3 million rides each (and a thirteenth to validate on), each resampled
    with a fixed seed from one of the shared real green months in turn. Their timestamps are
    the source month's: counted as outside the month, as the rule says, and kept."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    sources = sorted(tlc_dir.glob("green_tripdata_*.parquet"))
    rng = np.random.default_rng(SEED)
    columns = [
        "lpep_pickup_datetime",
        "lpep_dropoff_datetime",
        "PULocationID",
        "DOLocationID",
        "trip_distance",
    ]
    schema = pa.schema(
        [
            (columns[0], pa.timestamp("us")),
            (columns[1], pa.timestamp("us")),
            (columns[2], pa.int64()),
            (columns[3], pa.int64()),
            (columns[4], pa.float64()),
        ]
    )
    for index, month in enumerate([*YEAR_MONTHS, YEAR_VAL]):
        target = out / f"green_tripdata_{month}.parquet"
        source = pq.read_table(sources[index % len(sources)], columns=columns).cast(schema)
        picks = rng.integers(0, source.num_rows, YEAR_ROWS)  # drawn even when cached: same seed
        if target.exists() and pq.ParquetFile(target).metadata.num_rows == YEAR_ROWS:
            continue
        pq.write_table(
            source.take(pa.array(picks)), target.with_suffix(".part"), compression="zstd"
        )
        os.replace(target.with_suffix(".part"), target)
    return out


def measure_year(year_dir: Path, scratch: Path) -> list[dict]:
    """Ours on one month and on twelve, streamed in batches of 2**20 rides, once each."""
    rows = []
    for features, months in (
        ("lesson", YEAR_MONTHS[:1]),
        ("lesson", YEAR_MONTHS),
        ("rich", YEAR_MONTHS),
    ):
        spec = months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"
        command = our_train(
            year_dir, scratch, spec, YEAR_VAL, features, "--batch-rows", str(1 << 20)
        )
        wall, mib, out = run(command)
        print(
            f"  year {features:<6} {len(months):>2} months {wall:7.2f} s {mib:7.0f} MiB",
            file=sys.stderr,
            flush=True,
        )
        rows.append(
            {
                "features": features,
                "months": len(months),
                "seconds": wall,
                "peak_mib": mib,
                "n_train": out["n_train"],
                "val_rmse": out["val_rmse"],
            }
        )
    return rows


def report_year(year: list[dict], course_mib_per_million: float | None) -> str:
    one, twelve = year[0], year[1]
    lines = [
        "",
        "| year run | months | rides kept | seconds | peak MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in year:
        lines.append(
            f"| ours, {r['features']} | {r['months']} | {r['n_train']:,} | "
            f"{r['seconds']:.2f} | {r['peak_mib']:.0f} |"
        )
    if course_mib_per_million:
        need = course_mib_per_million * 12 * YEAR_ROWS / 1e6 / 1024
        lines.append(
            f"| the course's approach (estimated) | 12 | | | {need * 1024:,.0f} "
            f"(~{need:.0f} GiB: more than this machine has) |"
        )
    ratio = twelve["peak_mib"] / one["peak_mib"]
    lines += [
        "",
        f"year / lesson: {twelve['seconds']:.1f} s < {TARGET_YEAR_SECONDS:g} s, "
        f"{twelve['peak_mib']:.0f} MiB < {TARGET_YEAR_MIB:g} MiB, peak RSS {ratio:.2f}x one "
        f"month's <= {TARGET_YEAR_RSS_RATIO:g}x: "
        + (
            "met"
            if twelve["seconds"] < TARGET_YEAR_SECONDS
            and twelve["peak_mib"] < TARGET_YEAR_MIB
            and ratio <= TARGET_YEAR_RSS_RATIO
            else "NOT met"
        ),
    ]
    return "\n".join(lines)


def run(command: list[str]) -> tuple[float, float, dict]:
    """Wall seconds, peak RSS in MiB and the JSON the process printed."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        # wait4 gives this child's own peak RSS (RUSAGE_CHILDREN would mix all children).
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr}")
    return wall, usage.ru_maxrss / 1024, json.loads(stdout.strip().splitlines()[-1])


def our_train(data_dir: Path, scratch: Path, train: str, val: str, features: str, *extra: str):
    """`ride-duration train` on green months, printing its JSON."""
    return [
        sys.executable,
        "-m",
        "ride_duration",
        "train",
        "--offline",
        "--quiet",
        "--json",
        "--taxi",
        "green",
        "--train",
        train,
        "--val",
        val,
        "--features",
        features,
        *extra,
        "--data-dir",
        str(data_dir),
        "--model-dir",
        str(scratch / "models"),
    ]


def commands(data_dir: Path, months: tuple[str, str], features: str, scratch: Path):
    train, val = months
    course = [
        sys.executable,
        str(HERE / "course_approach.py"),
        str(data_dir / f"green_tripdata_{train}.parquet"),
        str(data_dir / f"green_tripdata_{val}.parquet"),
        features,
        str(scratch / "course.bin"),
    ]
    ours = our_train(data_dir, scratch, train, val, features)
    return course, ours


def measure_rich(name, data_dir, months, repeats, scratch, lesson: dict) -> dict:
    """Our rich model alone (the course has no such model), against our lesson model's time
    in the same scenario."""
    _, command = commands(data_dir, months, "rich", scratch)
    runs = []
    for _ in range(repeats):
        runs.append(run(command))
        print(f"  {name:<22} rich   {runs[-1][0]:7.2f} s {runs[-1][1]:7.0f} MiB", file=sys.stderr)
    seconds = statistics.median(r[0] for r in runs)
    return {
        "scenario": name,
        "seconds": seconds,
        "peak_mib": statistics.median(r[1] for r in runs),
        "lesson_seconds": lesson["ours"]["seconds"],
        "over_lesson": seconds / lesson["ours"]["seconds"],
        "val_rmse": runs[-1][2]["val_rmse"],
        "lesson_val_rmse": lesson["ours"]["val_rmse"],
        "n_train": runs[-1][2]["n_train"],
    }


def measure_xgboost(data_dir, months) -> dict | None:
    """The course's tuned XGBoost, once (it takes about a minute on the lesson months), if
    xgboost is installed."""
    try:
        import xgboost  # noqa: F401
    except ImportError:
        return None
    paths = [str(data_dir / f"green_tripdata_{m}.parquet") for m in months]
    wall, mib, out = run([sys.executable, str(HERE / "course_xgboost.py"), *paths])
    print(f"  xgboost (course)       {wall:7.2f} s {mib:7.0f} MiB", file=sys.stderr)
    return {"seconds": wall, "peak_mib": mib, "val_rmse": out["val_rmse"], "rounds": out["rounds"]}


def measure(name, data_dir, months, features, repeats, scratch) -> dict:
    course_cmd, ours_cmd = commands(data_dir, months, features, scratch)
    runs = {"course": [], "ours": []}
    for index in range(repeats):
        order = [("course", course_cmd), ("ours", ours_cmd)]
        for label, command in order if index % 2 == 0 else order[::-1]:
            runs[label].append(run(command))
            print(
                f"  {name:<22} {label:<6} {runs[label][-1][0]:7.2f} s "
                f"{runs[label][-1][1]:7.0f} MiB",
                file=sys.stderr,
                flush=True,
            )
    summary = {"scenario": name, "features": features, "months": months}
    for label, results in runs.items():
        summary[label] = {
            "seconds": statistics.median(r[0] for r in results),
            "peak_mib": statistics.median(r[1] for r in results),
            "train_rmse": results[-1][2]["train_rmse"],
            "val_rmse": results[-1][2]["val_rmse"],
            "n_train": results[-1][2]["n_train"],
        }
    summary["speedup"] = summary["course"]["seconds"] / summary["ours"]["seconds"]
    summary["memory_ratio"] = summary["ours"]["peak_mib"] / summary["course"]["peak_mib"]
    return summary


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def report_rich(rich: list[dict], xgboost: dict | None) -> str:
    lines = [
        "",
        "| scenario | rich s | lesson s | rich / lesson | rich MiB | val RMSE lesson / rich |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rich:
        lines.append(
            f"| {r['scenario']} | {r['seconds']:.2f} | {r['lesson_seconds']:.2f} | "
            f"{r['over_lesson']:.1f}x | {r['peak_mib']:.0f} | "
            f"{r['lesson_val_rmse']:.4f} / {r['val_rmse']:.4f} |"
        )
    if xgboost:
        lines.append(
            f"| lesson months, the course's tuned XGBoost ({xgboost['rounds']} rounds) | "
            f"{xgboost['seconds']:.2f} | | | {xgboost['peak_mib']:.0f} | "
            f"{xgboost['val_rmse']:.4f} |"
        )
    lines.append("")
    for r in rich:
        met = r["over_lesson"] <= TARGET_RICH_OVER_LESSON
        lines.append(
            f"{r['scenario']} / rich: {r['over_lesson']:.1f}x lesson's time <= "
            f"{TARGET_RICH_OVER_LESSON:g}x: {'met' if met else 'NOT met'}"
        )
    return "\n".join(lines)


def report(results: list[dict]) -> str:
    lines = [
        f"Machine: {machine()}",
        "",
        "| scenario | features | course s | ours s | speedup | course MiB | ours MiB | memory "
        "| train RMSE course / ours | val RMSE course / ours |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['scenario']} | {r['features']} | {r['course']['seconds']:.2f} | "
            f"{r['ours']['seconds']:.2f} | {r['speedup']:.1f}x | {r['course']['peak_mib']:.0f} | "
            f"{r['ours']['peak_mib']:.0f} | {r['memory_ratio']:.0%} | "
            f"{r['course']['train_rmse']:.4f} / {r['ours']['train_rmse']:.4f} | "
            f"{r['course']['val_rmse']:.4f} / {r['ours']['val_rmse']:.4f} |"
        )
    lines.append("")
    for r in results:
        big = r["scenario"].startswith("3M")
        speed_target = TARGET_SPEEDUP_BIG if big else TARGET_SPEEDUP_LESSON
        checks = [
            f"speedup {r['speedup']:.1f}x >= {speed_target:g}x: "
            f"{'met' if r['speedup'] >= speed_target else 'NOT met'}"
        ]
        if big:
            checks.append(
                f"memory {r['memory_ratio']:.0%} <= {TARGET_MEMORY_BIG:.0%}: "
                f"{'met' if r['memory_ratio'] <= TARGET_MEMORY_BIG else 'NOT met'}"
            )
        lines.append(f"{r['scenario']} / {r['features']}: " + "; ".join(checks))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_tlc_dir(parser, "folder with green 2021-01/02 and 2023-01/02 parquet files")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each approach")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "ride-duration-bench",
        help="where the resampled months are cached",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--skip-big", action="store_true", help="only the lesson months")
    parser.add_argument(
        "--skip-xgboost", action="store_true", help="leave out the course's XGBoost (a minute)"
    )
    parser.add_argument("--skip-year", action="store_true", help="leave out the 12-month runs")
    parser.add_argument(
        "--skip-operate", action="store_true", help="leave out tracking and monitoring"
    )
    parser.add_argument(
        "--skip-intervals",
        action="store_true",
        help="leave out the intervals against MAPIE's (bench_intervals.py, many minutes)",
    )
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_only:
        build_big_months(args.tlc_dir.resolve(), args.work_dir)
        if not args.skip_year:
            build_year(args.tlc_dir.resolve(), args.work_dir / "year")
        return 0

    tlc_dir = args.tlc_dir.resolve()
    scratch = Path(tempfile.mkdtemp(prefix="bench-", dir=args.work_dir.parent))
    results, rich = [], []
    if not args.skip_big:
        print(f"building 3M-row months in {args.work_dir} ...", file=sys.stderr)
        # In a child process: a child's peak RSS on Linux starts from its parent's at fork,
        # so this process must stay small for the measurements to be the children's own.
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--build-only",
                "--tlc-dir",
                str(tlc_dir),
                "--work-dir",
                str(args.work_dir),
                *(["--skip-year"] if args.skip_year else []),
            ],
            check=True,
        )
        big = args.work_dir
        for features in ("lesson", "homework"):
            results.append(
                measure(BIG, big, ("2023-01", "2023-02"), features, args.repeats, scratch)
            )
        rich.append(
            measure_rich(BIG, big, ("2023-01", "2023-02"), args.repeats, scratch, results[-2])
        )
    for features in ("lesson", "homework"):
        results.append(
            measure(LESSON, tlc_dir, ("2021-01", "2021-02"), features, args.repeats, scratch)
        )
    lesson = results[-2]
    rich.append(
        measure_rich(LESSON, tlc_dir, ("2021-01", "2021-02"), args.repeats, scratch, lesson)
    )
    xgboost = None if args.skip_xgboost else measure_xgboost(tlc_dir, ("2021-01", "2021-02"))
    year = []
    if not args.skip_big and not args.skip_year:
        year = measure_year(args.work_dir / "year", scratch)
    operate = None
    if not args.skip_operate:
        from bench_operate import measure_loop, measure_monitor, measure_tracking

        operate = {"tracking": measure_tracking(tlc_dir, scratch, args.repeats)}
        if not args.skip_big:
            big_scratch = Path(tempfile.mkdtemp(prefix="bench-3m-", dir=args.work_dir.parent))
            months = ("2023-01", "2023-02")
            operate["big_tracking"] = measure_tracking(
                args.work_dir, big_scratch, args.repeats, months
            )
            operate["monitoring"] = measure_monitor(args.work_dir, scratch, args.repeats)
        operate["loop"] = measure_loop(tlc_dir, scratch, args.repeats)
    text = report(results) + "\n" + report_rich(rich, xgboost)
    if year:
        big = next(r for r in results if r["scenario"] == BIG and r["features"] == "lesson")
        per_million = big["course"]["peak_mib"] / (big["course"]["n_train"] / 1e6)
        text += "\n" + report_year(year, per_million)
    if operate:
        from bench_operate import report as report_operate

        text += "\n" + report_operate(
            operate["tracking"],
            operate.get("monitoring"),
            operate.get("big_tracking"),
            operate.get("loop"),
        )
    if not args.skip_intervals:  # its own process: MAPIE's jackknife+ holds gigabytes
        intervals = subprocess.run(
            [
                sys.executable,
                str(HERE / "bench_intervals.py"),
                "--quiet",
                "--tlc-dir",
                str(tlc_dir),
            ],
            capture_output=True,
            text=True,
        )
        text += "\n" + (intervals.stdout or intervals.stderr)
    print(text)
    if args.json:
        document = {
            "machine": machine(),
            "results": results,
            "rich": rich,
            "xgboost": xgboost,
            "year": year,
            "operate": operate,
        }
        args.json.write_text(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
