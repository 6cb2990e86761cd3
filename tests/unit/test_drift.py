"""Drift statistics and the monitor's own arithmetic, on numbers worked out by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from ride_duration.data.months import month_spans
from ride_duration.modeling.evaluate import Evaluation, daily_errors
from ride_duration.monitoring.drift import counts_of, jensen_shannon, normed_wasserstein, psi
from ride_duration.monitoring.monitor import measure
from ride_duration.monitoring.sample import hour_of_week
from ride_duration.monitoring.statistics import Thresholds


def test_the_normed_wasserstein_distance_is_in_units_of_the_reference_spread():
    rng = np.random.default_rng(0)
    reference = rng.normal(10, 2, 50_000)
    assert normed_wasserstein(reference, reference) == 0
    # Shifting every value by one standard deviation moves the distribution by 1.
    spread = np.std(reference)
    # (within the thousandth the values are rounded to, over the spread)
    assert normed_wasserstein(reference, reference + spread) == pytest.approx(1, abs=1e-3 / spread)
    # The unit does not matter: minutes or seconds give the same number.
    shifted = (reference + spread / 2) * 60
    assert normed_wasserstein(reference * 60, shifted) == pytest.approx(0.5, abs=1e-3 / spread)
    assert math.isnan(normed_wasserstein([], [1.0]))
    assert normed_wasserstein([np.nan, 1.0, 3.0], [1.0, 3.0]) == 0


def test_psi_and_jensen_shannon_by_hand():
    same = {"a": 50, "b": 50}
    assert psi(same, same) == 0 and jensen_shannon(same, same) == 0
    # Shares 0.5/0.5 -> 0.8/0.2: (0.3 ln 1.6) + (-0.3 ln 0.4).
    assert psi(same, {"a": 80, "b": 20}) == pytest.approx(0.3 * math.log(1.6) - 0.3 * math.log(0.4))
    # Disjoint categories: Jensen-Shannon distance 1 bit; PSI large but finite (floored shares).
    assert jensen_shannon({"a": 1}, {"b": 1}) == pytest.approx(1)
    assert 10 < psi({"a": 1}, {"b": 1}) < math.inf


def test_counts_of_plain_values():
    assert counts_of(np.array(["74", "75", "74"])) == {"74": 2, "75": 1}
    assert counts_of(np.array([3, 3, -1])) == {-1: 1, 3: 2}


def test_hour_of_the_week_starts_on_monday():
    times = pd.to_datetime(["2021-02-01 00:10", "2021-02-07 23:59", "2021-02-03 13:00", None])
    assert hour_of_week(times.to_numpy()).tolist() == [0, 167, 2 * 24 + 13, -1]


def test_errors_per_day_leave_out_rides_outside_the_month():
    pickup = pd.to_datetime(
        ["2021-02-01 08:00", "2021-02-01 09:00", "2021-02-28 23:00", "2021-03-01 00:30"]
    ).to_numpy()
    error = np.array([10.0, 20.0, 5.0, 7.0]) - np.array([12.0, 16.0, 5.0, 0.0])
    days = Evaluation(days=daily_errors(pickup, error)).per_day("2021-02")
    assert len(days) == 28
    date, first = days[0]
    assert (date, first.rides, first.rmse, first.mae) == ("2021-02-01", 2, math.sqrt(10), 3.0)
    assert days[27][1].rides == 1 and days[27][1].rmse == 0
    assert days[1][0] == "2021-02-02" and days[1][1].rides == 0
    assert days[1][1].rmse is None and days[1][1].mae is None


def comparison_with(
    rmse=7.0, prediction=0.0, duration=0.0, psi_value=0.0, missing=0.0, coverage=0.8
):
    """What the statistics read of a comparison, with the numbers worked out beforehand."""
    from types import SimpleNamespace as Of

    def number(value):
        return Of(wasserstein_normed=value)

    return Of(
        live=False,
        val_rmse=7.0,
        current=Of(evaluation=Of(rmse=rmse, coverage=coverage)),
        numbers={
            "prediction": number(prediction),
            "duration": number(duration),
            "trip_distance": number(0.0),
        },
        categories={"PULocationID": Of(psi=psi_value), "DOLocationID": Of(psi=0.0)}
        | {"hour_of_week": Of(psi=0.0)},
        missing={"reference": {"trip_distance": 0.01}, "current": {"trip_distance": missing}},
    )


@pytest.mark.parametrize(
    "change, expected",
    [
        ({}, []),
        ({"rmse": 7.0 * 1.11}, ["rmse_ratio: 1.110 > 1.1"]),
        ({"rmse": 7.0 * 1.09}, []),
        ({"prediction": 0.2}, ["prediction_drift (prediction): 0.200 > 0.15"]),
        ({"duration": 0.25}, ["input_drift (duration): 0.250 > 0.2"]),
        ({"psi_value": 0.3}, ["category_psi (PULocationID): 0.300 > 0.25"]),
        ({"missing": 0.07}, ["missing_increase (trip_distance): 0.060 > 0.05"]),
        ({"coverage": 0.74}, ["interval_coverage: 0.740 outside 0.75..0.85"]),
        ({"coverage": 0.86}, ["interval_coverage: 0.860 outside 0.75..0.85"]),
        ({"coverage": 0.85}, []),
    ],
)
def test_each_threshold_is_crossed_by_its_own_number(change, expected):
    measured = measure(comparison_with(**change), Thresholds())
    assert [m.line() for m in measured if m.crossed] == expected


def test_months_are_written_as_spans():
    assert month_spans(["2021-06", "2021-07", "2021-08", "2022-04"]) == [
        "2021-06..2021-08",
        "2022-04",
    ]
    assert month_spans(["2021-12", "2022-01"]) == ["2021-12..2022-01"]
    assert month_spans([]) == []


def test_the_counted_wasserstein_distance_is_scipys_on_rounded_values():
    from scipy.stats import wasserstein_distance

    from ride_duration.monitoring.drift import GRID, wasserstein

    rng = np.random.default_rng(1)
    u, v = rng.gamma(2, 8, 20_000), rng.gamma(2.2, 8, 15_000) - 3
    rounded = np.rint(u / GRID) * GRID, np.rint(v / GRID) * GRID
    assert wasserstein(u, v) == pytest.approx(wasserstein_distance(*rounded), rel=1e-9)
    assert abs(wasserstein(u, v) - wasserstein_distance(u, v)) <= GRID / 2
    # A range too wide to count goes to SciPy.
    wide = np.array([0.0, 1e12])
    assert wasserstein(wide, wide + 1) == pytest.approx(1, rel=1e-9)


def test_each_statistic_by_hand_and_how_it_differs_from_evidently():
    """The numbers the README states: Evidently's defaults agree on the Wasserstein distance
    and on a PSI without empty categories; our Jensen-Shannon distance is in bits where
    Evidently's is in nats (ours = theirs / sqrt(ln 2), 1.201 times), and our PSI floors every
    share at 1e-4 where Evidently replaces only empty ones."""
    # Wasserstein, normed: [0, 1, 2] -> [1, 2, 3] moves every value by 1; std of the reference
    # (population, ddof=0) is sqrt(2/3).
    assert normed_wasserstein(np.array([0.0, 1, 2]), np.array([1.0, 2, 3])) == pytest.approx(
        1 / math.sqrt(2 / 3)
    )
    # PSI by hand, no empty category: shares 0.25/0.75 -> 0.5/0.5.
    by_hand = (0.5 - 0.25) * math.log(0.5 / 0.25) + (0.5 - 0.75) * math.log(0.5 / 0.75)
    assert psi({"a": 1, "b": 3}, {"a": 2, "b": 2}) == pytest.approx(by_hand)
    # A category new in the month: its reference share, 0, is floored at 1e-4.
    floored = (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert psi({"a": 4}, {"a": 2, "b": 2}) == pytest.approx(floored)
    # A tiny share that is not empty is floored too (Evidently would keep it as it is).
    tiny = {"a": 99_999, "b": 1}
    kept = (0.5 - 0.99999) * math.log(0.5 / 0.99999) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert psi(tiny, {"a": 1, "b": 1}) == pytest.approx(kept)
    # Jensen-Shannon distance: base 2, the square root of the divergence in bits.
    p, q = np.array([0.25, 0.75]), np.array([0.5, 0.5])
    m = (p + q) / 2
    nats = 0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m))
    assert jensen_shannon({"a": 1, "b": 3}, {"a": 2, "b": 2}) == pytest.approx(
        math.sqrt(nats / math.log(2))
    )
    assert math.sqrt(nats / math.log(2)) / math.sqrt(nats) == pytest.approx(1.2011, abs=1e-4)
