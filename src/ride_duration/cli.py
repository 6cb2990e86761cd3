"""The ``ride-duration`` command line: a thin layer over the package's functions.

Exit codes: 0 success; 2 a failure caused by input, data or network (one line on stderr,
``--debug`` for the traceback); 1 a bug.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback
from pathlib import Path

from .config import DATA_DIR, FIGURES_DIR, MODELS_DIR, TAXI_TYPES
from .errors import RideDurationError

PROG = "ride-duration"


def _add_common(parser: argparse.ArgumentParser, top: bool = False) -> None:
    # Subcommands must not reset a --debug given before them.
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show tracebacks of errors",
        default=False if top else argparse.SUPPRESS,
    )


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DATA_DIR,
        help="folder holding <taxi>_tripdata_<YYYY-MM>.parquet files (default: data/)",
    )


def _add_fetching(parser: argparse.ArgumentParser, offline: bool = True) -> None:
    """--data-dir and the download options: what commands that fetch months share."""
    _add_data_dir(parser)
    if offline:
        parser.add_argument(
            "--offline",
            action="store_true",
            help="never download: fail if a month is not in the data folder",
        )
    parser.add_argument(
        "--base-url",
        default=None,
        help="TLC mirror (default $RIDE_DURATION_BASE_URL or the TLC CDN)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_months(parser: argparse.ArgumentParser, train: str, val: str, taxi: str) -> None:
    parser.add_argument("--taxi", default=taxi, help=f"{{{','.join(TAXI_TYPES)}}} (default {taxi})")
    months = "a month, a list (2023-01,2023-02) or a range (2023-01..2023-12)"
    parser.add_argument(
        "--train", default=train, metavar="MONTHS", help=f"training {months} (default {train})"
    )
    parser.add_argument(
        "--val", default=val, metavar="MONTHS", help=f"validation {months} (default {val})"
    )


def _add_features(parser: argparse.ArgumentParser) -> None:
    from .features import FEATURE_SETS

    parser.add_argument(
        "--features",
        default="lesson",
        choices=list(FEATURE_SETS),
        help="; ".join(f"{s.name}: {s.description}" for s in FEATURE_SETS.values())
        + " (default lesson)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Predict NYC taxi ride durations from TLC trip records."
    )
    _add_common(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    _train_command(commands)
    _download_command(commands)
    _homework_command(commands)
    _compare_command(commands)
    _plots_command(commands)
    _predict_command(commands)
    _serve_command(commands)
    return parser


def _add_engine(train: argparse.ArgumentParser) -> None:
    """Where and how many rides at a time: the local engine or a Dask cluster."""
    train.add_argument(
        "--engine",
        default="local",
        choices=["local", "dask"],
        help="local (default) or dask: each month's statistics computed on a Dask cluster's "
        "workers, added up and solved here (pip install -e '.[dask]')",
    )
    train.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --engine dask: a running scheduler, e.g. tcp://10.0.0.5:8786 (default: a "
        "LocalCluster sized to this machine); its workers must see --data-dir",
    )
    train.add_argument(
        "--batch-rows",
        type=int,
        help="read months this many rides at a time (default: whole months for one training "
        "month, 1,048,576-ride batches for several)",
    )


def _train_command(commands) -> None:
    train = commands.add_parser(
        "train",
        help="train a model on one month, validate on another, save it to models/",
        description="Train a DictVectorizer + regressor pipeline and save it with a sidecar. "
        "The linear model is the exact least-squares fit (scikit-learn's sparse solver stops "
        "early), with the minimum-norm coefficients scikit-learn converges to.",
    )
    _add_common(train)
    _add_months(train, "2021-01", "2021-02", "green")
    _add_features(train)
    from .features import FEATURE_SETS
    from .modeling.estimators import REGRESSORS

    own_models = [f"{s.default_model} for {s.name}" for s in FEATURE_SETS.values()]
    train.add_argument(
        "--model",
        default=None,
        choices=list(REGRESSORS),
        help=f"regressor (default: the feature set's, {', '.join(own_models)})",
    )
    alphas = [f"{r.default_alpha:g} for {r.name}" for r in REGRESSORS.values() if r.penalised]
    alphas += [
        f"{a:g} for {s.name} {m}" for s in FEATURE_SETS.values() for m, a in s.alphas.items()
    ]
    train.add_argument(
        "--alpha",
        type=float,
        default=None,
        help=f"regularisation strength (default {', '.join(alphas)})",
    )
    names = ", ".join(r.file_name for r in REGRESSORS.values())
    train.add_argument(
        "--name",
        default=None,
        help=f"model file name without extension (default {names}; with the feature set's "
        "prefix, e.g. rich_ridge)",
    )
    train.add_argument(
        "--model-dir",
        type=Path,
        default=MODELS_DIR,
        help="where to write <name>.bin and <name>.json (default: models/)",
    )
    train.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    _add_engine(train)
    _add_fetching(train)
    train.set_defaults(handler=_run_train)


def _download_command(commands) -> None:
    download = commands.add_parser(
        "download",
        help="fetch TLC months (and the zone lookup) into data/, cached and verified",
        description="Download TLC trip-record months. A file already present and valid is not "
        "fetched again; downloads go through a .part file, are checked, then renamed.",
    )
    _add_common(download)
    download.add_argument("--taxi", default="green", help=f"{{{','.join(TAXI_TYPES)}}}")
    download.add_argument(
        "--month",
        action="append",
        default=[],
        metavar="YYYY-MM",
        help="a month to fetch; repeat for several",
    )
    download.add_argument("--zones", action="store_true", help="fetch taxi_zone_lookup.csv")
    download.add_argument(
        "--verify", action="store_true", help="recheck every file in data/MANIFEST.json"
    )
    _add_fetching(download, offline=False)
    download.set_defaults(handler=_run_download)


def _homework_command(commands) -> None:
    homework = commands.add_parser(
        "homework",
        help="answer the week-1 homework for a month pair or a cohort",
        description="Answer the week-1 homework questions (the model: PU and DO zones one-hot, "
        "exact linear regression). --cohort picks that cohort's data and questions; --taxi, "
        "--train and --val override it.",
    )
    _add_common(homework)
    homework.add_argument(
        "--cohort",
        type=int,
        choices=[2022, 2023, 2024, 2025],
        help="2022: fhv 2021-01/02; 2023: yellow 2022-01/02; 2024 and 2025: yellow 2023-01/02",
    )
    homework.add_argument("--taxi", help="taxi type (default yellow, or the cohort's)")
    homework.add_argument("--train", metavar="YYYY-MM", help="training month (default 2023-01)")
    homework.add_argument("--val", metavar="YYYY-MM", help="validation month (default 2023-02)")
    homework.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    _add_fetching(homework)
    homework.set_defaults(handler=_run_homework)


def _compare_command(commands) -> None:
    compare = commands.add_parser(
        "compare",
        help="compare exact linear, scikit-learn's default, Lasso, Ridge, baseline",
        description="Train and validation RMSE of the lesson's models on one pair of months "
        "(nothing is saved).",
    )
    _add_common(compare)
    _add_months(compare, "2021-01", "2021-02", "green")
    compare.add_argument(
        "--features",
        default="lesson",
        choices=["lesson", "homework"],
        help="the course's feature set for the course's models (the rich row is always shown)",
    )
    _add_fetching(compare)
    compare.add_argument("--markdown", action="store_true", help="print a Markdown table")
    compare.set_defaults(handler=_run_compare)


def _plots_command(commands) -> None:
    plots = commands.add_parser(
        "plots",
        help="draw the duration distribution and predicted-vs-actual plots",
        description="Draw images/duration_distribution.png (training month) and "
        "images/prediction_vs_actual.png (validation month) for a saved model.",
    )
    _add_common(plots)
    plots.add_argument(
        "--model",
        type=Path,
        default=MODELS_DIR / "lin_reg.bin",
        help="the model whose months and predictions to plot",
    )
    _add_data_dir(plots)
    plots.add_argument("--out", type=Path, default=FIGURES_DIR, help="folder for the PNGs")
    plots.set_defaults(handler=_run_plots)


def _predict_command(commands) -> None:
    predict = commands.add_parser(
        "predict",
        help="predict one ride's duration, or score a month, with a saved model",
        description="Load a model saved by `train` (checked against its sidecar) and predict "
        "one ride from its zones and distance, or score a whole month with --month.",
    )
    _add_common(predict)
    predict.add_argument(
        "--model",
        type=Path,
        default=MODELS_DIR / "lin_reg.bin",
        help="the .bin written by train (default: models/lin_reg.bin)",
    )
    predict.add_argument("--pu", type=int, help="pickup zone (PULocationID)")
    predict.add_argument("--do", type=int, help="dropoff zone (DOLocationID)")
    predict.add_argument("--distance", type=float, help="trip distance in miles")
    predict.add_argument(
        "--pickup",
        metavar="DATETIME",
        help="pickup time, e.g. 2021-02-01T08:15 (rich models use its hour and weekday)",
    )
    predict.add_argument("--taxi", default="green", help="with --month: the taxi type")
    predict.add_argument("--month", metavar="YYYY-MM", help="score this month instead")
    predict.add_argument(
        "--output",
        type=Path,
        help="with --month: write one row per ride (ride_id, zones, actual and predicted "
        "duration, model_version) to this parquet file",
    )
    _add_fetching(predict)
    predict.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    predict.set_defaults(handler=_run_predict)


def _serve_command(commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve a saved model as a web service: POST /predict, GET /health, GET /model",
        description="Serve a model saved by `train` over HTTP (FastAPI on uvicorn). POST "
        '/predict with {"PULocationID": 43, "DOLocationID": 151, "trip_distance": 1.8} answers '
        '{"duration": ..., "model_version": ...}; a JSON array of rides answers "durations". '
        "OpenAPI docs at /docs.",
    )
    _add_common(serve)
    serve.add_argument(
        "--model",
        type=Path,
        default=MODELS_DIR / "lin_reg.bin",
        help="the .bin written by train (default: models/lin_reg.bin)",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=9696, help="port (default 9696)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument(
        "--no-access-log", action="store_true", help="do not log each request (for load tests)"
    )
    serve.set_defaults(handler=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    import shutil
    import socket
    import tempfile

    from .service import MODEL_ENV, snapshot_model

    if not 0 <= args.port <= 65535 or args.workers < 1:
        raise RideDurationError("--port must be 0 to 65535 and --workers at least 1")
    # The model is checked here, before any port is bound, and every worker serves this
    # checked copy: a model replaced on disk while the service runs (or while its workers
    # start) changes nothing until the next start.
    snapshot_dir = Path(tempfile.mkdtemp(prefix="ride-duration-serve-"))
    try:
        model = snapshot_model(args.model, snapshot_dir)
        try:
            with socket.create_server((args.host, args.port)):
                pass
        except OSError as exc:
            raise RideDurationError(
                f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc})"
            ) from None
        import uvicorn

        os.environ[MODEL_ENV] = str(model)
        uvicorn.run(
            "ride_duration.service:app_from_environment",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            access_log=not args.no_access_log,
            log_level="info",
        )
    finally:
        shutil.rmtree(snapshot_dir, ignore_errors=True)
    return 0


def _run_train(args: argparse.Namespace) -> int:
    from .modeling.train import TrainOptions, train

    options = TrainOptions(
        taxi=args.taxi,
        train_month=args.train,
        val_month=args.val,
        features=args.features,
        model=args.model,
        alpha=args.alpha,
        data_dir=args.data_dir,
        model_dir=args.model_dir,
        name=args.name,
        offline=args.offline,
        base_url=args.base_url,
        quiet=args.quiet,
        engine=args.engine,
        scheduler=args.scheduler,
        batch_rows=args.batch_rows,
    )
    result = train(options)
    for note in result.warnings:
        print(f"{PROG}: warning: {note}", file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {**result.metrics, "model_path": str(result.model_path), "rows": result.reports}
            )
        )
        return 0
    meta, metrics = result.metadata, result.metrics
    rows = [
        ("taxi", meta["taxi"]),
        ("train / val month", f"{meta['train_month']} / {meta['val_month']}"),
        ("features", f"{meta['features']['set']} ({metrics['n_features']} columns)"),
        ("model", _model_label(meta["model"])),
        ("rows kept (train)", _kept(result.reports["train"])),
        ("rows kept (val)", _kept(result.reports["val"])),
        ("train RMSE", f"{metrics['train_rmse']:.4f} min"),
        ("val RMSE", f"{metrics['val_rmse']:.4f} min"),
        ("baseline val RMSE", f"{metrics['baseline_rmse']:.4f} min (predict the training mean)"),
        *(
            [("distance weight", f"{metrics['distance_weight']:.5f} min per mile")]
            if metrics.get("distance_weight") is not None
            else []
        ),
        ("saved", str(result.model_path)),
    ]
    rows += _rule_rows(result.reports)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0


def _run_homework(args: argparse.Namespace) -> int:
    from .homework import COHORTS, answer_table, answers

    cohort = COHORTS.get(args.cohort)
    train_month = args.train or (cohort.train_month if cohort else "2023-01")
    val_month = args.val or (cohort.val_month if cohort else "2023-02")
    _warn_month_order(train_month, val_month)
    result = answers(
        args.taxi or (cohort.taxi if cohort else "yellow"),
        train_month,
        val_month,
        args.data_dir,
        cohort=args.cohort,
        offline=args.offline,
        base_url=args.base_url,
        quiet=args.quiet,
    )
    if args.json:
        print(json.dumps(result))
    else:
        print(answer_table(result, args.cohort).to_string(index=False))
    return 0


def _run_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from .dataset import check_taxi, load_months, parse_months
    from .download import ensure_month
    from .modeling.compare import compare_models

    taxi, specs = check_taxi(args.taxi), [args.train, args.val]
    _warn_month_order(args.train, args.val)
    for month in dict.fromkeys(m for spec in specs for m in parse_months(spec)):
        ensure_month(
            taxi,
            month,
            args.data_dir,
            base_url=args.base_url,
            offline=args.offline,
            quiet=args.quiet,
        )
    frames = [load_months(taxi, spec, args.data_dir)[0] for spec in specs]
    table = compare_models(*frames, features=args.features)
    if args.markdown:
        print("| model | train RMSE | val RMSE | min per mile |\n|---|---:|---:|---:|")
        for model, row in table.iterrows():
            weight = "" if pd.isna(row["min per mile"]) else f"{row['min per mile']:.5f}"
            print(f"| {model} | {row['train RMSE']:.4f} | {row['val RMSE']:.4f} | {weight} |")
    else:
        print(table.to_string(float_format=lambda v: f"{v:.5f}"))
    return 0


def _warn_month_order(train: str, val: str) -> None:
    from .dataset import month_order_note, parse_months

    if note := month_order_note(parse_months(train), parse_months(val)):
        print(f"{PROG}: warning: {note}", file=sys.stderr)


def _run_plots(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plots
    from .dataset import duration_minutes, parse_months, read_month
    from .modeling.artifact import read_metadata
    from .modeling.predict import score_month

    meta = read_metadata(args.model)
    # A model trained on several months is pictured on the first of each.
    taxi = meta["taxi"]
    train_month, val_month = (parse_months(meta[k])[0] for k in ("train_month", "val_month"))
    minutes = duration_minutes(read_month(taxi, train_month, args.data_dir))
    figure = plots.duration_distribution(
        minutes, title=f"{taxi} {train_month}: ride durations"
    ).figure
    print(plots.save(figure, args.out / "duration_distribution.png"))
    plt.close(figure)
    scored = score_month(args.model, taxi, val_month, args.data_dir, keep_predictions=True)
    axes = plots.prediction_vs_actual(
        scored["actual"],
        scored["predicted"],
        title=f"{taxi} {val_month}",
        unseen=scored.get("unseen_pair"),
    )
    print(plots.save(axes[0].figure, args.out / "prediction_vs_actual.png"))
    plt.close(axes[0].figure)
    return 0


def _run_predict(args: argparse.Namespace) -> int:
    from .modeling import predict

    if args.output and not args.month:
        raise RideDurationError("--output goes with --month: it holds a month's predictions")
    if args.month:
        from .dataset import month_path
        from .download import ensure_month

        if args.output:
            scored = month_path(args.taxi, args.month, args.data_dir)
            predict.check_output(args.output, [scored, Path(args.model)])

        ensure_month(
            args.taxi,
            args.month,
            args.data_dir,
            base_url=args.base_url,
            offline=args.offline,
            quiet=args.quiet,
        )
        result = predict.score_month(
            args.model, args.taxi, args.month, args.data_dir, output=args.output
        )
        text = (
            f"{result['taxi']} {result['month']}: RMSE {result['rmse']:.4f} min "
            f"on {result['n_rows']:,} rides"
        ) + (f"; predictions written to {result['output']}" if args.output else "")
    elif args.pu is not None and args.do is not None:
        minutes = predict.predict_ride(args.model, args.pu, args.do, args.distance, args.pickup)
        result = {
            "pu": args.pu,
            "do": args.do,
            "distance": args.distance,
            "pickup": args.pickup,
            "minutes": minutes,
        }
        text = f"{minutes:.1f} minutes"
    else:
        raise RideDurationError("give --pu and --do (and --distance), or --month YYYY-MM")
    print(json.dumps(result) if args.json else text)
    return 0


def _run_download(args: argparse.Namespace) -> int:
    from . import download
    from .dataset import check_taxi, parse_month

    if not (args.month or args.zones or args.verify):
        raise RideDurationError("say what to fetch: --month YYYY-MM, --zones or --verify")
    # Validate every argument before any URL is built or byte fetched.
    taxi = check_taxi(args.taxi)
    months = [parse_month(m) for m in args.month]
    for month in months:
        path = download.ensure_month(
            taxi, month, args.data_dir, base_url=args.base_url, quiet=args.quiet
        )
        print(path)
    if args.zones:
        print(download.ensure_zones(args.data_dir, base_url=args.base_url, quiet=args.quiet))
    if args.verify:
        results = download.verify(args.data_dir)
        for name, status in results:
            print(f"{status:<8} {name}")
        bad = [name for name, status in results if status != "ok"]
        if not results:
            print(f"no downloads recorded in {args.data_dir / download.MANIFEST_FILE}")
        if bad:
            raise RideDurationError(
                f"{len(bad)} file(s) changed, corrupt or missing: {', '.join(bad)}"
            )
    return 0


RULES = {
    "dropped_missing_time": "dropped: a timestamp missing",
    "dropped_negative": "dropped: dropoff before pickup",
    "dropped_too_short": "dropped: under 1 minute",
    "dropped_too_long": "dropped: over 60 minutes",
    "dropped_missing_feature": "dropped: distance missing or not finite",
    "flagged_missing_location": "kept: zone missing (-> -1)",
    "flagged_bad_distance": "kept: distance implausible (< 0 or > 100 mi)",
    "flagged_outside_month": "kept: pickup outside the month",
}


def _rule_rows(reports: dict) -> list[tuple[str, str]]:
    """One line per data rule that touched any row: train count / val count."""
    return [
        (label, f"{reports['train'][key]:,} / {reports['val'][key]:,} (train / val)")
        for key, label in RULES.items()
        if reports["train"][key] or reports["val"][key]
    ]


def _model_label(model: dict) -> str:
    alpha = model["params"].get("alpha")
    return f"{model['kind']} ({model['solver']}" + (f", alpha={alpha:g})" if alpha else ")")


def _kept(report: dict) -> str:
    return f"{report['rows_kept']:,} of {report['rows_read']:,} ({report['fraction_kept']:.2%})"


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled as Ctrl-C is: cleanup runs, then exit 128 + the signal."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    # Let memory that Arrow frees after converting a month go back to the allocator NumPy
    # uses, instead of Arrow's own pool keeping it (read before pyarrow is imported).
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    parser = build_parser()
    args = parser.parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupted)
    try:
        return args.handler(args)
    except (RideDurationError, OSError) as exc:
        # OSError here is the file system's or the OS's answer (permission denied, disk full,
        # a name too long, a folder where a file should be): the user's to fix, not a bug.
        if args.debug:
            traceback.print_exc()
        print(f"{PROG}: error: {_describe(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"{PROG}: interrupted ({signal.Signals(signum).name})", file=sys.stderr)
        return 128 + signum


def _describe(exc: Exception) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, RideDurationError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    return str(exc)
