"""Train, and with a tracking store, log the run (and register its model) in one step."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..modeling.options import TrainOptions
from ..modeling.train import TrainResult, train
from ..reports.plots import model_figures
from ..tracking.registry import Version, register
from ..tracking.runs import TrackedRun, log_training
from ..tracking.store import REGISTERED_MODEL, Store


@dataclass
class Tracked:
    result: TrainResult
    run: TrackedRun | None = None
    version: Version | None = None

    def summary(self) -> dict:
        """What the command prints in --json besides the training's own numbers."""
        out = {}
        if self.run:
            out |= {"mlflow_run_id": self.run.run_id, "mlflow_model_uri": self.run.model_uri}
        if self.version:
            out |= {"registered_model": self.version.name, "version": self.version.version}
        return out


def train_tracked(
    options: TrainOptions,
    store: Store | None = None,
    *,
    register_as: str | None = None,
    version_tags: dict | None = None,
) -> Tracked:
    """Train and save; with ``store``, log the run with its plots; with ``register_as``,
    register its model there (alias challenger)."""
    options = options.validated()
    started = time.perf_counter()
    result = train(options)
    seconds = time.perf_counter() - started
    if store is None:
        return Tracked(result)
    with tempfile.TemporaryDirectory(prefix="ride-duration-plots-") as folder:
        plots = model_figures(result.model_path, options.data_dir, Path(folder))
        run = log_training(store, options, result, result.model_path, seconds, plots)
    version = None
    if register_as:
        version = register(store, run, options.taxi, register_as or REGISTERED_MODEL, version_tags)
    return Tracked(result, run, version)
