"""Continuous training, one month at a time: watch the champion on a new month; when a
threshold is crossed (or always, if asked), train a challenger on the months before it, score
both on the new month, and promote the challenger only if it does better (the rule is
``monitoring.decision``'s). Each step holds a lock, so that two retrains at once promote at
most once."""

from __future__ import annotations

import contextlib
import json
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
from ..tracking.registry import (
    CHAMPION,
    Version,
    has_alias,
    promote,
    registered_tags,
    registered_taxi,
    run_metric,
    tag_registered,
    tag_version,
    versions_tagged,
)
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


DECIDED = "retrain.decided."  # a registered model's tag per month decided: the decision, JSON
MONTH_TAG, DECISION_TAG = "retrain.month", "retrain.decision"


def decided(store: Store, options: Retrain, month: str) -> Decision | None:
    """The decision the loop recorded for ``month`` (None if it has not decided it)."""
    recorded = registered_tags(store, options.registered_model).get(DECIDED + month)
    return Decision(**json.loads(recorded)) if recorded else None


def last_decided(store: Store, options: Retrain) -> str | None:
    """The latest month the loop decided for this registered model (one taxi type)."""
    tags = registered_tags(store, options.registered_model)
    months = [key[len(DECIDED) :] for key in tags if key.startswith(DECIDED)]
    return max(months) if months else None


class RetrainStep:
    """One month's step of the loop, holding its lock from ``with`` to the block's end:
    ``watch()`` monitors the champion on the month, ``decide(result)`` trains a challenger if
    the result asks for one and promotes it only if better, and records the decision. (The
    orchestrator runs the two as tasks of their own; ``retrain`` runs them in a row.)"""

    def __init__(self, store: Store, month: str, options: Retrain):
        self.store, self.options = store, options.validated()
        self.month = parse_months(month)[0]
        taxi, data_dir = self.options.taxi, self.options.data_dir
        if not month_path(taxi, self.month, data_dir).is_file():
            raise DataError(f"{month_path(taxi, self.month, data_dir)}: file not found")
        self.window = window_before(taxi, self.month, data_dir, self.options.window)
        if not self.window:
            raise DataError(
                f"no {taxi} month before {self.month} in {data_dir} to train a challenger on"
            )
        held = registered_taxi(store, self.options.registered_model)
        if held not in (None, taxi):
            raise TrackingError(
                f"the registered model {self.options.registered_model} holds {held} taxi "
                f"models, not {taxi}"
            )

    def __enter__(self) -> RetrainStep:
        Path(self.options.model_dir).mkdir(parents=True, exist_ok=True)
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(file_lock(lock_path(self.store, self.options)))
        self.folder = Path(self._stack.enter_context(tempfile.TemporaryDirectory()))
        self.done = decided(self.store, self.options, self.month)
        self.pending = self.champion = None
        if self.done is None:
            self.pending = _pending(self.store, self.options, self.month)
            self.champion = _champion(self.store, self.options, self.folder)
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def watch(self) -> MonitorResult | None:
        """The champion on the month (None when there is nothing to watch: the month was
        decided, no champion is crowned yet, or an interrupted step had decided already)."""
        if self.done is not None or self.champion is None:
            return None
        if self.pending is not None and self.pending.version.tags.get(DECISION_TAG):
            return None
        return _watch(self.champion, self.month, self.options)

    def decide(self, result: MonitorResult | None) -> Decision:
        if self.done is not None:
            return replace(self.done, resumed=True)
        store, month, options, window = self.store, self.month, self.options, self.window
        pending, champion = self.pending, self.champion
        if champion is None:
            challenger = pending or _challenger(store, month, window, options, None)
            decision = Decision(month, FIRST, window, challenger.version.version)
            _settle(store, options, decision, challenger)
            champion = _champion(store, options, self.folder)
            return _record(store, champion, month, options, decision, challenger)
        if result is None:  # decided, then interrupted before the month was recorded
            decision = Decision(**json.loads(pending.version.tags["retrain.step"]))
            _settle(store, options, decision, pending)
            return _record(store, champion, month, options, decision, pending)
        decision = Decision(
            month,
            CALM,
            window,
            champion.version.version,
            champion_rmse=result.current.rmse,
            crossed=result.crossed,
            prediction_drift=result.value("prediction_drift", "prediction"),
            coverage=result.current.coverage,
        )
        challenger = None
        if wants_challenger(result.crossed, options.always):
            challenger = pending or _challenger(store, month, window, options, champion.metadata)
            decision.challenger = challenger.version.version
            decision.challenger_rmse = challenger.rmse
            decision.action = verdict(decision.champion_rmse, decision.challenger_rmse)
            _settle(store, options, decision, challenger)
        return _record(store, champion, month, options, decision, challenger, result)


