"""Handlers of the commands that operate a model: ``monitor`` and ``retrain``."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from ..errors import RideDurationError
from .commands import PROG, draw_to_files, ensure_months, tracking_store

ALERT = 3  # a threshold was crossed: the exit code schedulers react to


def thresholds(args: argparse.Namespace):
    from ..operate.monitor import Thresholds

    given = {name: getattr(args, name) for name in Thresholds.names()}
    for name, value in given.items():
        if not value > 0:
            raise RideDurationError(f"--{name.replace('_', '-')} must be positive, not {value}")
    return Thresholds(**given)


def run_monitor(args: argparse.Namespace) -> int:
    from ..data.dataset import check_taxi, parse_month
    from ..operate.models import open_model
    from ..operate.monitor import check_model_taxi, monitor, needed_months
    from ..operate.tracked import file_report

    draw_to_files()
    month, limits = parse_month(args.month), thresholds(args)
    store = tracking_store(args) if args.track else None
    with tempfile.TemporaryDirectory(prefix="ride-duration-monitor-") as folder:
        named = open_model(args.model, Path(folder), args.tracking_uri, store)
        taxi = check_taxi(args.taxi or named.metadata["taxi"])
        check_model_taxi(named.metadata, taxi, named.label)  # before any month is fetched
        ensure_months(args, taxi, needed_months(named.metadata, month))
        result = monitor(named.path, month, args.data_dir, taxi, limits)
        files, run_id = file_report(result, named, args.reports_dir, store)
        if store is not None:
            result["mlflow_run_id"] = run_id
            if run_id is None:
                warn(f"no MLflow run in {store.uri} logged this model: the report is all")
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k not in ("drift", "per_day")}))
    else:
        print(monitor_summary(result, files))
    return ALERT if result["crossed"] else 0


def monitor_summary(result: dict, files) -> str:
    current, reference = result["current"], result["reference"]
    lines = [
        f"{result['taxi']} {result['month']} with {result['model']['label']}: RMSE "
        f"{current['rmse']:.4f} min (validation {reference['val_rmse']:.4f}), MAE "
        f"{current['mae']:.4f}, on {current['rides']:,} rides",
    ]
    if result["crossed"]:
        lines.append("thresholds crossed: " + "; ".join(result["crossed"]))
    else:
        lines.append("within every threshold")
    lines.append("report: " + ", ".join(str(f) for f in files))
    return "\n".join(lines)


def warn(text: str) -> None:
    print(f"{PROG}: warning: {text}", file=sys.stderr)


def run_retrain(args: argparse.Namespace) -> int:
    from ..data.dataset import check_taxi, parse_month, parse_months
    from ..operate.retrain import Retrain, backfill, retrain

    draw_to_files()
    if bool(args.month) == bool(args.backfill):
        raise RideDurationError("give --month YYYY-MM (one step) or --backfill A..B (the loop)")
    if not 1 <= args.window <= 120:
        raise RideDurationError(f"--window must be 1 to 120 months, not {args.window}")
    options = Retrain(
        taxi=check_taxi(args.taxi),
        data_dir=args.data_dir,
        model_dir=args.model_dir,
        reports_dir=args.reports_dir,
        window=args.window,
        always=args.always,
        limits=thresholds(args),
        registered_model=args.registered_model,
        features=args.features,
    )
    months = [parse_month(args.month)] if args.month else parse_months(args.backfill)
    store = tracking_store(args, "retrain")
    if args.month:
        ensure_months(args, options.taxi, months)
        decisions, skipped = [retrain(store, months[0], options)], []
    else:
        decisions, skipped = backfill(store, args.backfill, options)
    figure = _backfill_figure(args, options, decisions, skipped) if args.backfill else None
    if args.json:
        document = {"decisions": [d.as_dict() for d in decisions], "skipped": skipped}
        print(json.dumps(document | ({"figure": [str(f) for f in figure]} if figure else {})))
        return 0
    for decision in decisions:
        print(decision.line())
    if skipped:
        print(f"skipped: {', '.join(skipped)}")
    if figure:
        print("figure: " + ", ".join(str(f) for f in figure))
    return 0


def _backfill_figure(args, options, decisions, skipped) -> list[Path]:
    from ..reports.monitoring import backfill_figure
    from ..reports.plots import save

    first, last = decisions[0].month, decisions[-1].month
    title = f"Retraining {options.taxi} {first}..{last}: the champion on each new month"
    figure = backfill_figure(decisions, skipped, title)
    paths = [save(figure, options.reports_dir / f"backfill_{options.taxi}_{first}_{last}.png")]
    if args.figure:
        paths.append(save(figure, args.figure))
    return paths
