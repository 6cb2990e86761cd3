"""Watch a model on a new month: its errors, and how far the month's rides and predictions have
drifted from the model's training months (the reference). Every registered statistic is
measured against its threshold; ``monitor`` exits 3 when one is crossed, so that a scheduler
can retrain."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pandas as pd

from ..data.months import parse_months
from ..errors import RideDurationError
from ..modeling.evaluate import Evaluation, evaluate_frame
from ..modeling.model import Model, load
from ..modeling.rides import whole_month
from .sample import CategoryDrift, Comparison, NumberDrift, Sample
from .statistics import STATISTICS, Limit, Thresholds


@dataclass(frozen=True)
class Measurement:
    """One statistic's value on one subject, against its limit."""

    statistic: str
    subject: str
    value: float
    limit: Limit
    crossed: bool

    @property
    def metric(self) -> str:
        """Its name as a metric: the statistic, and the subject after a dot."""
        return f"{self.statistic}.{self.subject}" if self.subject else self.statistic

    def line(self) -> str:
        return STATISTICS[self.statistic].crossing(self.subject, self.value, self.limit)

    def as_dict(self) -> dict:
        value = self.value if math.isfinite(self.value) else None
        limit = list(self.limit) if isinstance(self.limit, tuple) else self.limit
        return asdict(self) | {"value": value, "limit": limit}


@dataclass(frozen=True)
class ModelInfo:
    """The model watched, as its sidecar describes it."""

    name: str
    features: str
    train_month: str
    bin_sha256: str
    val_rmse: float
    label: str = ""


@dataclass(frozen=True)
class LiveWindow:
    """The recorded rides a live result watched: where they were read, from and to when, the first
    and last request's times (ISO, UTC), how many requests, and which version answered."""

    log_dir: str
    since: str | None
    until: str | None
    first: str
    last: str
    requests: int
    model_version: str


@dataclass(frozen=True)
class MonitorResult:
    """A month (or the live traffic) watched: both samples' evaluations, what moved, every
    statistic measured and which thresholds were crossed."""

    taxi: str
    month: str
    model: ModelInfo
    reference_months: list[str]
    reference: Evaluation | None
    current: Evaluation | None
    numbers: dict[str, NumberDrift]
    categories: dict[str, CategoryDrift]
    missing: dict[str, dict[str, float]]
    measurements: list[Measurement]
    thresholds: Thresholds
    live: bool = False
    rides: int = 0  # the rides of the month (or the recorded ones) compared
    decision: str | None = None  # what retraining made of it, when it did
    window: LiveWindow | None = None  # live: the recorded rides watched
    extra: dict = field(default_factory=dict)

    @property
    def crossed(self) -> list[str]:
        return [m.line() for m in self.measurements if m.crossed]

    @property
    def status(self) -> str:
        return "alert" if self.crossed else "ok"

    @property
    def rmse_ratio(self) -> float | None:
        if self.current is None or not self.model.val_rmse:
            return None
        return self.current.rmse / self.model.val_rmse

    def value(self, statistic: str, subject: str = "") -> float | None:
        """A measured value (None if it was not measured)."""
        for measurement in self.measurements:
            if (measurement.statistic, measurement.subject) == (statistic, subject):
                return measurement.value
        return None

    def with_decision(self, line: str) -> MonitorResult:
        return replace(self, decision=line)

    def headline(self) -> dict[str, float]:
        """The numbers worth a metric each (MLflow, the backfill figure): the month's errors
        and coverage, and every finite measurement."""
        numbers = {"rides": float(self.rides)}
        if self.current is not None:
            numbers |= {"rmse": self.current.rmse, "mae": self.current.mae}
            if self.current.coverage is not None:
                numbers["coverage"] = self.current.coverage
        for measurement in self.measurements:
            if math.isfinite(measurement.value):
                numbers[measurement.metric] = measurement.value
        return numbers

    def as_dict(self) -> dict:
        """The JSON report: every number."""
        document = {
            "taxi": self.taxi,
            "month": self.month,
            "live": self.live,
            "model": asdict(self.model),
            "reference": _errors(self.reference)
            | {"months": self.reference_months}
            | {"val_rmse": self.model.val_rmse},
            "current": _errors(self.current) | {"rides": self.rides},
        }
        if self.current is not None:
            document["current"]["rows"] = self.current.report.as_dict()
            document["per_day"] = [
                {"date": date, "rides": day.rides, "rmse": day.rmse, "mae": day.mae}
                for date, day in self.current.per_day(self.month)
            ]
        document |= {
            "drift": {name: asdict(entry) for name, entry in self.numbers.items()}
            | {name: asdict(entry) for name, entry in self.categories.items()},
            "missing": self.missing,
            "thresholds": self.thresholds.as_dict(),
            "statistics": [m.as_dict() for m in self.measurements],
            "crossed": self.crossed,
            "status": self.status,
        }
        document |= {"decision": self.decision} if self.decision else {}
        document |= {"window": asdict(self.window)} if self.window else {}
        return json_safe(document | self.extra)


