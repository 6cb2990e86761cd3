"""Property-based tests: for any frame of trips, preparation keeps its promises."""

import datetime as dt

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from ride_duration.data.dataset import prepare
from tests.helpers import assert_matches_dictvectorizer

BASE = dt.datetime(2021, 1, 1)

ride = st.tuples(
    st.integers(0, 31 * 24 * 3600),  # pickup, seconds into the month
    st.one_of(st.none(), st.integers(-3600, 3 * 3600)),  # duration in seconds (None: missing)
    st.one_of(st.none(), st.integers(1, 265)),  # PULocationID
    st.one_of(st.none(), st.integers(1, 265)),  # DOLocationID
    st.one_of(st.none(), st.floats(-10, 1000, allow_nan=False)),  # trip_distance
)


def frame_of(rides) -> pd.DataFrame:
    pickup = [BASE + dt.timedelta(seconds=r[0]) for r in rides]
    dropoff = [
        p + dt.timedelta(seconds=r[1]) if r[1] is not None else None for p, r in zip(pickup, rides)
    ]
    return pd.DataFrame(
        {
            "pickup_datetime": pd.Series(pickup, dtype="datetime64[us]"),
            "dropoff_datetime": pd.Series(dropoff, dtype="datetime64[us]"),
            "PULocationID": pd.array([r[2] for r in rides], dtype="Int32"),
            "DOLocationID": pd.array([r[3] for r in rides], dtype="Int32"),
            "trip_distance": pd.array([r[4] for r in rides], dtype="float64"),
        }
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(ride, min_size=1, max_size=40))
def test_prepare_invariants(rides):
    frame = frame_of(rides)
    prepared, report = prepare(frame, "2021-01")
    assert ((prepared["duration"] >= 1) & (prepared["duration"] <= 60)).all()
    dropped = (
        report.dropped_missing_time
        + report.dropped_negative
        + report.dropped_too_short
        + report.dropped_too_long
    )
    assert report.rows_kept + dropped == report.rows_read == len(frame)
    assert len(prepared) == report.rows_kept
    for column in ("PULocationID", "DOLocationID", "PU_DO"):
        assert all(isinstance(v, str) for v in prepared[column])
    assert (
        prepared["PU_DO"].astype(str)
        == prepared["PULocationID"].astype(str) + "_" + prepared["DOLocationID"].astype(str)
    ).all()
    expected_kept = [r for r in rides if r[1] is not None and 60 <= r[1] <= 3600]
    assert len(expected_kept) == report.rows_kept
    assert sorted(prepared["PULocationID"].astype(str)) == sorted(
        str(r[2] if r[2] is not None else -1) for r in expected_kept
    )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(ride, min_size=1, max_size=40),
    st.lists(ride, min_size=1, max_size=20),
    st.sampled_from(["lesson", "homework"]),
)
def test_featurisation_matches_dictvectorizer(train_rides, val_rides, feature_set):
    train, _ = prepare(frame_of(train_rides))
    val, _ = prepare(frame_of(val_rides))
    if train.empty or val.empty:
        return
    train, val = train.fillna({"trip_distance": 0.0}), val.fillna({"trip_distance": 0.0})
    assert_matches_dictvectorizer(train, val, feature_set)
