"""Every bad input ends with exit code 2, a line or two naming what is wrong, no traceback.

All cases go through the real CLI in a subprocess, with --offline (no network)."""

import datetime as dt
import json
import pickle

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import (
    assert_clean_failure,
    needs_capsh_as_root,
    run_cli,
    simple_rides,
    without_overriding_file_modes,
    write_green,
)


def train(data_dir, model_dir, *extra):
    return run_cli(
        "train",
        "--offline",
        "--quiet",
        "--data-dir",
        str(data_dir),
        "--model-dir",
        str(model_dir),
        *extra,
    )


def test_a_good_tiny_month_trains(tiny_months, tmp_path):
    result = train(tiny_months, tmp_path / "models")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "models/lin_reg.bin").is_file()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"VendorID,lpep_pickup_datetime\n1,2021-01-01\n", "not a readable parquet file"),
        (b"", "the file is empty"),
        (b"<!DOCTYPE html><html>403 Forbidden</html>", "HTML"),
    ],
    ids=["csv", "empty", "html"],
)
def test_a_file_that_is_not_parquet(tiny_months, tmp_path, content, fragment):
    target = tiny_months / "green_tripdata_2021-01.parquet"
    target.write_bytes(content)
    assert_clean_failure(train(tiny_months, tmp_path / "m"), str(target), fragment, "delete")


def test_a_truncated_parquet(tiny_months, tmp_path):
    target = tiny_months / "green_tripdata_2021-02.parquet"
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    assert_clean_failure(train(tiny_months, tmp_path / "m"), str(target), "parquet")


def test_a_missing_column_is_named_with_the_taxi_type(tmp_path):
    data = tmp_path / "data"
    path = write_green(data, "2021-01", simple_rides(1))
    table = pq.read_table(path).drop_columns(["lpep_dropoff_datetime"])
    pq.write_table(table, path)
    write_green(data, "2021-02", simple_rides(2))
    assert_clean_failure(train(data, tmp_path / "m"), "'lpep_dropoff_datetime'", "green")


def test_timestamps_that_are_not_timestamps(tmp_path):
    data = tmp_path / "data"
    rides = simple_rides(1)
    write_green(data, "2021-01", rides, lpep_pickup_datetime=pa.array(["soon"] * len(rides)))
    write_green(data, "2021-02", simple_rides(2))
    assert_clean_failure(train(data, tmp_path / "m"), "lpep_pickup_datetime", "not timestamps")


def test_a_month_with_no_rows(tmp_path):
    data = tmp_path / "data"
    write_green(data, "2021-01", [])
    write_green(data, "2021-02", simple_rides(2))
    assert_clean_failure(train(data, tmp_path / "m"), "no trips")


def test_a_month_where_no_trip_lasts_1_to_60_minutes(tmp_path):
    data = tmp_path / "data"
    start = dt.datetime(2021, 1, 5, 10)
    write_green(data, "2021-01", [(start, start + dt.timedelta(seconds=20), 1, 2, 0.1)] * 5)
    write_green(data, "2021-02", simple_rides(2))
    assert_clean_failure(train(data, tmp_path / "m"), "none of its 5 trips", "1 to 60 minutes")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--taxi", "purple"), "unknown taxi type 'purple'"),
        (("--train", "2021-1"), "not a real month"),
        (("--train", "2021-13"), "not a real month"),
        (("--val", "2008-12"), "start at 2009-01"),
        (("--val", "2999-01"), "in the future"),
        (("--alpha", "-1", "--model", "ridge"), "--alpha"),
    ],
)
def test_bad_arguments(tiny_months, tmp_path, args, fragment):
    assert_clean_failure(train(tiny_months, tmp_path / "m", *args), fragment)


