"""What a training is asked to do, its defaults, and their check: the one place the command
line and library callers get them from."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..config import DATA_DIR, MODELS_DIR
from ..data.months import check_taxi, month_spec
from ..data.reading import SCHEMAS
from ..errors import RideDurationError
from ..features import feature_set
from ..uris import check_scheduler
from .estimators import REGRESSORS, regressor

ENGINES = ("local", "dask")


# Smaller batches only add overhead (a thousand rides cost a few milliseconds each); larger
# ones than a row group are read as the row group anyway.
MIN_BATCH, MAX_BATCH = 1_000, 1 << 30


BATCH_ROWS = 1 << 20  # rides read at a time when streaming, unless --batch-rows says otherwise


def default_name(features: str, model: str) -> str:
    """lin_reg, lasso, ridge; prefixed by the feature set's prefix (rich_ridge, ...)."""
    return feature_set(features).name_prefix + regressor(model).file_name


def default_alpha(features: str, model: str) -> float | None:
    """The feature set's own strength for this regressor, else the regressor's default."""
    return feature_set(features).alphas.get(model, regressor(model).default_alpha)


@dataclass
class TrainOptions:
    taxi: str = "green"
    train_month: str = "2021-01"
    val_month: str = "2021-02"
    features: str = "lesson"
    model: str | None = None  # the feature set's default: linear, or ridge for rich
    alpha: float | None = None
    data_dir: Path = DATA_DIR
    model_dir: Path = MODELS_DIR
    name: str | None = None
    offline: bool = False
    base_url: str | None = None
    quiet: bool = False
    engine: str = "local"  # or "dask"
    scheduler: str | None = None  # a dask.distributed scheduler's address; None: a LocalCluster
    batch_rows: int | None = None  # rides read at a time when streaming

    def validated(self) -> TrainOptions:
        check_taxi(self.taxi)
        chosen = feature_set(self.features)
        model = self.model or chosen.default_model
        spec = regressor(model)
        if self.alpha is not None and (not np.isfinite(self.alpha) or self.alpha <= 0):
            raise RideDurationError(f"--alpha must be a positive number, not {self.alpha}")
        if self.alpha is not None and not spec.penalised:
            takes = ", ".join(r.name for r in REGRESSORS.values() if r.penalised)
            raise RideDurationError(f"--alpha applies to {takes}, not to {model}")
        if chosen.needs_distance and SCHEMAS[self.taxi].distance is None:
            raise RideDurationError(
                f"the {chosen.name} features need trip distances, which {self.taxi} files do "
                "not record"
            )
        train_month, val_month = month_spec(self.train_month), month_spec(self.val_month)
        if self.engine not in ENGINES:
            raise RideDurationError(f"unknown engine {self.engine!r}: choose {', '.join(ENGINES)}")
        if self.scheduler is not None and self.engine != "dask":
            raise RideDurationError("--scheduler goes with --engine dask")
        if self.scheduler is not None:
            check_scheduler(self.scheduler)
        if self.batch_rows is not None and not MIN_BATCH <= self.batch_rows <= MAX_BATCH:
            raise RideDurationError(
                f"--batch-rows must be from {MIN_BATCH:,} to {MAX_BATCH:,} rides, not "
                f"{self.batch_rows:,}"
            )
        name = default_name(self.features, model) if self.name is None else self.name
        return replace(
            self,
            train_month=train_month,
            val_month=val_month,
            model=model,
            alpha=self.alpha if self.alpha is not None else default_alpha(self.features, model),
            data_dir=Path(self.data_dir),
            model_dir=Path(self.model_dir),
            name=name,
        )
