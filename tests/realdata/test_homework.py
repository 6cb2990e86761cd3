"""Homework answers on real months, against an independent computation the course's way."""

import pandas as pd
import pytest
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error

from ride_duration.reports.homework import answers
from tests.helpers import copy_months

MONTHS = ("green_tripdata_2023-01.parquet", "green_tripdata_2023-02.parquet")


def course_way(path):
    df = pd.read_parquet(path)
    df["duration"] = (df.lpep_dropoff_datetime - df.lpep_pickup_datetime).dt.total_seconds() / 60
    return df


@pytest.fixture(scope="module")
def result(tlc_dir, tmp_path_factory):
    data = copy_months(tlc_dir, tmp_path_factory.mktemp("hw") / "data", *MONTHS)
    return data, answers("green", "2023-01", "2023-02", data, offline=True)


def test_answers_match_the_course_method(result):
    data, got = result
    train, val = (course_way(data / name) for name in MONTHS)
    assert got["columns"] == train.shape[1] - 1  # minus the duration column added here
    assert got["duration_std"] == pytest.approx(train["duration"].std(), rel=1e-12)
    kept = train[(train.duration >= 1) & (train.duration <= 60)].copy()
    assert got["fraction_kept"] == pytest.approx(len(kept) / len(train), rel=1e-12)

    val = val[(val.duration >= 1) & (val.duration <= 60)].copy()
    categorical = ["PULocationID", "DOLocationID"]
    for frame in (kept, val):
        frame[categorical] = frame[categorical].fillna(-1).astype(int).astype(str)
    dv = DictVectorizer()
    x_train = dv.fit_transform(kept[categorical].to_dict(orient="records"))
    x_val = dv.transform(val[categorical].to_dict(orient="records"))
    model = LinearRegression(tol=1e-10).fit(x_train, kept.duration)
    assert got["n_features"] == x_train.shape[1] == 467
    assert got["train_rmse"] == pytest.approx(
        root_mean_squared_error(kept.duration, model.predict(x_train)), rel=1e-6
    )
    assert got["val_rmse"] == pytest.approx(
        root_mean_squared_error(val.duration, model.predict(x_val)), abs=1e-4
    )


def test_answers_are_the_readme_table(result):
    _, got = result
    assert round(got["duration_std"], 4) == 74.9256
    assert round(got["fraction_kept"], 4) == 0.9668
    assert (round(got["train_rmse"], 4), round(got["val_rmse"], 4)) == (7.0399, 7.3562)
