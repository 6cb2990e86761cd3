"""The ``ride-duration`` command line's arguments: one function per subcommand, each naming
its handler. Defaults come from the library (the options types and registries), so that
``--help`` shows what a library caller gets; checks beyond a value's type are the library's
too (each options type's ``validated()``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import DATA_DIR, FIGURES_DIR, MODELS_DIR, TAXI_TYPES
from ..modeling.intervals import LEVEL
from ..modeling.options import BATCH_ROWS, TrainOptions
from ..tracking.store import EXPERIMENT, REGISTERED_MODEL
from . import commands as handlers
from .commands import PROG

TRAIN = TrainOptions()


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (``prog: error: ...``) and exit code 2: the
    usage it would print first is what ``--help`` is for."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


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


def _add_taxi(parser: argparse.ArgumentParser, default: str | None, what: str = "") -> None:
    shown = f"default {default}" if default else what
    parser.add_argument("--taxi", default=default, help=f"{{{','.join(TAXI_TYPES)}}} ({shown})")


def _add_months(parser: argparse.ArgumentParser) -> None:
    _add_taxi(parser, TRAIN.taxi)
    months = "a month, a list (2023-01,2023-02) or a range (2023-01..2023-12)"
    for flag, default in (("train", TRAIN.train_month), ("val", TRAIN.val_month)):
        role = "training" if flag == "train" else "validation"
        parser.add_argument(
            f"--{flag}",
            default=default,
            metavar="MONTHS",
            help=f"{role} {months} (default {default})",
        )


def _add_features(parser: argparse.ArgumentParser) -> None:
    from ..features import FEATURE_SETS

    parser.add_argument(
        "--features",
        default=TRAIN.features,
        choices=list(FEATURE_SETS),
        help="; ".join(f"{s.name}: {s.description}" for s in FEATURE_SETS.values())
        + f" (default {TRAIN.features})",
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
            default=REGISTERED_MODEL,
            metavar="NAME",
            help=f"the registered model's name (default {REGISTERED_MODEL})",
        )


def _add_track_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--track",
        action="store_true",
        help=f"log {what} to MLflow, experiment {EXPERIMENT} (pip install -e '.[mlflow]')",
    )
    parser.add_argument(
        "--experiment", default=EXPERIMENT, help=f"MLflow experiment name (default {EXPERIMENT})"
    )


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def build_parser() -> argparse.ArgumentParser:
    from .parser_operate import operate_commands

    parser = Parser(prog=PROG, description="Predict NYC taxi ride durations from TLC trip records.")
    _add_common(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    for add in (
        _train_command,
        _download_command,
        _homework_command,
        _compare_command,
        _plots_command,
        _predict_command,
    ):
        add(commands)
    operate_commands(commands)
    return parser


def _add_engine(train: argparse.ArgumentParser) -> None:
    """Where and how many rides at a time: the local engine or a Dask cluster."""
    from ..modeling.options import ENGINES

    train.add_argument(
        "--engine",
        default=TRAIN.engine,
        choices=list(ENGINES),
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
        f"month, {BATCH_ROWS:,}-ride batches for several)",
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
    _add_months(train)
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
    _add_json(train)
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
    _add_taxi(download, TRAIN.taxi)
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
    from ..reports.homework import COHORTS, DEFAULT

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
        choices=list(COHORTS),
        help="; ".join(
            f"{year}: {c.taxi} {c.train_month}/{c.val_month[5:]}" for year, c in COHORTS.items()
        ),
    )
    _add_taxi(homework, None, f"default {DEFAULT.taxi}, or the cohort's")
    for flag, default in (("train", DEFAULT.train_month), ("val", DEFAULT.val_month)):
        role = "training" if flag == "train" else "validation"
        homework.add_argument(
            f"--{flag}", metavar="YYYY-MM", help=f"{role} month (default {default})"
        )
    _add_json(homework)
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
    _add_months(compare)
    compare.add_argument(
        "--features",
        default=TRAIN.features,
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
        help=(
            "pickup time, e.g. 2021-02-01T08:15 (rich models use its hour and weekday; "
            "every model's interval is sharper with it)"
        ),
    )
    _add_taxi(predict, TRAIN.taxi)
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
        default=LEVEL,
        help=f"coverage of the prediction interval, between 0 and 1 (default {LEVEL:g}: the "
        "10th to the 90th percentile)",
    )
    predict.add_argument(
        "--explain",
        action="store_true",
        help="split the prediction into parts that add up to it (the intercept, then each "
        "feature group's minutes and the values it used; an unseen value weighs 0); with "
        "--month, each ride's parts as part_<name> columns of --output",
    )
    _add_json(predict)
    predict.set_defaults(handler=handlers.run_predict)