def test_a_model_dir_that_cannot_be_created(tiny_months, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert_clean_failure(train(tiny_months, blocker / "models"), "cannot create")


def test_a_model_that_fails_its_checksum(tiny_months, tmp_path):
    assert train(tiny_months, tmp_path / "models").returncode == 0
    model = tmp_path / "models/lin_reg.bin"
    model.write_bytes(pickle.dumps("something else"))
    result = run_cli("predict", "--model", str(model), "--pu", "1", "--do", "4", "--distance", "2")
    assert_clean_failure(result, str(model), "does not match its sidecar")


def test_same_training_and_validation_month_is_only_a_warning(tiny_months, tmp_path):
    result = train(tiny_months, tmp_path / "m", "--val", "2021-01")
    assert result.returncode == 0, result.stderr
    assert "warning: validation month equals training month" in result.stderr


def test_validating_on_an_earlier_month_is_a_warning(tiny_months, tmp_path):
    result = train(tiny_months, tmp_path / "m", "--train", "2021-02", "--val", "2021-01")
    assert result.returncode == 0, result.stderr
    assert (
        "warning: validation month 2021-01 is not after every training month (the last is "
        "2021-02): the model is validated on the past"
    ) in result.stderr
    assert (tmp_path / "m/lin_reg.bin").is_file()


@pytest.mark.parametrize(
    ("train_months", "val_months", "expected"),
    [
        (["2021-01"], ["2021-02"], None),
        (["2021-01", "2021-02"], ["2021-03"], None),
        (["2021-03"], ["2021-02"], "validation month 2021-02 is not after"),
        (["2021-01", "2021-03"], ["2021-02"], "validation month 2021-02 is not after"),
        (["2021-01"], ["2021-01"], "validation month equals training month (2021-01)"),
    ],
)
def test_month_order_note(train_months, val_months, expected):
    from ride_duration.data.dataset import month_order_note

    note = month_order_note(train_months, val_months)
    assert note == expected if expected is None else expected in note


def test_debug_shows_the_traceback(tmp_path):
    result = run_cli(
        "--debug",
        "train",
        "--offline",
        "--data-dir",
        str(tmp_path),
        "--model-dir",
        str(tmp_path / "m"),
    )
    assert result.returncode == 2
    assert "Traceback" in result.stderr


def test_odd_but_valid_rows_are_counted_not_fatal(tmp_path):
    data = tmp_path / "data"
    start = dt.datetime(2021, 1, 5, 10)
    odd = [
        (start, start - dt.timedelta(minutes=5), 1, 2, 1.0),  # dropoff before pickup
        (start, start + dt.timedelta(minutes=10), None, 2, 1.0),  # missing pickup zone
        (start, start + dt.timedelta(minutes=10), 1, 2, -4.0),  # negative distance
        (start, start + dt.timedelta(minutes=10), 1, 2, 90000.0),  # absurd distance
        (dt.datetime(2020, 12, 31, 23, 55), dt.datetime(2021, 1, 1, 0, 5), 1, 2, 1.0),
    ]
    write_green(data, "2021-01", simple_rides(1) + odd)
    write_green(data, "2021-02", simple_rides(2))
    result = train(data, tmp_path / "m", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]["train"]
    assert rows["dropped_negative"] == 1
    assert rows["flagged_missing_location"] == 1
    assert rows["flagged_bad_distance"] == 2
    assert rows["flagged_outside_month"] == 1
    human = train(data, tmp_path / "m").stdout
    rules = ("dropoff before pickup", "zone missing", "distance implausible", "outside the month")
    for rule in rules:
        assert rule in human


@needs_capsh_as_root
def test_a_model_dir_that_cannot_be_written(tiny_months, tmp_path):
    import subprocess
    import sys

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    command = [sys.executable, "-m", "ride_duration", "train", "--offline", "--quiet"]
    command += ["--data-dir", str(tiny_months), "--model-dir", str(locked)]
    try:
        result = subprocess.run(
            without_overriding_file_modes(command), capture_output=True, text=True, timeout=120
        )
        assert_clean_failure(result, "not writable")
    finally:
        locked.chmod(0o755)


def test_an_unwritable_model_dir_is_refused_before_any_work(monkeypatch, tmp_path):
    """The same check in-process, so it runs as root too."""
    from ride_duration.errors import ModelFileError
    from ride_duration.modeling import artifact
    from ride_duration.modeling.train import TrainOptions
    from ride_duration.modeling.train import train as train_model

    monkeypatch.setattr(artifact.os, "access", lambda path, mode: False)
    with pytest.raises(ModelFileError, match="not writable"):
        # No data at all: the folder check comes before reading anything.
        train_model(TrainOptions(data_dir=tmp_path / "nothing", model_dir=tmp_path, offline=True))


@pytest.mark.parametrize("rows", ["0", "-5", "999", "99999999999999999999"])
def test_batch_rows_outside_their_range_are_refused_before_any_work(tiny_months, tmp_path, rows):
    result = train(tiny_months, tmp_path / "m", "--batch-rows", rows)
    assert_clean_failure(result, "--batch-rows must be from 1,000 to")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("rows", ["1000", str(1 << 30)])
def test_batch_rows_at_their_edges_train(tiny_months, tmp_path, rows):
    result = train(tiny_months, tmp_path / "m", "--batch-rows", rows)
    assert result.returncode == 0, result.stderr


def test_a_range_of_missing_months_is_named_in_one_line(tiny_months, tmp_path):
    result = train(tiny_months, tmp_path / "m", "--train", "2009-01..2020-12")
    assert_clean_failure(result, "144 month files are not in", "and 138 more")
