"""Prediction intervals: how sure a prediction is, learned from the training months alone.

Method: cross-conformal quantiles of scaled residuals, conditioned on the ride (its two
scales, ``scales``) and on the predicted duration (Mondrian bands). The rides of the last
training month are split into ``FOLDS`` folds; for each fold a model is fitted on every
training ride but that fold's (the exact fits subtract the fold's sufficient statistics from
the total, so this costs a solve, not a pass), and predicts the fold's rides it never saw.
Their residuals ``actual - predicted`` are honest out-of-sample errors, unlike in-sample ones
(a lesson model's train RMSE is 4.6 minutes where new rides see 7.5). Residual quantiles
are kept per band of predicted duration, because errors grow with the duration: a 5-minute
prediction is rarely 20 minutes off, a 40-minute one often is. Before the quantiles are
taken, each residual is divided by its ride's scale on its side (the errors above a
prediction by the upper scale, those below by the lower), fitted on the other folds'
residuals: the zones, the hour of the week and the distance say how sure one can be
beyond the predicted duration. What a ride needs for its interval (its zones, distance and
pickup time, each may be missing) is known to every request, so the same interval serves a
month in batch and one ride over HTTP. An interval of level L is the prediction plus the
band's (1-L)/2 quantile times the ride's lower scale and its (1+L)/2 quantile times its upper
scale, clipped to the 1-60 minutes a kept ride lasts, and never so far that it leaves out the
prediction itself. A model saved before the scales has none: its scales are 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import MAX_DURATION_MINUTES, MIN_DURATION_MINUTES
from ..features.columns import NAT, RideColumns
from .scales import Scales

LEVEL = 0.8  # the default: a central 80% interval, the 10th to the 90th percentile
FOLDS = 5
BAND_EDGES = (6.0, 9.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0)  # predicted minutes
# Calibration uses at most about this many rides (every k-th of a bigger month): quantiles of
# half a million errors are as good as of three million, at a sixth of the cost.
CALIBRATION_RIDES = 500_000
CHUNK = 1 << 16  # rides bounded at a time
MIN_BAND_RIDES = 500  # a band with fewer calibration rides pools its neighbours' (``pooled_bands``)
# The residual quantile function is kept at these probabilities; levels between them are
# interpolated (a step of 0.0025 moves an 80% bound by a few seconds).
PROBABILITIES = np.round(np.linspace(0.0, 1.0, 401), 4)


@dataclass(frozen=True)
class Intervals:
    """Quantiles of scaled residuals per band of predicted duration (row b: band b; the last
    row: all), and the scales (None: 1 for every ride, as saved before the scales). A ride
    without a pickup time has a typical hour's scales, and quantiles of its own
    (``untimed``): the errors of a mix of hours, scaled alike, spread wider."""

    band_edges: tuple[float, ...]
    quantiles: np.ndarray  # (bands + 1, len(PROBABILITIES))
    rides: tuple[int, ...]  # calibration rides per band
    scales: Scales | None = None
    untimed: np.ndarray | None = None  # like quantiles, for rides without a pickup time

    @classmethod
    def from_residuals(
        cls,
        predicted: np.ndarray,
        residuals: np.ndarray,
        rides: RideColumns | None = None,
        folds: np.ndarray | None = None,
    ) -> Intervals:
        """The intervals of these out-of-fold residuals; given the ``rides`` and their
        calibration ``folds``, the residuals are scaled by the ride's scales first."""
        predicted, residuals = np.asarray(predicted, float), np.asarray(residuals, float)
        bands = np.searchsorted(BAND_EDGES, predicted, side="right")
        counts = np.bincount(bands, minlength=len(BAND_EDGES) + 1)
        rides_per_band = tuple(int(n) for n in counts)
        if rides is None:
            return cls(BAND_EDGES, band_quantiles(bands, counts, residuals), rides_per_band)
        own, scales = Scales.cross_fitted(predicted, residuals, rides, folds)
        above = residuals >= 0
        timed = np.where(above, residuals / own.upper, residuals / own.lower)
        untimed = np.where(above, residuals / own.untimed_upper, residuals / own.untimed_lower)
        return cls(
            BAND_EDGES,
            band_quantiles(bands, counts, timed),
            rides_per_band,
            scales,
            band_quantiles(bands, counts, untimed),
        )

    def bounds(
        self, predicted, level: float = LEVEL, rides: RideColumns | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) of the central interval of this level around each prediction of
        these ``rides`` (needed when the intervals have scales)."""
        check_level(level)
        predicted = np.asarray(predicted, dtype=float)
        if len(predicted) > CHUNK:  # a block at a time: its arrays stay in the cache
            lower, upper = np.empty(len(predicted)), np.empty(len(predicted))
            for start in range(0, len(predicted), CHUNK):
                block = slice(start, start + CHUNK)
                some = None if rides is None else rides.take(block)
                lower[block], upper[block] = self.bounds(predicted[block], level, some)
            return lower, upper
        bands = np.searchsorted(self.band_edges, predicted, side="right")
        low, high = ((1 - level) / 2, (1 + level) / 2)
        low_q, high_q = _at_level(self.quantiles, low, high, bands)
        if self.scales is not None:
            if rides is None or len(rides) != len(predicted):
                raise TypeError("these intervals scale each ride's: give the rides predicted")
            untimed = rides.pickup == NAT
            if untimed.any():
                low_u, high_u = _at_level(self.untimed, low, high, bands)
                low_q, high_q = np.where(untimed, low_u, low_q), np.where(untimed, high_u, high_q)
            lower_scale, upper_scale = self.scales.of(predicted, rides)
            low_q, high_q = low_q * lower_scale, high_q * upper_scale
        with np.errstate(invalid="ignore"):
            lower = np.minimum(np.maximum(predicted + low_q, MIN_DURATION_MINUTES), predicted)
            upper = np.maximum(np.minimum(predicted + high_q, MAX_DURATION_MINUTES), predicted)
        return lower, upper

    def as_dict(self) -> dict:
        scaled = self.scales is not None
        return {
            "method": "cross-conformal residual quantiles per predicted-duration band"
            + (", the residuals divided by each ride's scales" if scaled else ""),
            "folds": FOLDS,
            "band_edges": list(self.band_edges),
            "rides": list(self.rides),
            "probabilities": PROBABILITIES.tolist(),
            "quantiles": np.round(self.quantiles, 6).tolist(),
        } | (
            {"scales": self.scales.as_dict(), "untimed": np.round(self.untimed, 6).tolist()}
            if scaled
            else {}
        )

    @classmethod
    def from_dict(cls, document: dict) -> Intervals:
        """The table a sidecar holds; one that is not such a table is refused in one line."""
        from ..errors import ModelFileError

        try:
            quantiles = np.asarray(document["quantiles"], dtype=float)
            edges, rides = tuple(float(e) for e in document["band_edges"]), document["rides"]
            shaped = quantiles.shape == (len(edges) + 2, len(PROBABILITIES))
            scales = untimed = None
            if "scales" in document:
                scales = Scales.from_dict(document["scales"])
                untimed = np.asarray(document["untimed"], dtype=float)
                shaped = untimed.shape == quantiles.shape and np.isfinite(untimed).all()
        except (KeyError, TypeError, ValueError, AttributeError):
            shaped = False
        if not shaped or not np.isfinite(quantiles).all():
            raise ModelFileError(
                "the sidecar's interval table is not one a model learns (wrong shape or values); "
                "retrain with `ride-duration train`"
            )
        return cls(edges, quantiles, tuple(int(n) for n in rides), scales, untimed)


def band_quantiles(bands: np.ndarray, counts: np.ndarray, residuals: np.ndarray) -> np.ndarray:
    """The residuals' quantiles per band (pooled where few, ``pooled_bands``), and all's."""
    overall = np.quantile(residuals, PROBABILITIES)
    rows = []
    for band in range(len(BAND_EDGES) + 1):
        low, high = pooled_bands(counts, band)
        pooled = residuals[(bands >= low) & (bands <= high)]
        rows.append(np.quantile(pooled, PROBABILITIES) if len(pooled) else overall)
    return np.vstack([*rows, overall])


def _at_level(quantiles: np.ndarray, low: float, high: float, bands: np.ndarray):
    """Each ride's band's quantiles at the probabilities ``low`` and ``high``."""
    table = quantiles[:-1]
    low_q = np.array([np.interp(low, PROBABILITIES, row) for row in table])[bands]
    high_q = np.array([np.interp(high, PROBABILITIES, row) for row in table])[bands]
    return low_q, high_q


def pooled_bands(counts, band: int) -> tuple[int, int]:
    """The bands (first, last) whose calibration rides give ``band`` its quantiles: its own
    when it has ``MIN_BAND_RIDES``, else it and its neighbours, widened one band at a time
    toward the neighbour with more rides, until they have as many (or every band is in).
    The top band is the sparse one (a month with few rides predicted over 40 minutes): its
    neighbour's errors are like its own, where all rides' quantiles, dominated by short
    rides, covered 32-38% of it on the next month and were 9 minutes wide."""
    low = high = band
    last = len(counts) - 1
    while sum(counts[low : high + 1]) < MIN_BAND_RIDES and (low > 0 or high < last):
        if high < last and (low == 0 or counts[high + 1] >= counts[low - 1]):
            high += 1
        else:
            low -= 1
    return low, high


def check_level(level: float) -> float:
    from ..errors import RideDurationError

    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise RideDurationError(f"an interval level is a number between 0 and 1, not {level}")
    return float(level)


def coverage_sums(actual, lower, upper) -> tuple[int, float]:
    """(rides inside their interval, the sum of the widths): they add up over batches."""
    actual = np.asarray(actual, dtype=float)
    inside = (actual >= lower) & (actual <= upper)
    return int(inside.sum()), float(np.sum(upper - lower))


def interval_metrics(covered: int, width_sum: float, rides: int) -> dict:
    """Coverage and mean width (minutes) of the default level's intervals on some rides."""
    return {
        "interval_level": LEVEL,
        "val_coverage": covered / rides if rides else None,
        "val_interval_width": width_sum / rides if rides else None,
    }


