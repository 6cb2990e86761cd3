"""The monitored statistics: what is measured of a new month (or the live traffic) against the
model's training months, and the threshold past which it counts as changed.

Adding a statistic is one ``register(Statistic(...))`` entry: its name (which is also its
threshold's flag, ``rmse_ratio`` -> ``--rmse-ratio``), what it measures (the flag's help),
its default threshold and how it is computed. ``monitor`` measures every registered
statistic; the JSON and HTML reports, the MLflow metrics, the crossed thresholds (exit 3) and
the command line's flags all read this registry.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import RideDurationError
from .sample import Comparison

Limit = float | tuple[float, float]  # an upper limit, or a band (low, high)


@dataclass(frozen=True)
class Statistic:
    """One monitored statistic. ``measure`` returns its value per subject ({"": value} for
    a statistic of the whole month); a value is crossed when it is above the limit, or, for a
    band, outside it. ``needs_outcomes``: only measured when the rides' actual durations are
    known (not on live traffic)."""

    name: str
    description: str
    default: Limit
    measure: Callable[[Comparison], dict[str, float]]
    needs_outcomes: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def is_band(self) -> bool:
        return isinstance(self.default, tuple)

    def crossed(self, value: float, limit: Limit) -> bool:
        if value is None or math.isnan(value):
            return False
        if self.is_band:
            low, high = limit
            return not low <= value <= high
        return value > limit

    def show(self, limit: Limit) -> str:
        return f"{limit[0]:g}..{limit[1]:g}" if self.is_band else f"{limit:g}"

    def crossing(self, subject: str, value: float, limit: Limit) -> str:
        """'rmse_ratio: 1.140 > 1.1', 'category_psi (PULocationID): 0.312 > 0.25'."""
        where = f" ({subject})" if subject else ""
        relation = f"outside {self.show(limit)}" if self.is_band else f"> {limit:g}"
        return f"{self.name}{where}: {value:.3f} {relation}"

    def check(self, limit) -> Limit:
        """The limit, if it is one this statistic can take: finite and positive (a band:
        two such numbers, the lower first); else a one-line error naming the flag."""
        numbers = tuple(limit) if isinstance(limit, (tuple, list)) else (limit,)
        wanted = 2 if self.is_band else 1
        ok = len(numbers) == wanted and all(
            isinstance(n, (int, float)) and math.isfinite(n) and n > 0 for n in numbers
        )
        if ok and self.is_band:
            ok = numbers[0] < numbers[1]
        if not ok:
            form = ": two numbers, LOW..HIGH with LOW below HIGH" if self.is_band else ""
            raise RideDurationError(
                f"{self.flag} must be positive and finite{form}, not {_written(limit)}"
            )
        return (float(numbers[0]), float(numbers[1])) if self.is_band else float(numbers[0])

    def parse(self, text: str) -> Limit:
        """A limit as the command line writes it: a number, or LOW..HIGH for a band."""
        parts = str(text).replace(",", "..").split("..") if self.is_band else [str(text)]
        try:
            numbers = [float(part) for part in parts]
        except ValueError:
            numbers = [float("nan")] * len(parts)
        return self.check(tuple(numbers) if self.is_band else numbers[0])


def _written(limit) -> str:
    if isinstance(limit, (tuple, list)):
        return "..".join(str(n) for n in limit)
    return str(limit)


STATISTICS: dict[str, Statistic] = {}


def register(statistic: Statistic) -> Statistic:
    STATISTICS[statistic.name] = statistic
    return statistic


def statistic(name: str) -> Statistic:
    try:
        return STATISTICS[name]
    except KeyError:
        raise RideDurationError(
            f"unknown monitored statistic {name!r}: choose {', '.join(STATISTICS)}"
        ) from None


class Thresholds:
    """The limit of every registered statistic: its default unless given (by name)."""

    def __init__(self, **limits):
        for name in limits:
            statistic(name)
        self._limits = {name: limits.get(name, s.default) for name, s in STATISTICS.items()}

    def __getitem__(self, name: str) -> Limit:
        return self._limits[name] if name in self._limits else statistic(name).default

    def __eq__(self, other) -> bool:
        return isinstance(other, Thresholds) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"Thresholds({', '.join(f'{k}={v!r}' for k, v in self._limits.items())})"

    @classmethod
    def names(cls) -> list[str]:
        return list(STATISTICS)

    def validated(self) -> Thresholds:
        """These thresholds, each checked (finite, positive; bands ordered)."""
        return Thresholds(**{name: statistic(name).check(v) for name, v in self._limits.items()})

    def as_dict(self) -> dict:
        return {name: list(v) if isinstance(v, tuple) else v for name, v in self._limits.items()}


def _rmse_ratio(comparison: Comparison) -> dict[str, float]:
    current = comparison.current.evaluation
    if current is None or not comparison.val_rmse:
        return {}
    return {"": current.rmse / comparison.val_rmse}


def _wasserstein(*names: str):
    def measure(comparison: Comparison) -> dict[str, float]:
        numbers = comparison.numbers
        return {name: numbers[name].wasserstein_normed for name in names if name in numbers}

    return measure


def _psi(comparison: Comparison) -> dict[str, float]:
    return {name: entry.psi for name, entry in comparison.categories.items()}


def _missing_increase(comparison: Comparison) -> dict[str, float]:
    reference, current = comparison.missing["reference"], comparison.missing["current"]
    return {name: share - reference.get(name, 0.0) for name, share in current.items()}


register(
    Statistic(
        "rmse_ratio",
        "the month's RMSE over the model's validation RMSE",
        1.10,
        _rmse_ratio,
        needs_outcomes=True,
    )
)
register(
    Statistic(
        "prediction_drift",
        "Wasserstein distance of the predictions / the reference's std",
        0.15,
        _wasserstein("prediction"),
    )
)
register(
    Statistic(
        "input_drift",
        "the same for duration and distance",
        0.20,
        _wasserstein("duration", "trip_distance"),
    )
)
register(
    Statistic(
        "category_psi",
        "PSI of pickup zone, dropoff zone or hour of the week",
        0.25,
        _psi,
    )
)
register(
    Statistic(
        "missing_increase",
        "rise of a field's share of missing values",
        0.05,
        _missing_increase,
    )
)


def _coverage(comparison: Comparison) -> dict[str, float]:
    current = comparison.current.evaluation
    if current is None or current.coverage is None:
        return {}
    return {"": current.coverage}


# Too low, and the intervals promise more than they keep; too high, and they are wider than
# they need be: either way the month is not the one the model learned its intervals on.
register(
    Statistic(
        "interval_coverage",
        "share of the month's rides inside their 80% prediction interval",
        (0.75, 0.85),
        _coverage,
        needs_outcomes=True,
    )
)
