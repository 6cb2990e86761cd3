"""The prediction log: every ride answered is recorded, as the model read it, off the request
path; a file under its final name is always whole; what cannot be recorded is counted."""

from __future__ import annotations

import datetime as dt
import math
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from ride_duration.data.recorded import SCHEMA, parse_since, read_recorded, recorded_files
from ride_duration.errors import RideDurationError
from ride_duration.features.columns import RideColumns
from ride_duration.serving import recording
from ride_duration.serving.recording import PredictionLog
from ride_duration.serving.service import create_app
from tests.live.conftest import month_rides

# Reads no real file but the lesson months: CI's newcomer run with them skips these.
pytestmark = pytest.mark.lesson_months_only


def answered(client, body, path="/predict", request_id=None):
    headers = {"X-Request-ID": request_id} if request_id else {}
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.headers["x-request-id"], response.json()


@pytest.mark.parametrize("kind", ["lin_reg", "rich_ridge"])
def test_every_ride_answered_is_recorded_as_the_model_read_it(live_models, tlc_dir, tmp_path, kind):
    rides = month_rides(tlc_dir, "2021-02", 300)
    rides[1] |= {"pickup_datetime": "2021-02-03T10:15:00+05:00"}  # read as 10:15
    if kind == "lin_reg":
        rides[0] = {"PULocationID": 43, "DOLocationID": 151, "trip_distance": 1.8}  # no pickup
        rides[25] = {"PULocationID": 43, "DOLocationID": 151, "trip_distance": 1.8}
    else:
        rides[2] = {"DOLocationID": 7, "trip_distance": 2.0, "pickup_datetime": "2021-02-04T08:00"}
        rides[30] = {"PULocationID": 7, "trip_distance": 0.0, "pickup_datetime": "2021-02-04T08:00"}
    sent = []
    with TestClient(create_app(live_models / "models" / f"{kind}.bin", tmp_path)) as client:
        for i, ride in enumerate(rides[:20]):  # single rides, some with intervals
            path = "/predict?interval=0.8" if i % 2 else "/predict"
            request_id, body = answered(client, ride, path)
            sent.append((request_id, [ride], [body["duration"]], body.get("interval")))
        for start in range(20, 300, 70):  # batches, named by the client
            chunk = rides[start : start + 70]
            path = "/predict?interval=0.9" if start % 140 else "/predict"
            request_id, body = answered(client, chunk, path, request_id=f"client-{start}")
            assert request_id == f"client-{start}"
            sent.append((request_id, chunk, body["durations"], body.get("intervals")))
    log = read_recorded(tmp_path)  # the service's shutdown wrote what it held
    assert len(log) == 300 and log["request_id"].nunique() == len(sent)
    rows = log.set_index(["request_id", log.groupby("request_id").cumcount()])
    for request_id, chunk, durations, intervals in sent:
        mine = rows.loc[request_id]
        assert mine["duration"].tolist() == durations
        assert mine["PULocationID"].tolist() == [r.get("PULocationID", -1) for r in chunk]
        assert mine["DOLocationID"].tolist() == [r.get("DOLocationID", -1) for r in chunk]
        distances = [r.get("trip_distance", math.nan) for r in chunk]
        np.testing.assert_array_equal(mine["trip_distance"].to_numpy(), distances)
        pickups = [
            pd.Timestamp(r["pickup_datetime"]).tz_localize(None) if "pickup_datetime" in r else None
            for r in chunk
        ]
        assert [None if pd.isna(p) else p for p in mine["pickup_datetime"]] == pickups
        if intervals is None:
            assert mine["interval_lower"].isna().all() and mine["interval_level"].isna().all()
        else:
            pairs = intervals if isinstance(intervals[0], list) else [intervals]
            assert mine[["interval_lower", "interval_upper"]].to_numpy().tolist() == pairs
    assert log["model_version"].nunique() == 1
    assert log["time"].min() > pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=5)


def test_the_log_is_written_while_the_service_runs_and_by_date(tmp_path):
    log = PredictionLog(tmp_path, flush_seconds=0.05)
    log.start()
    rides = RideColumns.of([{"PULocationID": 1, "DOLocationID": 2, "trip_distance": 1.0}] * 3)
    midnight = dt.datetime(2026, 12, 4, tzinfo=dt.timezone.utc).timestamp()
    log.record_batch(midnight - 0.5, "a", "v", rides, np.ones(3), None, None, None)
    log.record_ride(midnight + 0.5, "b", "v", {"PULocationID": 5}, 2.0, 0.8, 1.0, 3.0)
    give_up = time.monotonic() + 10
    while log.written < 4 and time.monotonic() < give_up:  # the writer, not the close
        time.sleep(0.02)
    assert log.written == 4 and log.queued == 0
    log.close()
    files = recorded_files(tmp_path)
    assert [f.parent.name for f in files] == ["date=2026-12-03", "date=2026-12-04"]
    for path in files:
        assert pq.read_schema(path).remove_metadata() == SCHEMA
    since = read_recorded(tmp_path, since=dt.datetime.fromtimestamp(midnight, dt.timezone.utc))
    assert since["request_id"].tolist() == ["b"]
    assert since["interval_level"].tolist() == [0.8]


