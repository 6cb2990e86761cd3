"""Continuous training, one month at a time: watch the champion on a new month; when a
threshold is crossed (or always, if asked), train a challenger on the months before it, score
both on the new month, and promote the challenger only if it does better (the rule is
``monitoring.decision``'s). Each step holds a lock, so that two retrains at once promote at
most once."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..config import DATA_DIR, MODELS_DIR, REPORTS_DIR
from ..data.months import check_taxi, month_path, month_spans, months_present, parse_months
from ..errors import DataError, RideDurationError
from ..features import feature_set
from ..files import file_lock
from ..modeling.options import TrainOptions
from ..monitoring.decision import CALM, FIRST, PROMOTED, Decision, verdict, wants_challenger
from ..monitoring.monitor import MonitorResult, monitor
from ..monitoring.statistics import Thresholds
from ..tracking.registry import CHAMPION, has_alias, promote, registered_taxi, tag_version
from ..tracking.runs import tag_run
from ..tracking.store import REGISTERED_MODEL, Store, TrackingError
from .models import open_model
from .tracked import file_report
from .training import train_tracked

MAX_WINDOW = 120  # months a challenger may be trained on


@dataclass(frozen=True)
class Retrain:
    """How the loop retrains: on which months, with which thresholds, into which registry."""

    taxi: str = "green"
    data_dir: Path = DATA_DIR
    model_dir: Path = MODELS_DIR
    reports_dir: Path = REPORTS_DIR
    window: int = 3
    always: bool = False
    limits: Thresholds = field(default_factory=Thresholds)
    registered_model: str = REGISTERED_MODEL
    features: str = "lesson"  # the first champion's; later challengers take the champion's

    def validated(self) -> Retrain:
        check_taxi(self.taxi)
        feature_set(self.features)
        if not (isinstance(self.window, int) and 1 <= self.window <= MAX_WINDOW):
            raise RideDurationError(f"--window must be 1 to {MAX_WINDOW} months, not {self.window}")
        return replace(
            self,
            data_dir=Path(self.data_dir),
            model_dir=Path(self.model_dir),
            reports_dir=Path(self.reports_dir),
            limits=self.limits.validated(),
        )


def window_before(taxi: str, month: str, data_dir: Path, size: int) -> list[str]:
    """The last ``size`` months before ``month`` that are present."""
    return [m for m in months_present(taxi, data_dir) if m < month][-size:]


def lock_path(store: Store, options: Retrain) -> Path:
    """One lock per registry: beside a SQLite store's file, else in the model folder."""
    if store.location.is_sqlite:
        return store.location.path
    return Path(options.model_dir) / f"retrain-{options.registered_model}"


def retrain(store: Store, month: str, options: Retrain) -> Decision:
    """One step of the loop for ``month`` (whose file must be present)."""
    options = options.validated()
    taxi, month = options.taxi, parse_months(month)[0]
    if not month_path(taxi, month, options.data_dir).is_file():
        raise DataError(f"{month_path(taxi, month, options.data_dir)}: file not found")
    window = window_before(taxi, month, options.data_dir, options.window)
    if not window:
        raise DataError(
            f"no {taxi} month before {month} in {options.data_dir} to train a challenger on"
        )
    held = registered_taxi(store, options.registered_model)
    if held not in (None, taxi):
        raise TrackingError(
            f"the registered model {options.registered_model} holds {held} taxi models, not {taxi}"
        )
    Path(options.model_dir).mkdir(parents=True, exist_ok=True)
    with file_lock(lock_path(store, options)), tempfile.TemporaryDirectory() as folder:
        return _step(store, month, window, options, Path(folder))


def _champion(store: Store, options: Retrain, folder: Path):
    """The champion, downloaded and checked; None before the first one is crowned."""
    if not has_alias(store, CHAMPION, options.registered_model):
        return None
    return open_model(f"models:/{options.registered_model}@{CHAMPION}", folder, store=store)


def _watch(champion, month: str, options: Retrain) -> MonitorResult:
    return monitor(
        champion.path, month, options.data_dir, options.taxi, options.limits, champion.label
    )


def _step(store, month, window, options: Retrain, folder: Path) -> Decision:
    champion = _champion(store, options, folder)
    if champion is None:
        tracked = _challenger(store, month, window, options, None)
        promote(store, tracked.version.version, options.registered_model)
        champion = _champion(store, options, folder)
        decision = Decision(month, FIRST, window, champion.version.version)
        return _record(store, champion, month, options, decision, tracked)
    result = _watch(champion, month, options)
    decision = Decision(
        month,
        CALM,
        window,
        champion.version.version,
        champion_rmse=result.current.rmse,
        crossed=result.crossed,
        prediction_drift=result.value("prediction_drift", "prediction"),
    )
    tracked = None
    if wants_challenger(result.crossed, options.always):
        tracked = _challenger(store, month, window, options, champion.metadata)
        decision.challenger = tracked.version.version
        decision.challenger_rmse = tracked.result.validation.rmse
        decision.action = verdict(decision.champion_rmse, decision.challenger_rmse)
        if decision.action == PROMOTED:
            promote(store, decision.challenger, options.registered_model)
    return _record(store, champion, month, options, decision, tracked, result)


def _challenger(store, month, window, options: Retrain, champion_metadata: dict | None):
    """Train and register a challenger on the window, validated on the month (alias
    challenger); the champion's recipe if there is one, else the options' feature set."""
    recipe = {"features": options.features}
    if champion_metadata:
        recipe = {
            "features": champion_metadata["features"]["set"],
            "model": champion_metadata["model"]["kind"],
            "alpha": champion_metadata["model"]["params"].get("alpha"),
        }
    train_options = TrainOptions(
        taxi=options.taxi,
        train_month=",".join(window),
        val_month=month,
        data_dir=options.data_dir,
        model_dir=options.model_dir,
        name=f"{options.registered_model}_{options.taxi}_{month}",
        offline=True,
        quiet=True,
        **recipe,
    )
    return train_tracked(
        train_options,
        store,
        register_as=options.registered_model,
        version_tags={"retrain.month": month},
    )


def _record(store, champion, month, options: Retrain, decision: Decision, tracked, result=None):
    """The decision as MLflow tags (on the challenger's run and version) and as a line in the
    month's monitoring report."""
    if result is None:
        result = _watch(champion, month, options)
        decision.champion_rmse = result.current.rmse
        decision.prediction_drift = result.value("prediction_drift", "prediction")
    files, _ = file_report(
        result.with_decision(decision.line()), champion, options.reports_dir, store
    )
    decision.report = str(files[1])
    if tracked is not None:
        tags = {"retrain.month": month, "retrain.decision": decision.action}
        tag_run(store, tracked.run.run_id, tags)
        tag_version(store, tracked.version, tags)
    return decision


def backfill(store: Store, spec: str, options: Retrain) -> tuple[list[Decision], list[str]]:
    """The loop over every month of ``spec`` that is present, in order; returns the decisions
    and the months skipped (with why)."""
    options = options.validated()
    taxi = options.taxi
    present = set(months_present(taxi, options.data_dir))
    decisions, absent, first = [], [], []
    for month in parse_months(spec):
        if month not in present:
            absent.append(month)
        elif not window_before(taxi, month, options.data_dir, options.window):
            first.append(month)
        else:
            decisions.append(retrain(store, month, options))
    skipped = [f"{span} (no file)" for span in month_spans(absent)]
    skipped += [f"{span} (no earlier month to train on)" for span in month_spans(first)]
    if not decisions:
        raise RideDurationError(f"no month of {spec} could be retrained on: {', '.join(skipped)}")
    return decisions, skipped
