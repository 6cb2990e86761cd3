"""What operating a model writes to MLflow besides training runs: its monitoring."""

from __future__ import annotations

from ..reports.monitoring import write_report
from ..tracking.runs import log_to_run, run_of_model
from .monitor import headline


def month_step(month: str) -> int:
    """A month as an MLflow metric step: 2021-03 -> 202103."""
    return int(month.replace("-", ""))


def log_monitoring(store, named, result: dict, files) -> str | None:
    """Log a month's monitoring to the run that logged the model (found by its bytes when the
    model was named by a path); None if no run logged it."""
    run_id = named.version.run_id if named.version else None
    run_id = run_id or run_of_model(store, result["model"]["bin_sha256"])
    if run_id is None:
        return None
    metrics = {f"monitor.{k}": v for k, v in headline(result).items()}
    log_to_run(store, run_id, metrics, month_step(result["month"]), files, "monitoring")
    return run_id


def file_report(result: dict, named, folder, store=None):
    """Write a month's report for the named model (and with a store, log it to the model's
    run); return the files and the run's id (None without a store or a run)."""
    result["model"]["label"] = named.label
    files = write_report(result, folder)
    run_id = log_monitoring(store, named, result, files) if store is not None else None
    return files, run_id