def test_a_full_queue_drops_the_request_from_the_log_and_counts_it(tmp_path):
    log = PredictionLog(tmp_path, max_queued=5)
    rides = RideColumns.of([{"PULocationID": 1, "DOLocationID": 2, "trip_distance": 1.0}] * 4)
    log.record_batch(time.time(), "a", "v", rides, np.ones(4), None, None, None)
    log.record_batch(time.time(), "b", "v", rides, np.ones(4), None, None, None)  # over 5
    log.record_ride(time.time(), "c", "v", {"PULocationID": 1}, 1.0, None, None, None)
    assert (log.queued, log.dropped) == (5, 4)
    log.close()
    assert read_recorded(tmp_path)["request_id"].tolist() == ["a"] * 4 + ["c"]
    assert (log.written, log.queued) == (5, 0)


def test_a_failed_write_leaves_no_file_counts_its_rides_and_the_next_one_is_written(
    tmp_path, monkeypatch, caplog
):
    log = PredictionLog(tmp_path)
    real = pq.write_table

    def broken(table, where, **kwargs):
        with open(where, "wb") as half:
            half.write(b"PAR1 and then the disk was full")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", broken)
    log.record_ride(time.time(), "lost", "v", {"PULocationID": 1}, 1.0, None, None, None)
    log._flush()
    assert (log.dropped, log.written, log.queued) == (1, 0, 0)
    assert "No space left on device" in caplog.text
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # neither a file nor a temporary
    monkeypatch.setattr(pq, "write_table", real)
    log.record_ride(time.time(), "kept", "v", {"PULocationID": 1}, 1.0, None, None, None)
    log.close()
    assert read_recorded(tmp_path)["request_id"].tolist() == ["kept"]


def test_a_killed_writers_temporary_file_is_not_read(tmp_path):
    log = PredictionLog(tmp_path)
    log.record_ride(time.time(), "a", "v", {"PULocationID": 1}, 1.0, None, None, None)
    log.close()
    partition = recorded_files(tmp_path)[0].parent
    (partition / ".part-1-abcdef-000009.parquet.tmp").write_bytes(b"PAR1 half")
    assert read_recorded(tmp_path)["request_id"].tolist() == ["a"]


def test_a_request_recorded_costs_no_python_object_per_ride(tmp_path):
    """The buffers hold arrays: a batch's rides are not kept alive (nor walked by the
    garbage collector) until the next write."""
    import gc
    import weakref

    class Ride(dict):
        pass

    log = PredictionLog(tmp_path)
    rides = [Ride(PULocationID=1, DOLocationID=2, trip_distance=1.0) for _ in range(3)]
    watched = weakref.ref(rides[0])
    log.record_batch(time.time(), "a", "v", RideColumns.of(rides), np.ones(3), None, None, None)
    del rides
    gc.collect()
    assert watched() is None
    assert recording.FLUSH_SECONDS <= 1.0  # what the README states is lost to a SIGKILL


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", dt.datetime(2026, 12, 4, 11, 30, tzinfo=dt.timezone.utc)),
        ("6h", dt.datetime(2026, 12, 4, 6, 0, tzinfo=dt.timezone.utc)),
        ("2d", dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.timezone.utc)),
        ("1w", dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.timezone.utc)),
        ("2026-12-01", dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)),
        ("2026-12-01T08:00+02:00", dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.timezone.utc)),
        ("99999999999999999999d", dt.datetime.min.replace(tzinfo=dt.timezone.utc)),
    ],
)
def test_since_is_a_time_ago_or_an_iso_time(text, expected):
    now = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.timezone.utc)
    assert parse_since(text, now) == expected


@pytest.mark.parametrize("text", ["yesterday", "", "5 parsecs", "2026-13-01", "inf", "-3h"])
def test_a_since_that_is_not_a_time_is_one_line(text):
    with pytest.raises(RideDurationError, match="give a time ago") as raised:
        parse_since(text)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("{model}", "is not a folder"),
        ("/dev/null", "is not a folder"),
        ("{model}/logs", "is not a folder"),
        ("/proc/self/status/logs", "is not a folder"),
    ],
)
def test_a_log_dir_that_cannot_be_one_is_one_line_before_the_port_is_bound(
    live_models, where, says
):
    from tests.helpers import assert_clean_failure, run_cli
    from tests.serve.test_service import free_port

    model = live_models / "models" / "lin_reg.bin"
    result = run_cli(
        "serve",
        "--model",
        str(model),
        "--port",
        str(free_port()),
        "--log-dir",
        where.format(model=model),
    )
    assert_clean_failure(result, "--log-dir", says)
    assert model.read_bytes()[:1] == b"\x80"  # the model is still a pickle
