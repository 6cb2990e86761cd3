"""The ``ride-duration`` subcommands' handlers: each builds the library's options from the
arguments, calls the package's functions and prints what they return (tables are formatted
in ``reports.tables``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import RideDurationError
from ..reports import tables

PROG = "ride-duration"


def printable(text: str) -> str:
    """``text`` as one line: characters that would break or hide it (a newline or a control
    character in a path the user gave) written as escapes."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def say(kind: str, text: str) -> None:
    """One line on stderr: 'ride-duration: warning: ...' or '... error: ...'."""
    print(f"{PROG}: {kind}: {printable(str(text))}", file=sys.stderr)


def run_serve(args: argparse.Namespace) -> int:
    from ..serving.options import ServeOptions
    from ..serving.server import serve

    serve(
        ServeOptions(
            model=str(args.model),
            host=args.host,
            port=args.port,
            workers=args.workers,
            poll_seconds=args.poll_seconds,
            tracking_uri=args.tracking_uri,
            access_log=not args.no_access_log,
            record=not args.no_log,
            log_dir=args.log_dir,
            metrics=not args.no_metrics,
        )
    )
    return 0


def draw_to_files() -> None:
    """The command line draws into files, never windows."""
    import matplotlib

    matplotlib.use("Agg")


def tracking_store(args: argparse.Namespace, flag: str = "--track"):
    """The MLflow store named by the arguments, connected and checked before any work."""
    from ..tracking.store import connect

    return connect(args.tracking_uri, flag, getattr(args, "experiment", None))


def run_train(args: argparse.Namespace) -> int:
    from ..modeling.options import TrainOptions
    from ..operate.training import train_tracked

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
    ).validated()
    if args.register and not args.track:
        raise RideDurationError("--register goes with --track: it registers the tracked run")
    store = None
    if args.track:
        from ..tracking.store import precheck

        draw_to_files()  # the run's plots
        precheck(args.tracking_uri)  # before any work; MLflow itself starts beside training

        def store():
            return tracking_store(args)

    tracked = train_tracked(
        options, store, register_as=args.registered_model if args.register else None
    )
    result = tracked.result
    for note in result.warnings:
        say("warning", note)
    metrics = result.metrics.as_dict()
    if args.json:
        document = {**metrics, "model_path": str(result.model_path), "rows": result.reports}
        print(json.dumps(document | tracked.summary()))
        return 0
    print(tables.train_report(result.metadata, metrics, result.reports, result.model_path))
    if tracked.run:
        print(f"tracked: MLflow run {tracked.run.run_id} in {tracked.store_uri}")
        local = "" if tracked.store_uri.startswith(("http://", "https://")) else " (make mlflow-ui)"
        print(f"shown at {tracked.run.ui_url(tracked.store_uri)}{local}")
    if tracked.version:
        print(
            f"registered: {tracked.version.name} version {tracked.version.version}, "
            "alias challenger (ride-duration promote moves champion to it)"
        )
    return 0


def run_promote(args: argparse.Namespace) -> int:
    from ..tracking.registry import promote

    store = tracking_store(args, "promote")
    chosen = promote(store, args.version, args.registered_model)
    print(f"{chosen.name} version {chosen.version} is now the champion")
    return 0


