"""Prediction intervals on hand-made residuals and tiny months: the quantiles hold on fresh
draws, bounds are ordered and finite for absurd predictions, the sidecar round-trips, levels
outside (0, 1) are refused, and out-of-fold fits leave out exactly their fold."""

import numpy as np
import pytest

from ride_duration.errors import RideDurationError
from ride_duration.features import build_design
from ride_duration.modeling.intervals import (
    FOLDS,
    Intervals,
    calibration_folds,
    check_level,
    coverage_sums,
)
from ride_duration.modeling.solver import solve
from ride_duration.modeling.statistics import statistics
from tests.helpers import simple_rides, trips


def skewed(rng, n):
    """Predictions from 2 to 50 minutes, with errors that grow with them and lean late."""
    predicted = rng.uniform(2, 50, n)
    return predicted, rng.gamma(2.0, 0.1 * predicted) - 0.2 * predicted


def test_the_quantiles_cover_fresh_draws_at_every_level():
    rng = np.random.default_rng(0)
    intervals = Intervals.from_residuals(*skewed(rng, 200_000))
    predicted, residuals = skewed(rng, 100_000)
    actual = predicted + residuals
    for level in (0.5, 0.8, 0.95):
        lower, upper = intervals.bounds(predicted, level)
        covered, _ = coverage_sums(actual, lower, upper)
        # Clipping at 1 and 60 minutes only trims what no kept ride reaches below 1.
        inside = (actual >= lower) & (actual <= upper) | (actual < 1) & (lower == 1)
        assert inside.mean() == pytest.approx(level, abs=0.01)
        assert covered <= inside.sum()
    # Errors grow with the prediction: so do the intervals.
    lower, upper = intervals.bounds([5.0, 45.0])
    assert upper[0] - lower[0] < (upper[1] - lower[1]) / 3


def test_bounds_are_ordered_and_finite_even_for_absurd_predictions():
    intervals = Intervals.from_residuals(*skewed(np.random.default_rng(1), 20_000))
    predicted = np.array([-5.0, 0.0, 1.0, 30.0, 59.9, 60.0, 75.0, 1e6])
    lower, upper = intervals.bounds(predicted, 0.8)
    assert np.isfinite(lower).all() and np.isfinite(upper).all()
    assert (lower <= predicted).all() and (predicted <= upper).all()
    inside = (predicted >= 1) & (predicted <= 60)
    assert (lower[inside] >= 1).all() and (upper[inside] <= 60).all()


def test_a_band_with_few_rides_pools_its_neighbours_not_every_ride():
    """The sparse top band (few rides predicted over 40 minutes) borrows the 30-40 band's
    errors, which are like its own, not all rides', which short rides dominate."""
    rng = np.random.default_rng(2)

    def rides(n_short, n_long, n_top):
        predicted = np.concatenate(
            [rng.uniform(2, 5, n_short), rng.uniform(31, 39, n_long), np.full(n_top, 45.0)]
        )
        spread = np.where(predicted > 30, 10.0, 1.0)
        return predicted, rng.normal(0, 1, len(predicted)) * spread

    intervals = Intervals.from_residuals(*rides(5000, 2000, 50))
    assert intervals.rides[0] == 5000 and intervals.rides[-2] == 2000 and intervals.rides[-1] == 50
    predicted, residuals = rides(0, 0, 20_000)
    lower, upper = intervals.bounds(predicted, 0.8)
    inside = (predicted + residuals >= lower) & (predicted + residuals <= upper)
    assert inside.mean() == pytest.approx(0.8, abs=0.02)  # all rides' quantiles: about 0.2
    # A band with no neighbour to pool with (every other band empty) takes all rides'.
    predicted, residuals = rng.uniform(2, 5, 5000), rng.normal(0, 1, 5000)
    predicted[:10] = 45.0
    alone = Intervals.from_residuals(predicted, residuals)
    np.testing.assert_array_equal(alone.quantiles[-2], alone.quantiles[-1])


def test_the_sidecar_form_round_trips_and_is_checked():
    intervals = Intervals.from_residuals(*skewed(np.random.default_rng(3), 10_000))
    again = Intervals.from_dict(intervals.as_dict())
    np.testing.assert_allclose(again.quantiles, intervals.quantiles, atol=1e-6)
    assert again.band_edges == intervals.band_edges and again.rides == intervals.rides
    from ride_duration.errors import ModelFileError

    for broken in (
        intervals.as_dict() | {"quantiles": [[0.0]]},
        intervals.as_dict() | {"quantiles": "garbage"},
        {k: v for k, v in intervals.as_dict().items() if k != "band_edges"},
    ):
        with pytest.raises(ModelFileError, match="wrong shape"):
            Intervals.from_dict(broken)


@pytest.mark.parametrize("level", [0, 1, -0.5, 1.5, float("nan"), float("inf"), "0.8", None])
def test_levels_outside_zero_to_one_are_refused(level):
    with pytest.raises(RideDurationError, match="between 0 and 1"):
        check_level(level)


def test_folds_interleave_across_batches():
    whole = calibration_folds(23)
    pieces = np.concatenate([calibration_folds(10), calibration_folds(13, offset=10)])
    np.testing.assert_array_equal(whole, pieces)
    assert np.bincount(whole).tolist() == [5, 5, 5, 4, 4] and FOLDS == 5


def test_a_fold_fit_from_subtracted_statistics_equals_a_fit_without_the_fold():
    """What the intervals are learned from: the total's statistics minus a fold's are the
    statistics of the other rides, so their solution is the fit that never saw the fold."""
    from ride_duration.data.dataset import prepare

    frame, _ = prepare(trips(simple_rides(n=60)), "2021-01", timestamps="none")
    design, _ = build_design("lesson", frame)
    y = frame["duration"].to_numpy()
    mask = calibration_folds(len(y)) == 2
    total = statistics(design, y)
    for alpha in (0.0, 1.0):
        subtracted = solve(total - statistics(design.rows(mask), y[mask]), alpha)
        direct = solve(statistics(design.rows(~mask), y[~mask]), alpha)
        fold = design.rows(mask)
        np.testing.assert_allclose(
            fold.dot(subtracted[0]) + subtracted[1], fold.dot(direct[0]) + direct[1], atol=1e-8
        )
