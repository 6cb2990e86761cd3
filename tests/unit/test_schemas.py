"""Each TLC taxi type's columns map onto one normalised frame (tiny parquet files)."""

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ride_duration.data.dataset import SCHEMAS, read_month
from ride_duration.errors import DataError

PICKUP = [dt.datetime(2021, 1, 1, 10), dt.datetime(2021, 1, 1, 11)]
DROPOFF = [dt.datetime(2021, 1, 1, 10, 12), dt.datetime(2021, 1, 1, 11, 30)]


def write_month(folder, taxi, columns: dict) -> None:
    pq.write_table(pa.table(columns), folder / f"{taxi}_tripdata_2021-01.parquet")


def test_yellow(tmp_path):
    write_month(
        tmp_path,
        "yellow",
        {
            "VendorID": [1, 2],
            "tpep_pickup_datetime": PICKUP,
            "tpep_dropoff_datetime": DROPOFF,
            "PULocationID": [1, 2],
            "DOLocationID": [3, 4],
            "trip_distance": [1.5, 2.5],
        },
    )
    frame = read_month("yellow", "2021-01", tmp_path)
    assert list(frame.columns) == [
        "pickup_datetime",
        "dropoff_datetime",
        "PULocationID",
        "DOLocationID",
        "trip_distance",
    ]
    assert frame["trip_distance"].tolist() == [1.5, 2.5]


def test_green_with_int32_and_nullable_ids_and_large_strings(tmp_path):
    write_month(
        tmp_path,
        "green",
        {
            "lpep_pickup_datetime": PICKUP,
            "lpep_dropoff_datetime": DROPOFF,
            "PULocationID": pa.array([1, None], pa.int32()),
            "DOLocationID": pa.array([3, 4], pa.int32()),
            "trip_distance": [1.0, 2.0],
            "store_and_fwd_flag": pa.array(["N", "Y"], pa.large_string()),
        },
    )
    frame = read_month("green", "2021-01", tmp_path)
    assert frame["PULocationID"].isna().tolist() == [False, True]
    assert "store_and_fwd_flag" not in frame


def test_fhv_has_no_distance_and_odd_casing(tmp_path):
    write_month(
        tmp_path,
        "fhv",
        {
            "dispatching_base_num": ["B1", "B2"],
            "pickup_datetime": PICKUP,
            "dropOff_datetime": DROPOFF,
            "PUlocationID": [161.0, None],
            "DOlocationID": [None, 4.0],
        },
    )
    frame = read_month("fhv", "2021-01", tmp_path)
    assert "trip_distance" not in frame
    assert frame["PULocationID"].tolist()[0] == 161.0


def test_fhvhv_trip_miles_is_the_distance(tmp_path):
    write_month(
        tmp_path,
        "fhvhv",
        {
            "pickup_datetime": PICKUP,
            "dropoff_datetime": DROPOFF,
            "PULocationID": [1, 2],
            "DOLocationID": [3, 4],
            "trip_miles": [3.0, 4.0],
        },
    )
    assert read_month("fhvhv", "2021-01", tmp_path)["trip_distance"].tolist() == [3.0, 4.0]


@pytest.mark.parametrize("taxi", sorted(SCHEMAS))
def test_missing_column_is_named(tmp_path, taxi):
    write_month(tmp_path, taxi, {"unrelated": [1, 2]})
    with pytest.raises(DataError, match=SCHEMAS[taxi].pickup) as error:
        read_month(taxi, "2021-01", tmp_path)
    assert taxi in str(error.value)


def test_timestamps_written_as_text_are_parsed(tmp_path):
    write_month(
        tmp_path,
        "green",
        {
            "lpep_pickup_datetime": ["2021-01-01 10:00:00", "2021-01-01 11:00:00"],
            "lpep_dropoff_datetime": ["2021-01-01 10:12:00", "2021-01-01 11:30:00"],
            "PULocationID": [1, 2],
            "DOLocationID": [3, 4],
            "trip_distance": [1.0, 2.0],
        },
    )
    frame = read_month("green", "2021-01", tmp_path)
    assert frame["pickup_datetime"].iloc[0] == dt.datetime(2021, 1, 1, 10)


def test_a_few_unparseable_timestamps_become_missing_and_are_dropped(tmp_path):
    from ride_duration.data.dataset import prepare

    write_month(
        tmp_path,
        "green",
        {
            "lpep_pickup_datetime": ["2021-01-01 10:00:00", "garbage"],
            "lpep_dropoff_datetime": ["2021-01-01 10:12:00", "2021-01-01 11:30:00"],
            "PULocationID": [1, 2],
            "DOLocationID": [3, 4],
            "trip_distance": [1.0, 2.0],
        },
    )
    frame = read_month("green", "2021-01", tmp_path)
    prepared, report = prepare(frame)
    assert len(prepared) == 1 and report.dropped_missing_time == 1
