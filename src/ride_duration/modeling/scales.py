"""How far off a prediction tends to be for this kind of ride: two scales per ride, one for
errors above the prediction and one for errors below, each a product of lookup tables.

The bands of predicted duration (``intervals``) make an interval wider for a long prediction
than for a short one, but two rides predicted alike can still differ in how sure one can be:
a 3-mile ride across Manhattan at 5 p.m. on a weekday against the same 3 miles on a Sunday
morning, an airport run against a ride inside one zone. Each scale is the mean absolute error
on its side times one factor per table below (``FACTORS``): the pickup zone, the dropoff zone,
the hour of the week, the distance and the predicted duration, and five of their crossings.
A table's cells are fitted by iterative proportional fitting (each table in turn made to
reproduce its cells' total error, given the others) with shrinkage toward 1: a cell counts as
``SHRINKAGE`` more rides of average error, so a zone seen on a handful of rides keeps a factor
near 1, and a zone never seen or a pickup time missing (every training ride has one) weighs
what a typical ride's does. A ride's scale is then a lookup per table and a product.

Measured on the shared green months against one scale per band (the README's "How sure"):
at equal 80% coverage, 15-25% narrower for the lesson model (whose point prediction knows
neither the hour nor the zones apart from their pair) and 2-5% for rich.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..features.columns import NAT, RideColumns

ZONES = 266  # TLC zones are 1-265; code 0 is any other ID, or a missing one
# Band edges are multiples of half a mile and odd minutes, so a ride's band is a lookup by
# its half-miles (minutes) rather than a search: a band holds the values from its edge up.
DISTANCE_EDGES = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 15.0, 20.0)
DISTANCE_CLASSES = (1.0, 2.0, 4.0, 8.0)  # coarser miles, to cross with a zone
PREDICTED_EDGES = tuple(float(m) for m in range(3, 60, 2))  # predicted minutes
SHRINKAGE = 100.0  # pseudo-rides of average error in every cell
SWEEPS = 8  # rounds of fitting every table in turn (15 narrow the intervals by 0.01-0.02 min)
# Each fold's tables are fitted on at most this many of the other folds' rides (every k-th):
# on a month of 3 million rides, 100,000 gave intervals as narrow at equal coverage as
# 200,000 (9.52 against 9.55 minutes) in 40% less time; a lesson month has fewer.
SCALE_RIDES = 100_000
_HOUR = 3_600_000_000  # microseconds
_HALF_MILES = 41  # 20.5 miles and over share the last distance band
_MINUTES = 60


def _lookup(edges, steps: int, per_unit: float, missing: int) -> np.ndarray:
    """The band (edges at or below the value) of each step of 1/per_unit, and last, of a
    missing value."""
    values = np.arange(steps + 1) / per_unit
    return np.append(np.searchsorted(edges, values, side="right"), missing).astype(np.int32)


_DISTANCE = _lookup(DISTANCE_EDGES, _HALF_MILES, 2.0, len(DISTANCE_EDGES) + 1)
_DISTANCE_CLASS = _lookup(DISTANCE_CLASSES, _HALF_MILES, 2.0, len(DISTANCE_CLASSES) + 1)
_PREDICTED = _lookup(PREDICTED_EDGES, _MINUTES, 1.0, 0)[:-1]
_HOURS3 = np.append((np.arange(168) % 24) // 3, 8).astype(np.int32)  # of the hour of the week


class Codes(NamedTuple):
    """Each ride's cell in the basic tables (the last code of each: missing)."""

    pu: object  # 0..265
    do: object
    week_hour: object  # hour of the week from Monday 0:00, 0..167; 168 missing
    hours3: object  # 3-hour block of the day, 0..7; 8 missing
    distance: object  # 0..15 by DISTANCE_EDGES; 16 missing
    distance_class: object  # 0..4 by DISTANCE_CLASSES; 5 missing
    predicted: object  # 0..29 by PREDICTED_EDGES


SIZES = Codes(ZONES, ZONES, 169, 9, len(DISTANCE_EDGES) + 2, len(DISTANCE_CLASSES) + 2,
              len(PREDICTED_EDGES) + 1)  # fmt: skip


@dataclass(frozen=True)
class Factor:
    """One lookup table: its name (in the sidecar), its number of cells, and each ride's
    cell from the basic codes."""

    name: str
    size: int
    cell: Callable[[Codes], object]


