"""What operating the model costs: MLflow tracking's overhead on a lesson-months train
(target: at most +3 s) and on a 3-million-ride month (target: at most 1.3x), and `monitor` on
that month against training on it (target: under 3x). Run by `make bench`, or alone:
`python benchmarks/bench_operate.py`."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import our_train, run  # noqa: E402
from common import add_tlc_dir  # noqa: E402

TARGET_TRACKING_SECONDS = 3.0
TARGET_TRACKING_RATIO_3M = 1.3
TARGET_MONITOR_OVER_TRAIN = 3.0


def measure_tracking(
    tlc_dir: Path, scratch: Path, repeats: int, months=("2021-01", "2021-02")
) -> dict:
    """`train` and `train --track` on two months (the lesson's by default), alternating; the
    store is created (a one-time cost of a few seconds) before the timed runs."""
    uri = f"sqlite:///{scratch / 'mlflow.db'}"
    plain = our_train(tlc_dir, scratch, *months, "lesson")
    tracked = [*plain, "--track", "--tracking-uri", uri]
    run(tracked)  # creates the database and the experiment
    times = {"plain": [], "tracked": []}
    for index in range(repeats):
        order = [("plain", plain), ("tracked", tracked)]
        for label, command in order if index % 2 == 0 else order[::-1]:
            times[label].append(run(command)[0])
            print(f"  {months} train {label:<8} {times[label][-1]:6.2f} s", file=sys.stderr)
    plain_s, tracked_s = (statistics.median(times[k]) for k in ("plain", "tracked"))
    return {
        "plain_seconds": plain_s,
        "tracked_seconds": tracked_s,
        "overhead": tracked_s - plain_s,
        "ratio": tracked_s / plain_s,
    }


def measure_monitor(big_dir: Path, scratch: Path, repeats: int) -> dict:
    """Training on 3M-row 2023-01 (validated on 2023-02) against monitoring 2023-02 with the
    model: both read two 3M-row months."""
    train = our_train(big_dir, scratch, "2023-01", "2023-02", "lesson")
    monitor = [
        sys.executable,
        "-m",
        "ride_duration",
        "monitor",
        "--offline",
        "--quiet",
        "--json",
        "--month",
        "2023-02",
        "--data-dir",
        str(big_dir),
        "--model",
        str(scratch / "models" / "lin_reg.bin"),
        "--reports-dir",
        str(scratch / "reports"),
    ]
    times = {"train": [], "monitor": []}
    for index in range(repeats):
        order = [("train", train), ("monitor", monitor)]
        for label, command in order if index % 2 == 0 else order[::-1]:
            wall, mib, out = run(command)
            times[label].append((wall, mib))
            print(f"  3M rows {label:<8} {wall:6.2f} s {mib:6.0f} MiB", file=sys.stderr)
    train_s, monitor_s = (statistics.median(w for w, _ in times[k]) for k in times)
    return {
        "train_seconds": train_s,
        "monitor_seconds": monitor_s,
        "monitor_mib": statistics.median(m for _, m in times["monitor"]),
        "rides": out["current"]["rides"],
        "ratio": monitor_s / train_s,
    }


TARGET_LOOP_SECONDS = 5.0


def _store_copy(source: Path, target: Path) -> str:
    """A fresh copy of a store (database and artifacts), so that each timed run decides the
    same undecided month."""
    import shutil

    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    return f"sqlite:///{target / 'mlflow.db'}"


def measure_loop(tlc_dir: Path, scratch: Path, repeats: int) -> dict | None:
    """One month (green 2021-03) decided by `loop run --month` (a Prefect flow run reported to
    a local `prefect server`, as `make orchestrate` runs it) against `retrain --month`, from
    the same store each time (the first champion crowned on 2021-02)."""
    import os
    import shutil
    import subprocess
    import time
    import urllib.request

    try:
        import prefect  # noqa: F401
    except ImportError:
        return None
    data = scratch / "loop-data"
    data.mkdir(exist_ok=True)
    for month in ("2021-01", "2021-02", "2021-03"):
        shutil.copyfile(
            tlc_dir / f"green_tripdata_{month}.parquet", data / f"green_tripdata_{month}.parquet"
        )
    base = scratch / "loop-store"
    base.mkdir(exist_ok=True)
    common = [
        "--offline",
        "--quiet",
        "--data-dir",
        str(data),
        "--model-dir",
        str(scratch / "loop-models"),
    ]
    common += ["--reports-dir", str(scratch / "loop-reports")]
    cli = [sys.executable, "-m", "ride_duration"]
    env = os.environ | {"MLFLOW_TRACKING_URI": f"sqlite:///{base / 'mlflow.db'}"}
    subprocess.run(
        [*cli, "retrain", "--month", "2021-02", *common], check=True, env=env, capture_output=True
    )
    port = 4299
    server_env = os.environ | {
        "PREFECT_HOME": str(scratch / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("prefect")),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=server_env,
    )
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2).read()
                break
            except OSError:
                time.sleep(0.5)
        times = {"retrain": [], "loop": []}
        for index in range(repeats):
            order = [("retrain", "retrain"), ("loop", "loop")]
            for label, _ in order if index % 2 == 0 else order[::-1]:
                uri = _store_copy(base, scratch / f"loop-store-{label}")
                command = [*cli, "retrain", "--month", "2021-03", *common]
                if label == "loop":
                    command = [*cli, "loop", "run", "--month", "2021-03", *common]
                run_env = server_env | {
                    "MLFLOW_TRACKING_URI": uri,
                    "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
                }
                started = time.perf_counter()
                subprocess.run(command, check=True, env=run_env, capture_output=True)
                times[label].append(time.perf_counter() - started)
                print(f"  one month, {label:<8} {times[label][-1]:6.2f} s", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=30)
    retrain_s, loop_s = (statistics.median(times[k]) for k in ("retrain", "loop"))
    return {"retrain_seconds": retrain_s, "loop_seconds": loop_s, "overhead": loop_s - retrain_s}


def report(
    tracking: dict,
    monitoring: dict | None,
    big_tracking: dict | None = None,
    loop: dict | None = None,
) -> str:
    met = "met" if tracking["overhead"] <= TARGET_TRACKING_SECONDS else "NOT met"
    lines = [
        "",
        "| operating | seconds | against | ratio or overhead | target |",
        "|---|---:|---:|---:|---|",
        f"| train --track, lesson months | {tracking['tracked_seconds']:.2f} | "
        f"{tracking['plain_seconds']:.2f} (train) | +{tracking['overhead']:.2f} s | "
        f"at most +{TARGET_TRACKING_SECONDS:g} s: {met} |",
    ]
    if big_tracking:
        met = "met" if big_tracking["ratio"] <= TARGET_TRACKING_RATIO_3M else "NOT met"
        lines.append(
            f"| train --track, 3M-row month | {big_tracking['tracked_seconds']:.2f} | "
            f"{big_tracking['plain_seconds']:.2f} (train) | {big_tracking['ratio']:.2f}x | "
            f"at most {TARGET_TRACKING_RATIO_3M:g}x: {met} |"
        )
    if loop:
        met = "met" if loop["overhead"] <= TARGET_LOOP_SECONDS else "NOT met"
        lines.append(
            f"| one month through the Prefect flow (`loop run`, a local server) | "
            f"{loop['loop_seconds']:.2f} | {loop['retrain_seconds']:.2f} (`retrain`) | "
            f"+{loop['overhead']:.2f} s | at most +{TARGET_LOOP_SECONDS:g} s: {met} |"
        )
    if monitoring:
        met = "met" if monitoring["ratio"] < TARGET_MONITOR_OVER_TRAIN else "NOT met"
        lines.append(
            f"| monitor, {monitoring['rides']:,} rides (3M-row month) | "
            f"{monitoring['monitor_seconds']:.2f} | {monitoring['train_seconds']:.2f} (train) | "
            f"{monitoring['ratio']:.1f}x | under {TARGET_MONITOR_OVER_TRAIN:g}x: {met} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_tlc_dir(parser)
    parser.add_argument(
        "--big-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "ride-duration-bench",
        help="the 3M-row months bench.py builds (skipped if absent)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-operate-"))
    tracking = measure_tracking(args.tlc_dir.resolve(), scratch, args.repeats)
    monitoring = big_tracking = None
    if (args.big_dir / "green_tripdata_2023-02.parquet").is_file():
        big = Path(tempfile.mkdtemp(prefix="bench-operate-3m-"))
        big_tracking = measure_tracking(args.big_dir, big, args.repeats, ("2023-01", "2023-02"))
        monitoring = measure_monitor(args.big_dir, scratch, args.repeats)
    loop = measure_loop(args.tlc_dir.resolve(), scratch, args.repeats)
    print(report(tracking, monitoring, big_tracking, loop))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