def retrain(store: Store, month: str, options: Retrain) -> Decision:
    """One step of the loop for ``month`` (whose file must be present). A month already
    decided is not decided again: its recorded decision comes back, and nothing changes."""
    with RetrainStep(store, month, options) as step:
        return step.decide(step.watch())


def _champion(store: Store, options: Retrain, folder: Path):
    """The champion, downloaded and checked; None before the first one is crowned."""
    if not has_alias(store, CHAMPION, options.registered_model):
        return None
    return open_model(f"models:/{options.registered_model}@{CHAMPION}", folder, store=store)


def _watch(champion, month: str, options: Retrain) -> MonitorResult:
    return monitor(
        champion.path, month, options.data_dir, options.taxi, options.limits, champion.label
    )


@dataclass(frozen=True)
class Challenger:
    """A registered challenger for a month: its version, its run, its RMSE on the month."""

    version: Version
    run_id: str | None
    rmse: float


def _pending(store, options: Retrain, month: str) -> Challenger | None:
    """The challenger an interrupted step registered for ``month`` (its decision, if it was
    taken, in its version's tags), so that a step run again registers nothing twice."""
    found = versions_tagged(store, MONTH_TAG, month, options.registered_model)
    found = [v for v in found if v.taxi == options.taxi]
    if not found:
        return None
    version = found[-1]
    rmse = run_metric(store, version.run_id, "val_rmse") if version.run_id else None
    return Challenger(version, version.run_id, rmse) if rmse is not None else None


def _settle(store, options: Retrain, decision: Decision, challenger: Challenger) -> None:
    """Tag the challenger's version with the decision first, then move the alias: a step
    interrupted in between finds the decision and completes it (``_step``)."""
    tags = {
        MONTH_TAG: decision.month,
        DECISION_TAG: decision.action,
        "retrain.step": json.dumps(decision.as_dict()),
    }
    tag_version(store, challenger.version, tags)
    if challenger.run_id:
        tag_run(
            store, challenger.run_id, {MONTH_TAG: decision.month, DECISION_TAG: decision.action}
        )
    if decision.action in (FIRST, PROMOTED):
        by = f"ride-duration retrain ({decision.month}: {decision.action})"
        promote(store, challenger.version.version, options.registered_model, by=by)


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
    tracked = train_tracked(
        train_options,
        store,
        register_as=options.registered_model,
        version_tags={MONTH_TAG: month},
    )
    return Challenger(tracked.version, tracked.run.run_id, tracked.result.validation.rmse)


def _record(store, champion, month, options: Retrain, decision: Decision, challenger, result=None):
    """The decision as a line in the month's monitoring report, and recorded on the
    registered model: the month is then decided."""
    if result is None:
        result = _watch(champion, month, options)
        decision.champion_rmse = decision.champion_rmse or result.current.rmse
        decision.prediction_drift = result.value("prediction_drift", "prediction")
        decision.coverage = result.current.coverage
    files, _ = file_report(
        result.with_decision(decision.line()), champion, options.reports_dir, store
    )
    decision.report = str(files[1])
    recorded = {k: v for k, v in decision.as_dict().items() if k != "resumed"}
    tag_registered(store, options.registered_model, {DECIDED + month: json.dumps(recorded)})
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
