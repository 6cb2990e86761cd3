"""The schedule: the month's flow as a deployment served by this process, run by cron (the
third of each month by default) or every so many seconds, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import contextlib
import logging
import os

from ..errors import RideDurationError
from .flow import retrain_month
from .settings import DEFAULT_CRON, DEPLOYMENT, FLOW_NAME, LoopSettings

log = logging.getLogger("prefect.ride_duration")


def serve_schedule(
    settings: LoopSettings, cron: str | None = None, interval: float | None = None
) -> None:
    """Serve the deployment; returns when the process is told to stop. SIGTERM stops it
    cleanly: a run in progress is cancelled, and its month decided again by the next."""
    if cron and interval:
        raise RideDurationError("give --cron or --interval, not both")
    if interval is not None and not interval > 0:
        raise RideDurationError(f"--interval must be a positive number of seconds, not {interval}")
    schedule = {"interval": interval} if interval else {"cron": cron or DEFAULT_CRON}
    for name in crash_orphans():
        log.warning("flow run %r was left running by a schedule that was killed: crashed", name)
    with runner_polling(interval):
        _serve(settings, schedule)


def _serve(settings: LoopSettings, schedule: dict) -> None:
    from prefect.types.entrypoint import EntrypointType

    retrain_month.serve(
        name=DEPLOYMENT,
        # Runs load the flow by its module's name, so that the package's imports hold.
        entrypoint_type=EntrypointType.MODULE_PATH,
        parameters={"settings": settings.validated().as_parameters()},
        pause_on_shutdown=False,
        limit=1,  # one month at a time: the runs a late schedule would start together queue
        print_starting_message=False,
        **schedule,
    )


def runner_polling(interval: float | None):
    """Prefect's runner asks its server for runs due every 10 s (PREFECT_RUNNER_POLL_FREQUENCY),
    so ``--interval 2`` started a run every 10-16 s. With an interval shorter than that, it
    asks as often as the interval says (whole seconds, at least one), unless the user set the
    frequency. A cron schedule keeps Prefect's default."""
    from prefect.settings import PREFECT_RUNNER_POLL_FREQUENCY, temporary_settings

    if interval is None or "PREFECT_RUNNER_POLL_FREQUENCY" in os.environ:
        return contextlib.nullcontext()
    seconds = max(1, int(min(interval, PREFECT_RUNNER_POLL_FREQUENCY.value())))
    return temporary_settings(updates={PREFECT_RUNNER_POLL_FREQUENCY: seconds})


def crash_orphans() -> list[str]:
    """Mark as crashed the runs of this deployment that a killed schedule left running or
    pending (one schedule serves the deployment: none of them is in anyone's hands); their
    month was not recorded, and the next run decides it. Returns their names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])
                )
            ),
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[DEPLOYMENT])),
            flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])),
        )
        for run in runs:
            message = "its schedule was killed before it finished; the month runs again"
            client.set_flow_run_state(run.id, Crashed(message=message), force=True)
    return [run.name for run in runs]