def run_homework(args: argparse.Namespace) -> int:
    from ..reports.homework import answer_table, answers, chosen

    data = chosen(args.cohort, args.taxi, args.train, args.val)
    warn_month_order(data.train_month, data.val_month)
    result = answers(
        data.taxi,
        data.train_month,
        data.val_month,
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


def run_compare(args: argparse.Namespace) -> int:
    from ..data.months import check_taxi, parse_months
    from ..data.prepare import load_months
    from ..modeling.compare import compare_models

    taxi, specs = check_taxi(args.taxi), [args.train, args.val]
    warn_month_order(args.train, args.val)
    store = tracking_store(args) if args.track else None
    ensure_months(args, taxi, [m for spec in specs for m in parse_months(spec)])
    frames = [load_months(taxi, spec, args.data_dir)[0] for spec in specs]
    table = compare_models(*frames, features=args.features)
    print(tables.comparison(table, markdown=args.markdown))
    if store is not None:
        from ..tracking.runs import log_comparison

        params = {"taxi": taxi, "train_month": args.train, "val_month": args.val}
        runs = log_comparison(store, table, params | {"features": args.features})
        print(f"tracked: {len(runs)} MLflow runs in {store.uri}")
    return 0


def ensure_months(args: argparse.Namespace, taxi: str, months: list[str]) -> None:
    """Every month on disk, as the command's download options say (each month once)."""
    from ..data.download import ensure_months

    ensure_months(
        taxi, months, args.data_dir, base_url=args.base_url, offline=args.offline, quiet=args.quiet
    )


def warn_month_order(train: str, val: str) -> None:
    from ..data.months import month_order_note, parse_months

    if note := month_order_note(parse_months(train), parse_months(val)):
        say("warning", note)


def run_plots(args: argparse.Namespace) -> int:
    from ..reports.plots import check_figures_dir, model_figures

    check_figures_dir(args.out, [args.model])
    draw_to_files()
    for path in model_figures(args.model, args.data_dir, args.out):
        print(path)
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from ..modeling.intervals import check_level

    check_level(args.level)
    if args.output and not args.month:
        raise RideDurationError("--output goes with --month: it holds a month's predictions")
    if args.explain and args.month and not args.output:
        raise RideDurationError(
            "--explain with --month writes each ride's parts to --output FILE.parquet"
        )
    if args.month:
        result, text = _predict_month(args)
    elif args.pu is not None and args.do is not None:
        result, text = _predict_ride(args)
    else:
        raise RideDurationError("give --pu and --do (and --distance), or --month YYYY-MM")
    print(json.dumps(result) if args.json else text)
    return 0


def _predict_month(args: argparse.Namespace) -> tuple[dict, str]:
    from ..data.months import check_taxi
    from ..modeling import predict

    taxi = check_taxi(args.taxi)
    if args.output:
        predict.check_predictions_output(
            args.output, Path(args.model), taxi, args.month, args.data_dir
        )
    ensure_months(args, taxi, [args.month])
    score = predict.score_month(
        args.model,
        taxi,
        args.month,
        args.data_dir,
        output=args.output,
        level=args.level,
        explain=args.explain,
    )
    scored = score.evaluation
    text = f"{taxi} {score.month}: RMSE {scored.rmse:.4f} min on {scored.rides:,} rides"
    if scored.coverage is not None:
        text += (
            f"; {args.level:.0%} intervals cover {scored.coverage:.1%} "
            f"(mean width {scored.mean_width:.1f} min)"
        )
    else:
        _warn_no_intervals()
    if args.output:
        text += f"; predictions written to {score.output}"
    return score.as_dict(), text


def _predict_ride(args: argparse.Namespace) -> tuple[dict, str]:
    from ..modeling import predict

    answer = predict.predict_ride(
        args.model, args.pu, args.do, args.distance, args.pickup, args.level, args.explain
    )
    result = {
        "pu": args.pu,
        "do": args.do,
        "distance": args.distance,
        "pickup": args.pickup,
        **answer,
    }
    text = f"{answer['minutes']:.1f} minutes"
    if answer["interval"] is None:
        _warn_no_intervals()
    else:
        lower, upper = answer["interval"]
        text += f" ({args.level:.0%} interval: {lower:.1f} to {upper:.1f})"
    if args.explain:
        text += ", the sum of:\n" + tables.explanation(answer["explanation"])
    return result, text


def _warn_no_intervals() -> None:
    from ..modeling.model import NO_INTERVALS

    say("warning", NO_INTERVALS)


def run_download(args: argparse.Namespace) -> int:
    from ..data import download, manifest
    from ..data.months import check_taxi, parse_month

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
        results = manifest.verify(args.data_dir)
        for name, status in results:
            print(f"{status:<8} {name}")
        bad = [name for name, status in results if status != "ok"]
        if not results:
            print(f"no downloads recorded in {args.data_dir / manifest.MANIFEST_FILE}")
        if bad:
            raise RideDurationError(
                f"{len(bad)} file(s) changed, corrupt or missing: {', '.join(bad)}"
            )
    return 0
