"""Cohort questions on tiny hand-made months: the 2022 cohort's FHV questions included."""

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ride_duration.reports.homework import COHORTS, QUESTIONS, QUESTIONS_2022, answers
from tests.helpers import run_cli


def write_fhv(folder, month, rides):
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table(
            {
                "dispatching_base_num": ["B00001"] * len(rides),
                "pickup_datetime": pa.array([r[0] for r in rides], pa.timestamp("us")),
                "dropOff_datetime": pa.array([r[1] for r in rides], pa.timestamp("us")),
                "PUlocationID": pa.array([r[2] for r in rides], pa.float64()),
                "DOlocationID": pa.array([r[3] for r in rides], pa.float64()),
                "SR_Flag": [None] * len(rides),
            }
        ),
        folder / f"fhv_tripdata_{month}.parquet",
    )


def rides(month):
    start = dt.datetime(2021, month, 3, 9)
    out = []
    for i in range(12):
        minutes = [5, 12, 30][i % 3]
        pu = None if i % 4 == 0 else float(1 + i % 3)
        out.append((start, start + dt.timedelta(minutes=minutes), pu, float(10 + i % 2)))
    out.append((start, start + dt.timedelta(minutes=90), 1.0, 10.0))  # dropped: too long
    return out


def test_2022_questions_on_fhv(tmp_path):
    write_fhv(tmp_path, "2021-01", rides(1))
    write_fhv(tmp_path, "2021-02", rides(2))
    got = answers("fhv", "2021-01", "2021-02", tmp_path, cohort=2022, offline=True)
    assert list(got) == list(QUESTIONS_2022)
    assert got["records"] == 13
    assert got["duration_mean"] == pytest.approx((4 * (5 + 12 + 30) + 90) / 13)
    assert got["fraction_missing_pickup"] == pytest.approx(3 / 12)
    # PU: -1, 1, 2, 3 (by i % 3 where not missing); DO: 10, 11.
    assert got["n_features"] == 4 + 2
    assert got["train_rmse"] >= 0


def test_cli_cohort_picks_data_and_questions(tmp_path):
    write_fhv(tmp_path, "2021-01", rides(1))
    write_fhv(tmp_path, "2021-02", rides(2))
    result = run_cli(
        "homework", "--cohort", "2022", "--json", "--offline", "--data-dir", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert list(json.loads(result.stdout)) == list(QUESTIONS_2022)


def test_cohort_data():
    assert (COHORTS[2022].taxi, COHORTS[2022].train_month) == ("fhv", "2021-01")
    assert (COHORTS[2023].taxi, COHORTS[2023].train_month) == ("yellow", "2022-01")
    assert COHORTS[2024].train_month == COHORTS[2025].train_month == "2023-01"
    assert COHORTS[2025].questions is QUESTIONS


def test_missing_cohort_month_is_a_clear_error(tmp_path):
    result = run_cli("homework", "--cohort", "2024", "--offline", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "yellow_tripdata_2023-01.parquet" in result.stderr
    assert "Traceback" not in result.stderr