def too_few_to_calibrate(rides: int) -> str | None:
    """Why so few rides cannot learn intervals (None if they can): every calibration fold
    needs a ride, and every fold's model the rides of the others."""
    if rides >= FOLDS:
        return None
    return (
        f"only {rides} ride{'s' if rides != 1 else ''} to learn from; a model needs at least "
        f"{FOLDS} (one per fold of the cross-validation its prediction intervals come from)"
    )


def calibration_step(month_rides: int) -> int:
    """Every how many rides of the calibration month one is a calibration ride."""
    return max(1, -(-month_rides // CALIBRATION_RIDES))


def calibration_folds(n_rows: int, offset: int = 0, step: int = 1) -> np.ndarray:
    """Each ride's calibration fold by its position in the month (``offset``: the rides
    before this batch), -1 for the rides between every ``step``-th: interleaved, so each
    fold spans the whole month."""
    position = offset + np.arange(n_rows)
    return np.where(position % step == 0, (position // step) % FOLDS, -1)


def calibrate(design, y: np.ndarray, fit_without, rides: RideColumns) -> Intervals:
    """Intervals from out-of-fold residuals of these calibration rides (``rides``: what the
    scales read of them): ``fit_without(mask)`` returns the (coef, intercept) of a model
    fitted on every training ride but the masked."""
    folds = calibration_folds(design.n_rows, step=calibration_step(design.n_rows))
    predicted = np.empty(design.n_rows)
    for fold in range(FOLDS):
        mask = folds == fold
        coef, intercept = fit_without(mask)
        predicted[mask] = design.rows(mask).dot(coef) + intercept
    used = folds >= 0
    return Intervals.from_residuals(
        predicted[used],
        np.asarray(y, float)[used] - predicted[used],
        rides.take(used),
        folds[used],
    )
