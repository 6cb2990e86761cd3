"""Handlers of the commands that operate a model: ``monitor`` and ``retrain``."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from ..errors import RideDurationError
from .commands import draw_to_files, ensure_months, say, tracking_store

ALERT = 3  # a threshold was crossed: the exit code schedulers react to


def thresholds(args: argparse.Namespace):
    """The thresholds the flags give (each parsed and checked by its statistic), the
    defaults for the rest."""
    from ..monitoring.statistics import STATISTICS, Thresholds

    given = {
        name: statistic.parse(getattr(args, name))
        for name, statistic in STATISTICS.items()
        if getattr(args, name, None) is not None
    }
    return Thresholds(**given).validated()


def run_monitor(args: argparse.Namespace) -> int:
    from ..data.months import check_taxi, parse_month, parse_months
    from ..data.recorded import parse_since
    from ..monitoring.live import LIVE, monitor_live
    from ..monitoring.monitor import check_model_taxi, monitor, needed_months
    from ..operate.models import open_model
    from ..operate.tracked import file_report
    from ..reports.monitoring import check_reports_dir

    for flag in ("since", "until"):
        if getattr(args, flag) is not None and args.live is None:
            raise RideDurationError(f"--{flag} reads the live traffic: give it with --live DIR")
    since = parse_since(args.since) if args.since is not None else None
    until = parse_since(args.until, flag="--until") if args.until is not None else None
    month = parse_month(args.month) if args.live is None else LIVE
    limits = thresholds(args)
    draw_to_files()
    store = tracking_store(args) if args.track else None
    with tempfile.TemporaryDirectory(prefix="ride-duration-monitor-") as folder:
        named = open_model(args.model, Path(folder), args.tracking_uri, store)
        taxi = check_taxi(args.taxi or named.metadata["taxi"])
        check_model_taxi(named.metadata, taxi, named.label)  # before any month is fetched
        check_reports_dir(args.reports_dir, taxi, month)
        if args.live is None:
            ensure_months(args, taxi, needed_months(named.metadata, month))
            result = monitor(named.path, month, args.data_dir, taxi, limits, named.label)
        else:
            ensure_months(args, taxi, parse_months(named.metadata["train_month"]))
            result = monitor_live(
                named.path, args.live, args.data_dir, since, until, taxi, limits, named.label
            )
        files, run_id = file_report(result, named, args.reports_dir, store)
    if store is not None and run_id is None:
        warn(f"no MLflow run in {store.uri} logged this model: the report is all")
    if args.json:
        document = {k: v for k, v in result.as_dict().items() if k not in ("drift", "per_day")}
        if store is not None:
            document["mlflow_run_id"] = run_id
        print(json.dumps(document))
    else:
        print(monitor_summary(result, files))
    return ALERT if result.crossed else 0


def monitor_summary(result, files) -> str:
    current, model = result.current, result.model
    if result.live:
        window = result.window
        first, last = (t[:19].replace("T", " ") for t in (window.first, window.last))
        lines = [
            f"{result.taxi} live traffic with {model.label}: {result.rides:,} rides in "
            f"{window.requests:,} requests recorded from {first} to {last} UTC (no outcomes "
            "yet: drift only)"
        ]
    else:
        lines = [
            f"{result.taxi} {result.month} with {model.label}: RMSE {current.rmse:.4f} min "
            f"(validation {model.val_rmse:.4f}), MAE {current.mae:.4f}, on {current.rides:,} "
            "rides",
        ]
    if result.crossed:
        lines.append("thresholds crossed: " + "; ".join(result.crossed))
    else:
        lines.append("within every threshold")
    lines.append("report: " + ", ".join(str(f) for f in files))
    return "\n".join(lines)


def warn(text: str) -> None:
    say("warning", text)


def run_retrain(args: argparse.Namespace) -> int:
    from ..data.months import parse_month, parse_months
    from ..operate.retrain import Retrain, backfill, retrain

    if bool(args.month) == bool(args.backfill):
        raise RideDurationError("give --month YYYY-MM (one step) or --backfill A..B (the loop)")
    options = Retrain(
        taxi=args.taxi,
        data_dir=args.data_dir,
        model_dir=args.model_dir,
        reports_dir=args.reports_dir,
        window=args.window,
        always=args.always,
        limits=thresholds(args),
        registered_model=args.registered_model,
        features=args.features,
    ).validated()
    months = [parse_month(args.month)] if args.month else parse_months(args.backfill)
    figures = _figure_paths(args, options, months) if args.backfill else []
    draw_to_files()
    store = tracking_store(args, "retrain")
    if args.month:
        ensure_months(args, options.taxi, months)
        decisions, skipped = [retrain(store, months[0], options)], []
    else:
        decisions, skipped = backfill(store, args.backfill, options)
    if figures:
        figures = _backfill_figure(options, decisions, skipped, figures)
    if args.json:
        document = {"decisions": [d.as_dict() for d in decisions], "skipped": skipped}
        print(json.dumps(document | ({"figure": [str(f) for f in figures]} if figures else {})))
        return 0
    for decision in decisions:
        print(decision.line())
    if skipped:
        print(f"skipped: {', '.join(skipped)}")
    if figures:
        print("figure: " + ", ".join(str(f) for f in figures))
    return 0


def _figure_paths(args, options, months: list[str]) -> list[Path]:
    """Where the backfill's figure goes (the reports folder, and --figure): checked before
    any month is retrained (``files.check_output``)."""
    from ..files import check_output

    first, last = months[0], months[-1]
    paths = [options.reports_dir / f"backfill_{options.taxi}_{first}_{last}.png"]
    if options.reports_dir.is_dir():
        check_output(paths[0], "--reports-dir", (".png",))
    if args.figure:
        paths.append(check_output(args.figure, "--figure", (".png",)))
    return paths


def _backfill_figure(options, decisions, skipped, paths: list[Path]) -> list[Path]:
    from ..reports.monitoring import backfill_figure
    from ..reports.plots import save

    first, last = decisions[0].month, decisions[-1].month
    title = f"Retraining {options.taxi} {first}..{last}: the champion on each new month"
    figure = backfill_figure(decisions, skipped, title)
    return [save(figure, path) for path in paths]


def run_card(args: argparse.Namespace) -> int:
    from ..files import atomic_write, check_output
    from ..operate.models import open_model
    from ..reports.card import model_card
    from ..tracking.registry import versions
    from ..uris import is_model_uri

    model = str(args.model)
    if args.output is not None:  # before any work: never a model, a month, a folder
        check_output(args.output, "--output", (".md",), [] if is_model_uri(model) else [model])
    store = tracking_store(args, f"--model {model}") if is_model_uri(model) else None
    with tempfile.TemporaryDirectory(prefix="ride-duration-card-") as folder:
        named = open_model(model, Path(folder), store=store)
        version = named.version
        if version is not None:  # its aliases and tags as they are now
            listed = versions(store, version.name)
            version = next((v for v in listed if v.version == version.version), version)
        text = model_card(named.metadata, named.label, version)
    if args.output is None:
        print(text, end="")
    else:
        atomic_write(Path(args.output), text.encode())
        print(f"model card of {named.label} written to {args.output}")
    return 0
