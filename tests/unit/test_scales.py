"""Each ride's scales on hand-made rides: two zones predicted alike but errors of different
spread are each covered at the level asked (one scale per band covers neither), the upper
and lower scales follow errors that lean one way, a ride without its pickup time is covered
as often as one with it, a zone never seen weighs what a typical ride's does, missing zones,
distances and times give finite bounds, a batch and its rides one at a time get the same
bounds, and the sidecar keeps the scales and refuses broken ones."""

import datetime as dt

import numpy as np
import pytest

from ride_duration.errors import ModelFileError
from ride_duration.features.columns import NAT, RideColumns, pickup_micros
from ride_duration.modeling.intervals import FOLDS, Intervals, calibration_folds
from ride_duration.modeling.scales import FACTORS, Scales

MONDAY_8AM = pickup_micros(dt.datetime(2021, 2, 1, 8, 0))
SUNDAY_8AM = pickup_micros(dt.datetime(2021, 2, 7, 8, 0))


def rides_of(pu, do=None, distance=None, pickup=None) -> RideColumns:
    n = len(pu)
    return RideColumns(
        np.asarray(pu, np.int32),
        np.full(n, 7, np.int32) if do is None else np.asarray(do, np.int32),
        np.full(n, 2.0) if distance is None else np.asarray(distance, float),
        np.full(n, MONDAY_8AM, np.int64) if pickup is None else np.asarray(pickup, np.int64),
    )


def two_zones(rng, n):
    """Rides predicted 10-14 minutes from zone 1 (errors of spread 1) and zone 2 (spread 4)."""
    pu = rng.choice([1, 2], n)
    predicted = rng.uniform(10, 14, n)
    return pu, predicted, rng.normal(0, 1, n) * np.where(pu == 1, 1.0, 4.0)


def learned(predicted, residuals, rides) -> Intervals:
    folds = calibration_folds(len(predicted))
    return Intervals.from_residuals(predicted, residuals, rides, folds)


def test_rides_predicted_alike_are_each_covered_by_their_own_width():
    rng = np.random.default_rng(0)
    pu, predicted, residuals = two_zones(rng, 40_000)
    scaled = learned(predicted, residuals, rides_of(pu))
    banded = Intervals.from_residuals(predicted, residuals)
    pu, predicted, residuals = two_zones(rng, 40_000)
    actual = predicted + residuals
    lower, upper = scaled.bounds(predicted, 0.8, rides_of(pu))
    plain = banded.bounds(predicted, 0.8)
    for zone in (1, 2):
        own = pu == zone
        inside = (actual[own] >= lower[own]) & (actual[own] <= upper[own])
        assert inside.mean() == pytest.approx(0.8, abs=0.02), zone
        broad = (actual[own] >= plain[0][own]) & (actual[own] <= plain[1][own])
        assert abs(broad.mean() - 0.8) > 0.1  # one width for both fits neither
    width = upper - lower
    assert np.median(width[pu == 2]) / np.median(width[pu == 1]) == pytest.approx(4, rel=0.15)


def test_errors_that_lean_late_on_weekdays_widen_only_the_upper_side():
    rng = np.random.default_rng(1)
    n = 40_000
    weekday = rng.random(n) < 0.5
    pickup = np.where(weekday, MONDAY_8AM, SUNDAY_8AM)
    predicted = rng.uniform(10, 14, n)
    late = np.where(weekday, 5.0, 1.0)
    residuals = np.where(rng.random(n) < 0.5, -rng.exponential(1.0, n), rng.exponential(late))
    intervals = learned(predicted, residuals, rides_of(np.full(n, 3), pickup=pickup))
    asked = rides_of([3, 3], pickup=[MONDAY_8AM, SUNDAY_8AM])
    lower, upper = intervals.bounds([12.0, 12.0], 0.8, asked)
    above, below = upper - 12.0, 12.0 - lower
    assert above[0] / above[1] == pytest.approx(5, rel=0.2)
    assert below[0] / below[1] == pytest.approx(1, rel=0.1)


def test_a_ride_without_its_pickup_time_is_covered_as_often_as_one_with_it():
    """One ride in ten is at rush hour, its errors ten times as spread as the night's, and
    only for short predictions: a ride whose hour is not given gets the hours' mixed errors
    for its predicted duration, covered at the level asked, by a width between the two."""
    rng = np.random.default_rng(5)

    def rides(n):
        rush = rng.random(n) < 0.1
        pickup = np.where(rush, MONDAY_8AM + 9 * 3_600_000_000, MONDAY_8AM - 5 * 3_600_000_000)
        predicted = np.where(rng.random(n) < 0.5, rng.uniform(20, 22, n), rng.uniform(40, 44, n))
        spread = np.where(rush & (predicted < 30), 10.0, 1.0)
        return predicted, rng.normal(0, 1, n) * spread, pickup

    predicted, residuals, pickup = rides(40_000)
    intervals = learned(predicted, residuals, rides_of(np.full(len(pickup), 3), pickup=pickup))
    predicted, residuals, pickup = rides(40_000)
    actual = predicted + residuals
    bounds = {
        "timed": intervals.bounds(predicted, 0.8, rides_of(np.full(len(pickup), 3), pickup=pickup)),
        "untimed": intervals.bounds(predicted, 0.8, rides_of(np.full(len(pickup), 3),
                                                             pickup=np.full(len(pickup), NAT))),
    }  # fmt: skip
    short = predicted < 30
    for lower, upper in bounds.values():
        for rides_of_a_kind in (short, ~short):
            inside = (actual >= lower) & (actual <= upper)
            assert inside[rides_of_a_kind].mean() == pytest.approx(0.8, abs=0.02)
    rush, width = pickup > MONDAY_8AM, {k: u - lo for k, (lo, u) in bounds.items()}
    mixed = width["untimed"][short].mean()
    assert width["timed"][short & ~rush].mean() < mixed < width["timed"][short & rush].mean()