def json_safe(value):
    """``value`` with every float that is not finite (an infinite drift, say) as None: JSON
    has no NaN nor Infinity, and the report must still be written."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def _errors(evaluation: Evaluation | None) -> dict:
    if evaluation is None:
        return {}
    out = {"rides": evaluation.rides, "rmse": evaluation.rmse, "mae": evaluation.mae}
    if evaluation.coverage is not None:
        out |= {
            "level": evaluation.level,
            "coverage": evaluation.coverage,
            "mean_width": evaluation.mean_width,
        }
    return out


def measure(comparison: Comparison, limits: Thresholds) -> list[Measurement]:
    """Every registered statistic that these samples allow, against its limit."""
    out = []
    for name, statistic in STATISTICS.items():
        if statistic.needs_outcomes and comparison.live:
            continue
        limit = limits[name]
        for subject, value in statistic.measure(comparison).items():
            value = float(value) if value is not None else float("nan")
            out.append(Measurement(name, subject, value, limit, statistic.crossed(value, limit)))
    return out


def month_sample(model: Model, taxi: str, months: list[str], data_dir) -> Sample:
    """The rides of these months as the model sees them, scored (pickup times kept, for the
    hour of the week and the errors per day)."""
    frames, total = [], None
    for month in months:
        frame, report = whole_month(taxi, month, data_dir, model.features)
        frames.append(frame)
        total = report if total is None else total + report
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    predicted = model.predict_frame(frame)
    evaluation = evaluate_frame(model, frame, predicted=predicted, report=total, daily=True)
    return Sample.of_frame(frame, predicted, evaluation, total)


def check_model_taxi(metadata: dict, taxi: str, label) -> None:
    """Refuse to watch a model on another taxi type's rides."""
    if metadata["taxi"] != taxi:
        raise RideDurationError(
            f"{label} is a {metadata['taxi']} taxi model; it cannot be monitored on {taxi} rides"
        )


def model_info(metadata: dict, label: str = "") -> ModelInfo:
    return ModelInfo(
        metadata["name"],
        metadata["features"]["set"],
        metadata["train_month"],
        metadata["bin_sha256"],
        metadata["metrics"]["val_rmse"],
        label,
    )


def compare(
    comparison: Comparison,
    metadata: dict,
    taxi: str,
    month: str,
    limits: Thresholds,
    label: str = "",
) -> MonitorResult:
    """The result of a comparison of the model's reference with the rides watched."""
    return MonitorResult(
        taxi=taxi,
        month=month,
        model=model_info(metadata, label),
        reference_months=parse_months(metadata["train_month"]),
        reference=comparison.reference.evaluation,
        current=comparison.current.evaluation,
        numbers=comparison.numbers,
        categories=comparison.categories,
        missing=comparison.missing,
        measurements=measure(comparison, limits),
        thresholds=limits,
        live=comparison.live,
        rides=comparison.current.rides,
    )


def monitor(
    model_path: Path,
    month: str,
    data_dir,
    taxi: str | None = None,
    limits: Thresholds | None = None,
    label: str = "",
) -> MonitorResult:
    """Score ``month`` with the saved model and compare it with the model's training months."""
    limits = (limits or Thresholds()).validated()
    model, metadata = load(model_path)
    taxi = taxi or metadata["taxi"]
    check_model_taxi(metadata, taxi, label or model_path)
    reference = month_sample(model, taxi, parse_months(metadata["train_month"]), data_dir)
    current = month_sample(model, taxi, [month], data_dir)
    comparison = Comparison(reference, current, metadata["metrics"]["val_rmse"])
    return compare(comparison, metadata, taxi, month, limits, label or str(model_path))


def needed_months(model_metadata: dict, month: str) -> list[str]:
    """The months ``monitor`` reads: the model's training months and the month watched."""
    return [*parse_months(model_metadata["train_month"]), month]


__all__ = [
    "LiveWindow",
    "Measurement",
    "ModelInfo",
    "MonitorResult",
    "Thresholds",
    "check_model_taxi",
    "monitor",
    "needed_months",
]
