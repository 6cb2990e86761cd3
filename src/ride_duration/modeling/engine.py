"""Where the work of many months runs: here, one task after another, or on a Dask cluster,
each task on a worker (``--engine dask``). A task is a plain function of plain arguments that
returns small results (a month's statistics, its errors), so both engines run the same code."""

from __future__ import annotations

import contextlib
import os
import sys
import time

from ..errors import RideDurationError
from ..uris import check_scheduler

# A cluster without workers runs nothing: after this long with none, the run stops.
NO_WORKERS_SECONDS = 10.0


NO_WORKERS_ENV = "RIDE_DURATION_DASK_NO_WORKERS_SECONDS"


CONNECT_SECONDS = 10  # to reach a scheduler
CONNECT_ENV = "RIDE_DURATION_DASK_CONNECT_SECONDS"


def run_tasks(function, tasks: list[tuple], client=None, label: str = "", quiet: bool = True):
    """``function(*task)`` for every task, in order: here, or on a Dask cluster's workers."""
    from tqdm import tqdm

    hidden = quiet or not sys.stderr.isatty()
    bar = tqdm(total=len(tasks), desc=label, unit="month", disable=hidden, leave=False)
    try:
        if client is None:
            results = []
            for task in tasks:
                results.append(function(*task))
                bar.update()
            return results
        from concurrent.futures import CancelledError

        futures = client.map(function, *zip(*tasks), pure=False)
        try:
            _wait_watching_workers(client, futures, bar)
            return client.gather(futures)
        except (CancelledError, OSError) as exc:  # the scheduler went away
            reason = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
            raise RideDurationError(f"lost the Dask scheduler ({reason})") from None
    finally:
        bar.close()


def _wait_watching_workers(client, futures, bar) -> None:
    """Wait for the futures, and stop with a clear error when the cluster has had no worker
    for ``NO_WORKERS_SECONDS`` or the scheduler is gone, instead of waiting forever."""
    from dask.distributed import wait

    patience = float(os.environ.get(NO_WORKERS_ENV, NO_WORKERS_SECONDS))
    remaining, alone_since = set(futures), None
    while remaining:
        try:
            done = wait(list(remaining), timeout=1, return_when="FIRST_COMPLETED").done
        except TimeoutError:
            done = set()
        except OSError as exc:  # distributed's CommClosedError is an OSError
            raise RideDurationError(f"lost the Dask scheduler ({exc})") from None
        bar.update(len(done))
        remaining -= done
        if any(future.status == "error" for future in done):
            return  # gather raises the task's own error
        if done or not remaining:
            alone_since = None
            continue
        if _worker_count(client) > 0:
            alone_since = None
        elif alone_since is None:
            alone_since = time.monotonic()
        elif time.monotonic() - alone_since > patience:
            raise RideDurationError(
                f"the Dask cluster at {client.scheduler.address} has had no workers for "
                f"{patience:g} s; start `dask worker {client.scheduler.address}`"
            )


def _worker_count(client) -> int:
    try:
        return len(client.scheduler_info(n_workers=-1)["workers"])
    except OSError as exc:
        raise RideDurationError(f"lost the Dask scheduler ({exc})") from None


def dask_client(scheduler: str | None):
    """A client of the scheduler at ``scheduler``, or of a new LocalCluster sized to this
    machine (one single-threaded worker process per core); closes what it opened."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise RideDurationError(
            "--engine dask needs dask and distributed: pip install -e '.[dask]'"
        ) from None

    @contextlib.contextmanager
    def connected():
        import logging

        # distributed logs every reconnection attempt with a traceback; what went wrong
        # reaches the user as one line instead.
        for name in [n for n in logging.root.manager.loggerDict if n.startswith("distributed")]:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        if scheduler:
            try:
                patience = float(os.environ.get(CONNECT_ENV, CONNECT_SECONDS))
                client = Client(check_scheduler(scheduler), timeout=patience)
            except RideDurationError:
                raise
            except Exception as exc:  # distributed raises OSError, TimeoutError, ValueError
                raise RideDurationError(
                    f"cannot reach the Dask scheduler at {scheduler} ({exc})"
                ) from None
            with client:
                yield client
        else:
            cores = os.cpu_count() or 1
            with (
                LocalCluster(
                    n_workers=cores, threads_per_worker=1, processes=True, dashboard_address=None
                ) as cluster,
                Client(cluster) as client,
            ):
                yield client

    return connected()