def test_what_was_never_seen_weighs_a_typical_rides_and_missing_values_give_finite_bounds():
    rng = np.random.default_rng(2)
    pu, predicted, residuals = two_zones(rng, 20_000)
    pu[:5], residuals[:5] = 50, 40.0  # five rides from zone 50, each 40 minutes late
    intervals = learned(predicted, residuals, rides_of(pu))
    for side in (intervals.scales.lower, intervals.scales.upper):
        zones = side.tables[0]  # the pickup-zone table: no ride from zone 200
        assert zones[1] < zones[200] < zones[2] and zones[2] > 2 * zones[1]
        shares = np.bincount(pu, minlength=len(zones)) / len(pu)
        assert zones[200] == pytest.approx(shares @ zones, rel=1e-3)  # a typical ride's
    # Shrunk toward 1: five rides do not make a zone's errors 20 times the others'.
    assert 1 < intervals.scales.upper.tables[0][50] < 3
    missing = RideColumns(
        np.array([-1, 0, 999_999], np.int32),
        np.array([-1, 265, 1_000_000], np.int32),
        np.array([np.nan, 0.0, 1e9]),
        np.array([NAT, NAT, 0], np.int64),
    )
    lower, upper = intervals.bounds([12.0, 1.0, 59.0], 0.8, missing)
    assert np.isfinite(lower).all() and np.isfinite(upper).all()
    assert (lower <= [12.0, 1.0, 59.0]).all() and (upper >= [12.0, 1.0, 59.0]).all()


def test_a_batch_and_its_rides_one_at_a_time_get_the_same_bounds():
    rng = np.random.default_rng(3)
    pu, predicted, residuals = two_zones(rng, 10_000)
    distance = rng.uniform(0, 30, len(pu))
    pickup = MONDAY_8AM + rng.integers(0, 7 * 24, len(pu)) * 3_600_000_000
    rides = rides_of(pu, pu + 3, distance, pickup)
    intervals = learned(predicted, residuals, rides)
    batch = np.column_stack(intervals.bounds(predicted[:200], 0.8, rides.take(slice(0, 200))))
    one = [np.column_stack(intervals.bounds(predicted[i : i + 1], 0.8, rides.take([i])))[0]
           for i in range(200)]  # fmt: skip
    np.testing.assert_array_equal(batch, np.array(one))


def test_the_sidecar_keeps_the_scales_and_refuses_broken_ones():
    rng = np.random.default_rng(4)
    pu, predicted, residuals = two_zones(rng, 5_000)
    intervals = learned(predicted, residuals, rides_of(pu))
    document = intervals.as_dict()
    assert [f.name for f in FACTORS] == document["scales"]["factors"]
    again = Intervals.from_dict(document)
    rides = rides_of(pu[:100])
    np.testing.assert_allclose(
        again.bounds(predicted[:100], 0.8, rides), intervals.bounds(predicted[:100], 0.8, rides),
        atol=1e-4,
    )  # fmt: skip
    first = FACTORS[0].name
    for broken in ({"lower": {}}, {"lower": "x", "upper": 1}, _with(document, first, [-1.0])):
        with pytest.raises(ModelFileError, match="wrong shape"):
            Intervals.from_dict(document | {"scales": broken})
    # A sidecar saved before the scales has none: every ride's scale is 1, as then.
    plain = {k: v for k, v in document.items() if k != "scales"}
    assert Intervals.from_dict(plain).scales is None
    Intervals.from_dict(plain).bounds(predicted[:3], 0.8)  # no rides needed


def test_the_folds_fit_the_scales_without_their_own_rides():
    """A ride's scale while calibrating comes from the other folds: a zone whose rides are
    all in one fold gets the prior (1) for them, not their own spread."""
    n = 5 * 400
    pu = np.full(n, 1)
    folds = calibration_folds(n)
    pu[folds == 2] = 9  # zone 9 only in fold 2
    residuals = np.where(pu == 9, 30.0, 1.0) * np.where(np.arange(n) % 2, 1, -1)
    predicted = np.full(n, 12.0)
    scaled, served = Scales.cross_fitted(predicted, residuals, rides_of(pu), folds)
    own, upper = pu == 9, scaled.upper
    assert upper[own].max() < 3 * upper[~own].min()  # not 30x: fold 2's rides never fit
    assert served.upper.tables[0][9] > 3 * served.upper.tables[0][1]  # served: every fold's
    assert FOLDS == 5


def _with(document, table, values):
    side = document["scales"]["lower"]
    return {"lower": side | {"tables": side["tables"] | {table: values}}, "upper": side}
