"""The arguments of the commands that operate a model: serve, promote, monitor, retrain, loop,
card."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import MODELS_DIR, REPORTS_DIR
from . import commands as handlers
from . import loop as handlers_loop
from . import operate as operating
from .parser import (
    _add_common,
    _add_features,
    _add_fetching,
    _add_json,
    _add_taxi,
    _add_track_flag,
    _add_tracking,
)


def operate_commands(commands) -> None:
    for add in (
        _serve_command,
        _promote_command,
        _monitor_command,
        _retrain_command,
        _loop_command,
        _card_command,
    ):
        add(commands)


def _card_command(commands) -> None:
    card = commands.add_parser(
        "card",
        help="write a model's card (Markdown): what it predicts, its data, metrics, features, "
        "provenance, registry facts and known limits",
        description="The card of a saved model (a .bin) or a registered version (models:/...): "
        "what it predicts and for which taxi type; its training and validation months with "
        "each file's sha256 and the rides each rule kept and dropped; its metrics and "
        "intervals; its feature set; the library versions and git commit that made it; for a "
        "registered version its aliases, who promoted it and when, and the retrain decision "
        "that made it; its known limits. Printed, or written to --output.",
    )
    _add_common(card)
    card.add_argument(
        "model",
        metavar="MODEL",
        help="a .bin written by train, or models:/NAME@ALIAS or models:/NAME/VERSION",
    )
    card.add_argument("--output", type=Path, metavar="FILE.md", help="write the card here")
    _add_tracking(card)
    card.set_defaults(handler=operating.run_card)


def _serve_command(commands) -> None:
    from ..serving.options import DEFAULT_HOST, DEFAULT_PORT, PORT_ENV, ServeOptions

    defaults = ServeOptions()
    serve = commands.add_parser(
        "serve",
        help="serve a saved model as a web service: POST /predict, GET /health, GET /model, "
        "GET /metrics",
        description="Serve a model saved by `train` over HTTP (FastAPI on uvicorn). POST "
        '/predict with {"PULocationID": 43, "DOLocationID": 151, "trip_distance": 1.8} answers '
        '{"duration": ..., "model_version": ...}; a JSON array of rides answers "durations". '
        "OpenAPI docs at /docs. Every scored ride is recorded under --log-dir; GET /metrics "
        "answers Prometheus.",
    )
    _add_common(serve)
    serve.add_argument(
        "--model",
        default=defaults.model,
        help="the .bin written by train (default: models/lin_reg.bin), or a registered model's "
        "alias, models:/nyc-taxi-regressor@champion, followed while serving",
    )
    serve.add_argument(
        "--poll-seconds",
        type=float,
        default=defaults.poll_seconds,
        help="with a models:/NAME@ALIAS: how often to ask the registry where the alias points "
        f"(default {defaults.poll_seconds:g})",
    )
    _add_tracking(serve)
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})"
    )
    serve.add_argument(
        "--port", type=int, default=None, help=f"port (default ${PORT_ENV}, else {DEFAULT_PORT})"
    )
    serve.add_argument(
        "--workers", type=int, default=defaults.workers, help="worker processes (default 1)"
    )
    serve.add_argument(
        "--no-access-log", action="store_true", help="do not log each request (for load tests)"
    )
    serve.add_argument(
        "--log-dir",
        help="record every scored ride here, as Parquet files by date (default "
        "$RIDE_DURATION_LOG_DIR, else logs/predictions; `monitor --live` reads them)",
    )
    serve.add_argument("--no-log", action="store_true", help="record nothing (no prediction log)")
    serve.add_argument(
        "--no-metrics", action="store_true", help="no GET /metrics (Prometheus' text format)"
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
    """A flag per registered monitored statistic, holding its threshold (checked by the
    library: ``Statistic.parse``)."""
    from ..monitoring.statistics import STATISTICS

    for statistic in STATISTICS.values():
        form = "LOW..HIGH" if statistic.is_band else "X"
        parser.add_argument(
            statistic.flag,
            dest=statistic.name,
            default=None,
            metavar=form,
            # argparse formats help with %: a description saying "80%" must not break it.
            help=f"threshold: {statistic.description} (default "
            f"{statistic.show(statistic.default)})".replace("%", "%%"),
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
        help="score a new month (or read the live traffic) and compare it with the model's "
        "training months: errors, drift",
        description="Score MONTH with a model and compare it with the model's training months "
        "(the reference): RMSE and MAE overall and per day, drift of the prediction and of "
        "each input, shares of missing values. Writes reports/monitor_<taxi>_<month>.html and "
        ".json. With --live DIR, the rides the service recorded there instead (no outcomes "
        "yet: drift only), into reports/monitor_<taxi>_live.*. Exit 0 within the thresholds, "
        "3 when one is crossed, 2 on errors.",
    )
    _add_common(monitor)
    watched = monitor.add_mutually_exclusive_group(required=True)
    watched.add_argument("--month", metavar="YYYY-MM", help="the month to watch")
    watched.add_argument(
        "--live",
        type=Path,
        metavar="DIR",
        help="the service's prediction log (serve --log-dir; logs/predictions by default)",
    )
    monitor.add_argument(
        "--since",
        metavar="WHEN",
        help="with --live: rides recorded from then on, a time ago (30m, 6h, 2d, 1w) or an "
        "ISO date or time, UTC (default: every ride recorded)",
    )
    monitor.add_argument(
        "--until",
        metavar="WHEN",
        help="with --live: rides recorded before then (the same forms as --since)",
    )
    _add_taxi(monitor, None, "default: the model's")
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
    _add_json(monitor)
    _add_fetching(monitor)
    monitor.set_defaults(handler=operating.run_monitor)


def _add_retraining(parser: argparse.ArgumentParser) -> None:
    """What a step of the loop retrains on and with: retrain's and loop's options."""
    from ..operate.retrain import Retrain

    defaults = Retrain()
    _add_taxi(parser, defaults.taxi)
    parser.add_argument(
        "--window",
        type=int,
        default=defaults.window,
        help=f"train on the last N months present (default {defaults.window})",
    )
    parser.add_argument(
        "--always", action="store_true", help="train a challenger even within the thresholds"
    )
    _add_features(parser)
    parser.add_argument(
        "--model-dir", type=Path, default=defaults.model_dir, help="where challengers are saved"
    )
    _add_thresholds(parser)
    _add_reports_dir(parser)
    _add_tracking(parser, register=True)


def _loop_command(commands) -> None:
    from ..orchestrate.settings import DEFAULT_CRON

    loop = commands.add_parser(
        "loop",
        help="the retraining loop on a schedule, on Prefect (pip install -e '.[orchestrate]')",
        description="Each month a Prefect flow run: find the month after the last one decided, "
        "ask TLC whether it is published, download it, monitor the champion, train a "
        "challenger and promote it only if better, publish the outcome as artifacts. Without "
        "a Prefect server (PREFECT_API_URL) runs use Prefect's ephemeral mode.",
    )
    _add_common(loop)
    steps = loop.add_subparsers(dest="step", metavar="STEP", parser_class=type(loop))
    steps.required = True
    serve = steps.add_parser("serve", help="serve the schedule until SIGTERM or Ctrl-C")
    _add_common(serve)
    when = serve.add_mutually_exclusive_group()
    when.add_argument(
        "--cron", help=f"when to run, as cron (default {DEFAULT_CRON!r}: 06:00 on the 3rd)"
    )
    when.add_argument(
        "--interval", type=float, metavar="SECONDS", help="run every so many seconds instead"
    )
    run = steps.add_parser("run", help="run the flow now: one month, or each month of a range")
    _add_common(run)
    which = run.add_mutually_exclusive_group()
    which.add_argument("--month", metavar="YYYY-MM", help="this month")
    which.add_argument("--backfill", metavar="A..B", help="every month present from A to B")
    for parser, handler in ((serve, handlers_loop.serve_loop), (run, handlers_loop.run_loop)):
        _add_retraining(parser)
        parser.add_argument(
            "--start",
            metavar="YYYY-MM",
            help="the first month to watch when none was decided (default: the one after the "
            "newest month in the data folder)",
        )
        _add_fetching(parser)
        parser.set_defaults(handler=handler)


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
    retrain.add_argument(
        "--figure", type=Path, help="with --backfill: also save the figure here (a .png)"
    )
    _add_retraining(retrain)
    _add_json(retrain)
    _add_fetching(retrain)
    retrain.set_defaults(handler=operating.run_retrain)
