"""The ``ride-duration`` command line's arguments: one function per subcommand, each naming
its handler in ``commands``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import DATA_DIR, FIGURES_DIR, MODELS_DIR, REPORTS_DIR, TAXI_TYPES
from . import commands as handlers
from . import operate as operating
from .commands import PROG


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


def _add_model_file(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--model", type=Path, default=MODELS_DIR / "lin_reg.bin", help=help)


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
    from ..features import FEATURE_SETS

    parser.add_argument(
        "--features",
        default="lesson",
        choices=list(FEATURE_SETS),
        help="; ".join(f"{s.name}: {s.description}" for s in FEATURE_SETS.values())
        + " (default lesson)",
    )


def _add_tracking(parser: argparse.ArgumentParser, register: bool = False) -> None:
    """Where MLflow runs and registered models live (the [mlflow] extra)."""
    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow tracking store (default $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in "
        "the project root)",
    )
    if register:
        parser.add_argument(
            "--registered-model",
            default="nyc-taxi-regressor",
            metavar="NAME",
            help="the registered model's name (default nyc-taxi-regressor)",
        )


def _add_track_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--track",
        action="store_true",
        help=f"log {what} to MLflow, experiment nyc-taxi-experiment (pip install -e '.[mlflow]')",
    )
    parser.add_argument(
        "--experiment", default="nyc-taxi-experiment", help="MLflow experiment name"
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
    _promote_command(commands)
    _monitor_command(commands)
    _retrain_command(commands)
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
    from ..features import FEATURE_SETS
    from ..modeling.estimators import REGRESSORS

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
    _add_track_flag(train, "one run: params, metrics, the model and its sidecar, plots, tags")
    train.add_argument(
        "--register",
        action="store_true",
        help="with --track: register the run's model as a new version, alias challenger",
    )
    _add_tracking(train, register=True)
    _add_engine(train)
    _add_fetching(train)
    train.set_defaults(handler=handlers.run_train)


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
    download.set_defaults(handler=handlers.run_download)


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
    homework.set_defaults(handler=handlers.run_homework)


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
    _add_track_flag(compare, "one run per model compared (params and metrics)")
    _add_tracking(compare)
    compare.set_defaults(handler=handlers.run_compare)


def _plots_command(commands) -> None:
    plots = commands.add_parser(
        "plots",
        help="draw the duration distribution and predicted-vs-actual plots",
        description="Draw images/duration_distribution.png (training month) and "
        "images/prediction_vs_actual.png (validation month) for a saved model.",
    )
    _add_common(plots)
    _add_model_file(plots, "the model whose months and predictions to plot")
    _add_data_dir(plots)
    plots.add_argument("--out", type=Path, default=FIGURES_DIR, help="folder for the PNGs")
    plots.set_defaults(handler=handlers.run_plots)


def _predict_command(commands) -> None:
    predict = commands.add_parser(
        "predict",
        help="predict one ride's duration, or score a month, with a saved model",
        description="Load a model saved by `train` (checked against its sidecar) and predict "
        "one ride from its zones and distance, or score a whole month with --month.",
    )
    _add_common(predict)
    _add_model_file(predict, "the .bin written by train (default: models/lin_reg.bin)")
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
    predict.add_argument(
        "--level",
        type=float,
        default=0.8,
        help="coverage of the prediction interval, between 0 and 1 (default 0.8: the 10th to "
        "the 90th percentile)",
    )
    predict.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    predict.set_defaults(handler=handlers.run_predict)


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
        default=str(MODELS_DIR / "lin_reg.bin"),
        help="the .bin written by train (default: models/lin_reg.bin), or a registered model's "
        "alias, models:/nyc-taxi-regressor@champion, followed while serving",
    )
    serve.add_argument(
        "--poll-seconds",
        type=float,
        default=5.0,
        help="with a models:/NAME@ALIAS: how often to ask the registry where the alias points "
        "(default 5)",
    )
    _add_tracking(serve)
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=None, help="port (default $RIDE_DURATION_PORT, else 9696)"
    )
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument(
        "--no-access-log", action="store_true", help="do not log each request (for load tests)"
    )
    serve.set_defaults(handler=handlers.run_serve)


def _promote_command(commands) -> None:
    promote = commands.add_parser(
        "promote",
        help="move the registry's champion alias to a version (default: the challenger)",
        description="Set alias champion of the registered model to VERSION, or to the version "
        "aliased challenger. `serve --model models:/nyc-taxi-regressor@champion` follows it.",
    )
    _add_common(promote)
    promote.add_argument("version", nargs="?", metavar="VERSION", help="a version number")
    _add_tracking(promote, register=True)
    promote.set_defaults(handler=handlers.run_promote)


def _add_thresholds(parser: argparse.ArgumentParser) -> None:
    from ..operate.monitor import Thresholds

    defaults = Thresholds()
    meaning = {
        "rmse_ratio": "the month's RMSE over the model's validation RMSE",
        "prediction_drift": "Wasserstein distance of the predictions / the reference's std",
        "input_drift": "the same for duration and distance",
        "category_psi": "PSI of pickup zone, dropoff zone or hour of the week",
        "missing_increase": "rise of a field's share of missing values",
    }
    for name in Thresholds.names():
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            type=float,
            default=getattr(defaults, name),
            metavar="X",
            help=f"threshold: {meaning[name]} (default {getattr(defaults, name):g})",
        )


def _add_reports_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reports-dir",
        type=Path,
        default=REPORTS_DIR,
        help="where monitor_<taxi>_<month>.html and .json go (default: reports/)",
    )


def _monitor_command(commands) -> None:
    monitor = commands.add_parser(
        "monitor",
        help="score a new month and compare it with the model's training months: errors, drift",
        description="Score MONTH with a model and compare it with the model's training months "
        "(the reference): RMSE and MAE overall and per day, drift of the prediction and of "
        "each input, shares of missing values. Writes reports/monitor_<taxi>_<month>.html and "
        ".json. Exit 0 within the thresholds, 3 when one is crossed, 2 on errors.",
    )
    _add_common(monitor)
    monitor.add_argument("--month", required=True, metavar="YYYY-MM", help="the month to watch")
    monitor.add_argument("--taxi", default=None, help="taxi type (default: the model's)")
    monitor.add_argument(
        "--model",
        default=str(MODELS_DIR / "lin_reg.bin"),
        help="a saved .bin, or a registered model: models:/nyc-taxi-regressor@champion "
        "(default models/lin_reg.bin)",
    )
    _add_thresholds(monitor)
    _add_reports_dir(monitor)
    _add_track_flag(monitor, "the month's metrics and report to the model's run")
    _add_tracking(monitor)
    monitor.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    _add_fetching(monitor)
    monitor.set_defaults(handler=operating.run_monitor)


def _retrain_command(commands) -> None:
    retrain = commands.add_parser(
        "retrain",
        help="one step of continuous training (or --backfill the loop over months)",
        description="Monitor the registry's champion on MONTH; when a threshold is crossed (or "
        "with --always), train a challenger on the months before it (the last --window present, "
        "streamed), score both on MONTH and promote the challenger only if its RMSE is lower. "
        "The decision goes to MLflow (tags) and to the month's report. --backfill A..B runs it "
        "month by month over the months present and draws one figure.",
    )
    _add_common(retrain)
    which = retrain.add_mutually_exclusive_group()
    which.add_argument("--month", metavar="YYYY-MM", help="the new month")
    which.add_argument("--backfill", metavar="A..B", help="every month present from A to B")
    retrain.add_argument("--taxi", default="green", help="taxi type (default green)")
    retrain.add_argument(
        "--window", type=int, default=3, help="train on the last N months present (default 3)"
    )
    retrain.add_argument(
        "--always", action="store_true", help="train a challenger even within the thresholds"
    )
    _add_features(retrain)
    retrain.add_argument(
        "--model-dir", type=Path, default=MODELS_DIR, help="where challengers are saved"
    )
    retrain.add_argument(
        "--figure", type=Path, help="with --backfill: also save the figure here (a .png)"
    )
    _add_thresholds(retrain)
    _add_reports_dir(retrain)
    _add_tracking(retrain, register=True)
    retrain.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    _add_fetching(retrain)
    retrain.set_defaults(handler=operating.run_retrain)
