"""Train, and with a tracking store, log the run (and register its model) in one step.

MLflow's start-up (importing it, opening its SQLite store: about two seconds) is as long as a
month's training. So when the store is still to be connected, a worker process trains while
this one connects and checks the store; the worker saves the model only once the store has
been found usable (a deleted experiment or a registry of another taxi type stops the run
before any file is written). It draws the run's plots into a temporary folder as soon as it
has trained (while MLflow still starts here), or, where the validation month must be scored
again, after saving, while this process logs the run.
Where processes cannot be forked, the same steps run one after another.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import RideDurationError
from ..modeling.options import TrainOptions
from ..modeling.train import TrainResult, save_result, train
from ..reports.card import model_card
from ..reports.plots import drawable_unsaved, model_figures
from ..tracking.registry import Version, check_taxi, register
from ..tracking.runs import (
    TrackedRun,
    close_training_run,
    log_text,
    log_training,
    open_training_run,
    warm_requirements_check,
)
from ..tracking.store import Store


@dataclass
class Tracked:
    result: TrainResult
    run: TrackedRun | None = None
    version: Version | None = None
    store_uri: str | None = None

    def summary(self) -> dict:
        """What the command prints in --json besides the training's own numbers."""
        out = {}
        if self.run:
            out |= {"mlflow_run_id": self.run.run_id, "mlflow_model_uri": self.run.model_uri}
        if self.version:
            out |= {"registered_model": self.version.name, "version": self.version.version}
        return out


def _ready(store: Store, taxi: str, register_as: str | None) -> None:
    """What must hold before any file is written: an active experiment, and a registry that
    holds this taxi type (or none yet)."""
    store.experiment()
    if register_as:
        check_taxi(store, taxi, register_as)


def train_tracked(
    options: TrainOptions,
    store: Store | Callable[[], Store] | None = None,
    *,
    register_as: str | None = None,
    version_tags: dict | None = None,
) -> Tracked:
    """Train and save; with ``store``, log the run with its plots; with ``register_as``,
    register its model there (alias challenger). ``store`` may be a function that connects
    it: then it connects while a worker process trains."""
    options = options.validated()
    if store is None:
        return Tracked(train(options))
    if callable(store) and _can_fork():
        return _train_beside_connecting(options, store, register_as, version_tags)
    store = store() if callable(store) else store
    _ready(store, options.taxi, register_as)
    started = time.perf_counter()
    result = train(options, keep_scored=True)
    seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="ride-duration-plots-") as folder:
        plots = model_figures(result.model_path, options.data_dir, Path(folder), result.scored)
        run = log_training(store, options, result, result.model_path, seconds, plots)
    return _registered(store, options, result, run, register_as, version_tags)


def _can_fork() -> bool:
    """Fork only a single-threaded process (a command line run): a thread holding a lock at
    the fork would leave the worker waiting on it forever. Notebooks and other threaded
    callers take the one-after-another way."""
    import threading

    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _registered(store, options, result, run, register_as, version_tags) -> Tracked:
    """Register the run's model when asked, then log its model card with the run (the
    registered version's facts in it)."""
    version = None
    if register_as:
        version = register(store, run, options.taxi, register_as, version_tags)
    card = model_card(result.metadata, _card_label(result, version), version)
    log_text(store, run, card, CARD_FILE)
    return Tracked(replace(result, scored=None), run, version, store.uri)


CARD_FILE = "model_card.md"  # the run's artifact: `ride-duration card` of its model


def _card_label(result: TrainResult, version: Version | None) -> str:
    if version is not None:
        return f"{version.name} version {version.version}"
    return result.model_path.name


def _train_beside_connecting(options, connect, register_as, version_tags) -> Tracked:
    """Connect in this process while a forked worker trains (see the module's docstring)."""
    with tempfile.TemporaryDirectory(prefix="ride-duration-plots-") as name:
        folder = Path(name)
        with _Worker(options, folder) as worker:
            return _tracked_by_both(options, connect, register_as, version_tags, worker)


def _tracked_by_both(options, connect, register_as, version_tags, worker) -> Tracked:
    store = connect()
    _ready(store, options.taxi, register_as)
    worker.send("save")
    warm_requirements_check()  # while the worker still trains
    result, seconds = worker.receive("saved")
    run = open_training_run(store, options, result, result.model_path, seconds)
    try:
        plots = worker.receive("plots")
    except BaseException:
        close_training_run(store, run, failed=True)
        raise
    close_training_run(store, run, plots)
    return _registered(store, options, result, run, register_as, version_tags)


class _Worker:
    """A forked process that trains, waits to be told to save, saves, then draws the plots
    into ``folder``, reporting each step (or the one-line error that stopped it) on a pipe.
    Leaving the block stops it if it still runs."""

    def __init__(self, options: TrainOptions, folder: Path):
        context = multiprocessing.get_context("fork")
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_work, args=(options, child, folder), name="ride-duration-train", daemon=True
        )

    def __enter__(self) -> _Worker:
        self.process.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.process.is_alive() and exc[0] is not None:
            self.send("stop")
        self.process.join(timeout=5 if exc[0] is None else 1)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)
        self.connection.close()

    def send(self, message: str) -> None:
        with contextlib.suppress(OSError):  # it stopped already: receive() says why
            self.connection.send(message)

    def receive(self, step: str):
        try:
            kind, payload = self.connection.recv()
        except (EOFError, OSError):
            code = self.process.exitcode
            raise RideDurationError(
                f"the training stopped before it was {step} (exit code {code})"
            ) from None
        if kind == "error":
            raise payload
        return payload


def _work(options: TrainOptions, connection, folder: Path) -> None:
    """The worker's side: train, draw the plots (while the other process still starts
    MLflow, when the validation rides are at hand), save when told, send the plots."""
    try:
        started = time.perf_counter()
        result = train(options, save=False, saved_later=True, keep_scored=True)
        seconds = time.perf_counter() - started
        plots = None
        if drawable_unsaved(result.metadata, result.scored):  # into a folder of our own
            draw_to_files()
            plots = model_figures(
                None, options.data_dir, folder, result.scored, metadata=result.metadata
            )
        if connection.recv() != "save":
            return
        result = save_result(result, options)
        connection.send(("saved", (replace(result, scored=None), seconds)))
        if plots is None:
            draw_to_files()
            plots = model_figures(result.model_path, options.data_dir, folder, result.scored)
        connection.send(("plots", plots))
    except (RideDurationError, OSError) as exc:
        connection.send(("error", exc))
    except KeyboardInterrupt:
        pass
    except BaseException as exc:  # a bug: its traceback, in one error the parent raises
        import traceback

        text = "".join(traceback.format_exception(exc))
        connection.send(("error", RuntimeError(f"the training worker failed:\n{text}")))
    finally:
        connection.close()


def draw_to_files() -> None:
    import matplotlib

    matplotlib.use("Agg")
