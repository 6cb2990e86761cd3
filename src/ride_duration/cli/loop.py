"""Handlers of ``ride-duration loop``: the retraining loop on Prefect (the [orchestrate]
extra). Prefect is imported here only, when a loop command runs."""

from __future__ import annotations

import argparse
import os

from ..errors import RideDurationError
from .commands import ensure_months, say
from .operate import thresholds

EXTRA = "pip install -e '.[orchestrate]' (the orchestrate extra)"


def require_prefect():
    """Prefect's flow module, or one line naming the extra that brings it."""
    # Before Prefect is imported: its server's usage analytics stay off unless asked for, and
    # the server it starts for itself without PREFECT_API_URL gets two minutes, not 20 s (on a
    # busy 2-core machine its start took longer).
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    try:
        import prefect  # noqa: F401
    except ImportError:
        raise RideDurationError(f"loop needs Prefect, which is not installed: {EXTRA}") from None
    from ..orchestrate import flow

    return flow


def settings(args: argparse.Namespace):
    from ..operate.retrain import Retrain
    from ..orchestrate.settings import LoopSettings

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
    )
    return LoopSettings(
        options, args.base_url, args.tracking_uri, args.start, args.offline
    ).validated()


def run_loop(args: argparse.Namespace) -> int:
    """`loop run --month M` or `--backfill A..B`: each month a flow run of its own, now."""
    from ..data.months import months_present, parse_month, parse_months
    from ..tracking.store import precheck

    loop = settings(args)
    if bool(args.month) == bool(args.backfill):
        raise RideDurationError("give --month YYYY-MM (one month) or --backfill A..B (the loop)")
    precheck(args.tracking_uri, "loop")
    flow = require_prefect()
    if args.month:
        months = [parse_month(args.month)]
        if not args.offline:
            ensure_months(args, loop.retrain.taxi, months)
    else:
        present = set(months_present(loop.retrain.taxi, loop.retrain.data_dir))
        months = [m for m in parse_months(args.backfill) if m in present]
        if not months:
            raise RideDurationError(f"no month of {args.backfill} is in {loop.retrain.data_dir}")
    failed = 0
    for month in months:
        state = flow.retrain_month(loop.as_parameters(), month, return_state=True)
        if state.is_failed():
            failed += 1
            say("error", f"{month}: {state.message}")
        else:
            print(state.message)
    return 2 if failed else 0


def serve_loop(args: argparse.Namespace) -> int:
    """`loop serve`: the schedule, served by this process until SIGTERM or Ctrl-C."""
    from ..tracking.store import precheck

    loop = settings(args)
    precheck(args.tracking_uri, "loop")
    require_prefect()
    from ..orchestrate.schedule import serve_schedule

    serve_schedule(loop, args.cron, args.interval)
    return 0
