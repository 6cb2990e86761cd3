"""The 1-60 minute rule and the model's columns, pinned on tiny hand-made frames."""

import numpy as np
import pandas as pd
import pytest

from ride_duration.data.dataset import parse_month, prepare
from ride_duration.errors import RideDurationError
from tests.helpers import at, trips


def test_duration_edges_are_inclusive():
    frame = trips(
        [
            (at(1, 10), at(1, 10, 1), 1, 2, 1.0),  # exactly 1 minute: kept
            (at(1, 10), at(1, 11), 1, 2, 1.0),  # exactly 60 minutes: kept
            (at(1, 10), at(1, 10, 0, 59), 1, 2, 1.0),  # 59 seconds: dropped
            (at(1, 10), at(1, 11, 0, 1), 1, 2, 1.0),  # 60 minutes 1 second: dropped
            (at(1, 10), at(1, 10, 10), 1, 2, 1.0),  # 10 minutes: kept
        ]
    )
    prepared, report = prepare(frame)
    assert prepared["duration"].tolist() == [1.0, 60.0, 10.0]
    assert (report.rows_read, report.rows_kept) == (5, 3)
    assert (report.dropped_too_short, report.dropped_too_long) == (1, 1)


def test_negative_and_missing_times_are_dropped_and_counted():
    frame = trips(
        [
            (at(1, 10), at(1, 9), 1, 2, 1.0),
            (at(1, 10), None, 1, 2, 1.0),
            (at(1, 10), at(1, 10, 5), 1, 2, 1.0),
        ]
    )
    prepared, report = prepare(frame)
    assert len(prepared) == 1
    assert report.dropped_negative == 1
    assert report.dropped_missing_time == 1
    assert report.rows_kept + report.dropped_negative + report.dropped_missing_time == 3


def test_ids_become_strings_with_missing_as_minus_one():
    frame = trips(
        [
            (at(1, 10), at(1, 10, 5), 43, 151, 1.8),
            (at(1, 10), at(1, 10, 5), None, 151, 1.0),
            (at(1, 10), at(1, 10, 5), 7, None, 1.0),
        ]
    )
    frame["PULocationID"] = frame["PULocationID"].astype("Int32")
    prepared, report = prepare(frame)
    assert prepared["PULocationID"].tolist() == ["43", "-1", "7"]
    assert prepared["DOLocationID"].tolist() == ["151", "151", "-1"]
    assert prepared["PU_DO"].tolist() == ["43_151", "-1_151", "7_-1"]
    assert all(isinstance(v, str) for v in prepared["PU_DO"])
    assert report.flagged_missing_location == 2


def test_float_ids_as_in_fhv_files_lose_their_decimal_point():
    frame = trips([(at(1, 10), at(1, 10, 5), 161.0, np.nan, None)])
    prepared, _ = prepare(frame)
    assert prepared["PU_DO"].tolist() == ["161_-1"]


def test_rides_outside_the_files_month_are_kept_and_counted():
    frame = trips(
        [
            (at(31, 23, 50, month=12).replace(year=2020), at(1, 0, 5), 1, 2, 1.0),
            (at(1, 10), at(1, 10, 5), 1, 2, 1.0),
            (at(1, 10, month=2), at(1, 10, 5, month=2), 1, 2, 1.0),
        ]
    )
    prepared, report = prepare(frame, "2021-01")
    assert len(prepared) == 3
    assert report.flagged_outside_month == 2


def test_odd_distances_are_kept_and_flagged():
    frame = trips(
        [
            (at(1, 10), at(1, 10, 5), 1, 2, -3.0),
            (at(1, 10), at(1, 10, 5), 1, 2, 25000.0),
            (at(1, 10), at(1, 10, 5), 1, 2, 2.0),
        ]
    )
    prepared, report = prepare(frame)
    assert len(prepared) == 3
    assert report.flagged_bad_distance == 2


@pytest.mark.parametrize(
    "text", ["2021-13", "2021-00", "21-01", "2021/01", "", "2008-12", "3000-01"]
)
def test_bad_months_are_refused(text):
    with pytest.raises(RideDurationError):
        parse_month(text)


def test_month_is_normalised():
    assert parse_month(" 2021-01 ") == "2021-01"


def test_prepare_does_not_change_its_input():
    frame = trips([(at(1, 10), at(1, 10, 5), 1, 2, 1.0)])
    before = frame.copy()
    prepare(frame)
    pd.testing.assert_frame_equal(frame, before)
