"""The loop for one month, as a Prefect flow of tasks that call the package's functions:
find the next month to watch, ask TLC whether it is published, download it, monitor the
champion on it, train a challenger and promote it only if better, and publish the outcome as
artifacts (a summary and a table of the month's statistics).

A month not yet published ends as a completed run that says so. A failure ends the run as
failed, with the one-line error as its message, and nothing recorded: the next run tries the
same month again. A month already decided is not decided again (``retrain``'s record).
"""

from __future__ import annotations

import datetime as dt
import logging
import os

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed

from ..data.download import ensure_month, is_published
from ..data.months import month_path
from ..errors import RideDurationError
from ..monitoring.decision import Decision
from ..monitoring.monitor import MonitorResult
from ..operate.retrain import RetrainStep, last_decided
from ..tracking.store import Store, connect, one_line
from .settings import FLOW_NAME, LoopSettings, month_after

# A download that fails is tried again after 10, 20, then 40 s (the download retries its own
# faults first; these are for a mirror or a network that is down a while).
DOWNLOAD_RETRIES = 3
BACKOFF_ENV = "RIDE_DURATION_LOOP_BACKOFF"  # the first delay, in seconds (10)


def retry_delays(retries: int) -> list[float]:
    first = float(os.environ.get(BACKOFF_ENV, "10"))
    return [first * 2**attempt for attempt in range(retries)]


class _OneLine(logging.Filter):
    """On the terminal, a failure the user can fix is its line, without Prefect's traceback
    (which its UI keeps: this filter sits on the console's handler only)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], (RideDurationError, OSError)):
            record.exc_info, record.exc_text = None, None
        return True


def quiet_expected_errors() -> None:
    from prefect.logging.handlers import PrefectConsoleHandler

    for handler in logging.getLogger().handlers:
        is_console = isinstance(handler, PrefectConsoleHandler)
        if is_console and not any(isinstance(f, _OneLine) for f in handler.filters):
            handler.addFilter(_OneLine())


def _this_month() -> str:
    today = dt.date.today()
    return f"{today.year:04d}-{today.month:02d}"


@task(name="next month", cache_policy=NO_CACHE)
def next_month(settings: LoopSettings, store: Store) -> str | None:
    """The month after the last one the loop decided for this registered model."""
    last = last_decided(store, settings.retrain)
    return month_after(last) if last else settings.first_month()


@task(name="published?", cache_policy=NO_CACHE)
def published(settings: LoopSettings, month: str) -> bool:
    """A month in the data folder is published; offline, no other one is (for now)."""
    options = settings.retrain
    if month_path(options.taxi, month, options.data_dir).is_file():
        return True
    if month > _this_month() or settings.offline:
        return False
    return is_published(options.taxi, month, settings.base_url)


@task(
    name="download",
    cache_policy=NO_CACHE,
    retries=DOWNLOAD_RETRIES,
    retry_delay_seconds=retry_delays,
)
def download(settings: LoopSettings, month: str) -> str:
    options = settings.retrain
    path = ensure_month(
        options.taxi, month, options.data_dir, base_url=settings.base_url, quiet=True
    )
    return str(path)


@task(name="monitor the champion", cache_policy=NO_CACHE)
def watch(step: RetrainStep) -> MonitorResult | None:
    return step.watch()


@task(name="challenge and decide", cache_policy=NO_CACHE)
def decide(step: RetrainStep, result: MonitorResult | None) -> Decision:
    return step.decide(result)


def outcome(decision: Decision) -> str:
    """The run's message: the decision's line, and the champion's coverage on the month."""
    text = ("already decided: " if decision.resumed else "") + decision.line()
    if decision.coverage is not None:
        text += f"; its 80% intervals cover {decision.coverage:.1%} of the rides"
    return text


def summary(decision: Decision, result: MonitorResult | None) -> str:
    """The run's markdown artifact: the decision, both RMSEs, what was crossed, the report."""
    lines = [f"# {decision.month}: {decision.action}", "", decision.line(), ""]
    if decision.champion_rmse is not None:
        lines.append(f"- champion v{decision.champion}: RMSE {decision.champion_rmse:.4f} min")
    if decision.challenger_rmse is not None:
        lines.append(
            f"- challenger v{decision.challenger}: RMSE {decision.challenger_rmse:.4f} min "
            f"(trained on {', '.join(decision.window)})"
        )
    if decision.coverage is not None:
        lines.append(f"- the champion's 80% intervals cover {decision.coverage:.1%} of the rides")
    crossed = result.crossed if result is not None else decision.crossed
    lines.append("- thresholds crossed: " + ("; ".join(crossed) if crossed else "none"))
    if decision.report:
        lines.append(f"- report: [{decision.report}](file://{decision.report})")
    return "\n".join(lines) + "\n"


def statistics_table(result: MonitorResult | None) -> list[dict]:
    """The run's table artifact: every statistic measured on the month, with its threshold."""
    if result is None:
        return []
    return [
        {
            "statistic": m.statistic,
            "of": m.subject or "-",
            "value": round(m.value, 6) if m.value == m.value else None,
            "threshold": str(m.limit),
            "crossed": m.crossed,
        }
        for m in result.measurements
    ]


@task(name="publish the outcome", cache_policy=NO_CACHE)
def publish(settings: LoopSettings, decision: Decision, result: MonitorResult | None) -> None:
    key = f"retrain-{settings.retrain.taxi}-{decision.month}"
    create_markdown_artifact(summary(decision, result), key=key, description=decision.line())
    table = statistics_table(result)
    if table:
        create_table_artifact(table, key=f"{key}-statistics", description="monitored statistics")


@flow(name=FLOW_NAME, validate_parameters=False, log_prints=False)
def retrain_month(settings: dict, month: str | None = None):
    """One month of the loop (the next one to watch, unless ``month`` names it)."""
    quiet_expected_errors()
    try:
        loop = LoopSettings.from_parameters(settings)
        store = connect(loop.tracking_uri, flag="loop")
        target = month or next_month(loop, store)
        if target is None:
            return Completed(message=f"no {loop.retrain.taxi} month in data/ to start from")
        if not published(loop, target):
            return Completed(message=f"{target}: not published yet; nothing to do")
        # The delays read when the run starts, so that a test (or a user) can shorten them.
        download.with_options(retry_delay_seconds=retry_delays(DOWNLOAD_RETRIES))(loop, target)
        with RetrainStep(store, target, loop.retrain) as step:
            result = watch(step)
            decision = decide(step, result)
        if not decision.resumed:
            publish(loop, decision, result)
        return Completed(message=outcome(decision))
    except (RideDurationError, OSError) as exc:
        return Failed(message=one_line(exc))
