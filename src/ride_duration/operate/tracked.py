"""What operating a model writes besides training runs: a month's monitoring report, and with
a tracking store, its numbers on the run that logged the model."""

from __future__ import annotations

from dataclasses import replace

from ..monitoring.monitor import MonitorResult
from ..reports.monitoring import write_report
from ..tracking.runs import log_monitoring, run_of_model


def file_report(result: MonitorResult, named, folder, store=None):
    """Write a month's report for the named model (and with a store, log it to the run that
    logged the model, found by its bytes when the model was named by a path); return the
    files and the run's id (None without a store or such a run)."""
    result = replace(result, model=replace(result.model, label=named.label))
    files = write_report(result, folder)
    run_id = None
    if store is not None:
        run_id = named.version.run_id if named.version else None
        run_id = run_id or run_of_model(store, result.model.bin_sha256)
        if run_id is not None:
            log_monitoring(store, run_id, result, files)
    return files, run_id