def _crossed(a: str, b: str) -> Factor:
    size_b = getattr(SIZES, b)
    return Factor(
        f"{a} x {b}",
        getattr(SIZES, a) * size_b,
        lambda c: getattr(c, a) * size_b + getattr(c, b),
    )


def _single(name: str) -> Factor:
    return Factor(name, getattr(SIZES, name), lambda c: getattr(c, name))


# The tables, in the order a scale multiplies them. One entry here is one more table.
FACTORS = (
    _single("pu"),
    _single("do"),
    _single("week_hour"),
    _single("distance"),
    _single("predicted"),
    _crossed("predicted", "distance"),
    _crossed("hours3", "predicted"),
    _crossed("pu", "distance_class"),
    _crossed("do", "distance_class"),
    _crossed("hours3", "distance"),
)


def codes(predicted: np.ndarray, rides: RideColumns) -> Codes:
    """The basic codes of a batch of rides and their predictions (int32, lookups)."""
    pickup = rides.pickup
    # 1970-01-01 was a Thursday: hour 72 of the week from Monday 0:00.
    week_hour = np.where(pickup != NAT, (pickup // _HOUR + 72) % 168, 168).astype(np.int32)
    half_miles = np.clip(np.asarray(rides.distance, float) * 2.0, 0.0, _HALF_MILES)
    half_miles = np.nan_to_num(half_miles, nan=_HALF_MILES + 1).astype(np.int32)
    minutes = np.nan_to_num(np.clip(predicted, 0.0, _MINUTES), nan=0.0).astype(np.int32)
    return Codes(
        _zone_codes(rides.pu),
        _zone_codes(rides.do),
        week_hour,
        _HOURS3[week_hour],
        _DISTANCE[half_miles],
        _DISTANCE_CLASS[half_miles],
        _PREDICTED[minutes],
    )


def _zone_codes(zones: np.ndarray) -> np.ndarray:
    zones = np.asarray(zones, np.int32)
    return np.where((zones >= 1) & (zones < ZONES), zones, 0).astype(np.int32)


@dataclass(frozen=True)
class Side:
    """The scale of the errors on one side of the prediction: a mean and a table per factor."""

    mean: float
    tables: tuple[np.ndarray, ...]

    def of(self, cells: list[np.ndarray]) -> np.ndarray:
        scale = np.full(len(cells[0]), self.mean)
        for table, cell in zip(self.tables, cells):
            scale *= table[cell]
        return scale

    @classmethod
    def fit(cls, cells: list[np.ndarray], errors: np.ndarray) -> Side:
        """Tables whose product times the mean reproduces each cell's total error (with
        ``SHRINKAGE`` pseudo-rides of the mean error in every cell)."""
        mean = float(np.mean(errors)) if len(errors) else 0.0
        if not mean > 0:  # no error on this side: nothing to scale
            return cls(1.0, tuple(np.ones(f.size) for f in FACTORS))
        prior = SHRINKAGE * mean
        totals = [np.bincount(c, errors, f.size) for c, f in zip(cells, FACTORS)]
        tables = [np.ones(f.size) for f in FACTORS]
        scale = np.full(len(errors), mean)
        for _ in range(SWEEPS):
            for k, (cell, factor) in enumerate(zip(cells, FACTORS)):
                # A cell's rides share its factor: their scales without it sum to their
                # scales' sum over it, so one pass over the rides fits the table.
                without = np.bincount(cell, scale, factor.size) / tables[k]
                fitted = (totals[k] + prior) / (without + prior)
                scale *= (fitted / tables[k])[cell]
                tables[k] = fitted
        # A cell no ride fell in (a zone never seen, a pickup time missing: every training
        # ride has one) weighs what the rides' factors weigh on average, a typical ride's,
        # not 1, which a table's level (shared with the others') makes arbitrary.
        for k, (cell, factor) in enumerate(zip(cells, FACTORS)):
            rides = np.bincount(cell, minlength=factor.size)
            tables[k] = np.where(rides > 0, tables[k], rides @ tables[k] / len(errors))
        return cls(mean, tuple(tables))

    @classmethod
    def geometric_mean(cls, sides: list[Side]) -> Side:
        """One side whose scale is the geometric mean of these sides' scales, ride by ride."""
        mean = float(np.exp(np.mean([np.log(s.mean) for s in sides])))
        tables = tuple(
            np.exp(np.mean([np.log(s.tables[k]) for s in sides], axis=0))
            for k in range(len(FACTORS))
        )
        return cls(mean, tables)

    def as_dict(self) -> dict:
        return {
            "mean": self.mean,
            "tables": {f.name: np.round(t, 6).tolist() for f, t in zip(FACTORS, self.tables)},
        }

    @classmethod
    def from_dict(cls, document: dict) -> Side:
        tables = tuple(np.asarray(document["tables"][f.name], float) for f in FACTORS)
        mean = float(document["mean"])
        shaped = all(t.shape == (f.size,) for t, f in zip(tables, FACTORS))
        if not (shaped and mean > 0 and all((t > 0).all() for t in tables)):
            raise ValueError("not a scale table")
        return cls(mean, tables)


class Own(NamedTuple):
    """Each calibration ride's scales from the fit without its fold: with its pickup time,
    and as they would be without it."""

    lower: np.ndarray
    upper: np.ndarray
    untimed_lower: np.ndarray
    untimed_upper: np.ndarray


@dataclass(frozen=True)
class Scales:
    """The two scales of every ride: ``lower`` for errors below the prediction, ``upper``
    above."""

    lower: Side
    upper: Side

    def of(self, predicted, rides: RideColumns) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) scales of a batch of rides, given their predicted minutes."""
        cells = _cells(codes(np.asarray(predicted, float), rides))
        return self.lower.of(cells), self.upper.of(cells)

    @classmethod
    def cross_fitted(cls, predicted, residuals, rides: RideColumns, folds: np.ndarray):
        """(the scales of each ride fitted without its fold, with its pickup time and had it
        none, the scales to serve): the served ones are the geometric mean of the folds'
        fits, so no ride's own error sets them."""
        residuals = np.asarray(residuals, float)
        basic = codes(np.asarray(predicted, float), rides)
        # Index arrays of the platform's width: every sweep indexes and counts by them.
        cells = [c.astype(np.intp) for c in _cells(basic)]
        untimed = [c.astype(np.intp) for c in _cells(_untimed(basic))]
        below, above = np.maximum(-residuals, 0.0), np.maximum(residuals, 0.0)
        own = [np.ones(len(residuals)) for _ in range(4)]
        fitted = []
        for fold in np.unique(folds):
            held, rest = np.flatnonzero(folds == fold), np.flatnonzero(folds != fold)
            if not len(rest):  # one fold only: its scales are of its own rides
                rest = held
            rest = rest[:: -(-len(rest) // SCALE_RIDES)]
            kept = [c[rest] for c in cells]
            scales = cls(Side.fit(kept, below[rest]), Side.fit(kept, above[rest]))
            timed, bare = [c[held] for c in cells], [c[held] for c in untimed]
            for k, (side, which) in enumerate(
                [(scales.lower, timed), (scales.upper, timed), (scales.lower, bare),
                 (scales.upper, bare)]
            ):  # fmt: skip
                own[k][held] = side.of(which)
            fitted.append(scales)
        served = cls(
            Side.geometric_mean([s.lower for s in fitted]),
            Side.geometric_mean([s.upper for s in fitted]),
        )
        return Own(*own), served

    def as_dict(self) -> dict:
        return {
            "factors": [f.name for f in FACTORS],
            "shrinkage": SHRINKAGE,
            "lower": self.lower.as_dict(),
            "upper": self.upper.as_dict(),
        }

    @classmethod
    def from_dict(cls, document: dict) -> Scales:
        """Raises ValueError (or KeyError, TypeError) for a document that is not such scales."""
        return cls(Side.from_dict(document["lower"]), Side.from_dict(document["upper"]))


def _untimed(basic: Codes) -> Codes:
    """The codes of the same rides had their pickup time been missing."""
    n = len(basic.pu)
    return basic._replace(week_hour=np.full(n, SIZES.week_hour - 1),
                          hours3=np.full(n, SIZES.hours3 - 1))  # fmt: skip


def _cells(basic: Codes) -> list[np.ndarray]:
    return [f.cell(basic) for f in FACTORS]
