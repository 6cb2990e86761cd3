"""One model, one prediction: for every feature set, on every validation ride of the lesson
months, the model's predictions for rides given as dicts (the service's and the CLI's path)
and for a prepared frame (training's, validation's and predict --month's) equal what the
saved scikit-learn Pipeline predicts."""

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from ride_duration import load_model, read_metadata
from ride_duration.data.dataset import load_prepared, zone_ids
from ride_duration.features.columns import RideColumns
from ride_duration.features.rich import RAW_COLUMNS
from ride_duration.modeling.model import Model, load
from tests.helpers import assert_clean_failure, copy_months, run_cli, train_with_cli

# Reads no real file but the lesson months: CI's newcomer run with them skips these.
pytestmark = pytest.mark.lesson_months_only


@pytest.fixture(scope="module")
def models(tlc_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("scorer")
    data = copy_months(
        tlc_dir, root / "data", "green_tripdata_2021-01.parquet", "green_tripdata_2021-02.parquet"
    )
    train_with_cli(data, root / "models", "lesson", "homework", "rich", named=True)
    frame = load_prepared("green", "2021-02", data)[0]
    return root / "models", frame


PARTS = {
    "lesson": ["intercept", "pickup_dropoff", "distance"],
    "homework": ["intercept", "pickup", "dropoff"],
    "rich": ["intercept", "pickup_dropoff", "hour_of_week", "zone_x_hour", "distance_shape"],
}


@pytest.mark.parametrize("features", ["lesson", "homework", "rich"])
def test_every_validation_ride_is_explained_by_parts_that_add_up(models, features, tmp_path):
    """Through the CLI (a month's parts as columns) and the service (?explain=true), every
    ride of the validation month: its parts add up to its prediction, an unseen value is
    named and weighs 0."""
    from fastapi.testclient import TestClient

    from ride_duration.serving.service import create_app

    folder, frame = models
    path = folder / f"{features}.bin"
    out = tmp_path / "explained.parquet"
    result = run_cli(
        "predict", "--offline", "--model", str(path), "--month", "2021-02",
        "--data-dir", str(folder.parent / "data"), "--output", str(out), "--explain",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = pd.read_parquet(out)
    columns = [c for c in written.columns if c.startswith("part_")]
    assert columns == [f"part_{name}" for name in PARTS[features]]
    np.testing.assert_allclose(
        written[columns].sum(axis=1), written.predicted_duration, atol=1e-9, rtol=0
    )
    assert len(written) == len(frame)

    model, _ = load(path)
    weights = dict(zip(model.feature_names, model.coef))
    rides = [
        {"PULocationID": p, "DOLocationID": d, "trip_distance": t, "pickup_datetime": w}
        for p, d, t, w in zip(
            zone_ids(frame["PULocationID"]).tolist(),
            zone_ids(frame["DOLocationID"]).tolist(),
            frame["trip_distance"].tolist(),
            [w.isoformat() for w in frame["pickup_datetime"]],
        )
    ]
    unseen_parts = 0
    with TestClient(create_app(path, None, False)) as client:
        for start in range(0, len(rides), 10_000):
            answer = client.post("/predict?explain=true", json=rides[start : start + 10_000])
            assert answer.status_code == 200, answer.text
            body = answer.json()
            # a batch is written from arrays: the JSON of the parts' dicts exactly
            chunk = model.explain_rides(rides[start : start + 10_000])
            assert body["explanations"] == [e.as_list() for e in chunk]
            for duration, parts in zip(body["durations"], body["explanations"]):
                assert [p["part"] for p in parts] == PARTS[features]
                assert abs(sum(p["minutes"] for p in parts) - duration) <= 1e-9
                for part in parts:
                    assert all(label not in weights for label in part["unseen"])
                    if part["unseen"] and len(part["unseen"]) == len(part["features"]):
                        assert part["minutes"] == 0.0  # nothing seen: nothing added
                        unseen_parts += 1
    assert unseen_parts > 0  # February has pairs January never saw
    np.testing.assert_allclose(
        written.predicted_duration, model.predict_frame(frame), atol=1e-9, rtol=0
    )


def test_one_ride_explained_on_the_command_line(models):
    folder, _ = models
    result = run_cli(
        "predict", "--model", str(folder / "lesson.bin"),
        "--pu", "1", "--do", "264", "--distance", "3", "--explain", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    parts = {p["part"]: p for p in answer["explanation"]}
    assert parts["pickup_dropoff"] == {
        "part": "pickup_dropoff",
        "minutes": 0.0,
        "features": {"PU_DO": "1_264"},
        "unseen": ["PU_DO=1_264"],
    }
    assert abs(sum(p["minutes"] for p in parts.values()) - answer["minutes"]) <= 1e-9
    shown = run_cli(
        "predict", "--model", str(folder / "lesson.bin"),
        "--pu", "1", "--do", "264", "--distance", "3", "--explain",
    )  # fmt: skip
    assert "pickup_dropoff" in shown.stdout and "unseen: PU_DO=1_264: 0 min" in shown.stdout
    assert_clean_failure(
        run_cli("predict", "--model", str(folder / "lesson.bin"), "--month", "2021-02",
                "--explain"),
        "--explain with --month writes each ride's parts to --output",
    )  # fmt: skip


@pytest.mark.parametrize("features", ["lesson", "homework", "rich"])
def test_the_model_predicts_what_its_pipeline_predicts(models, features):
    folder, frame = models
    pipeline = load_model(folder / f"{features}.bin")
    model, metadata = load(folder / f"{features}.bin")
    assert metadata == read_metadata(folder / f"{features}.bin")
    pu, do = zone_ids(frame["PULocationID"]), zone_ids(frame["DOLocationID"])
    miles, when = frame["trip_distance"].to_numpy(), list(frame["pickup_datetime"])
    rides = [
        {"PULocationID": p, "DOLocationID": d, "trip_distance": t, "pickup_datetime": w}
        for p, d, t, w in zip(pu.tolist(), do.tolist(), miles.tolist(), when)
    ]
    if features == "rich":
        expected = pipeline.predict(frame[list(RAW_COLUMNS)])
    elif features == "lesson":
        expected = pipeline.predict(
            [
                {
                    "PU_DO": f"{r['PULocationID']}_{r['DOLocationID']}",
                    "trip_distance": r["trip_distance"],
                }
                for r in rides
            ]
        )
    else:
        expected = pipeline.predict(
            [
                {"PULocationID": str(r["PULocationID"]), "DOLocationID": str(r["DOLocationID"])}
                for r in rides
            ]
        )
    np.testing.assert_allclose(model.predict_rides(rides), expected, atol=1e-9, rtol=0)
    np.testing.assert_allclose(model.predict_frame(frame), expected, atol=1e-9, rtol=0)
    # A batch's column scorer (where the set has one) adds the same weights in the same order
    # as the per-ride path: equal to the last bit, odd rides included (missing and unseen
    # zones, a missing or huge distance).
    odd = [
        {"PULocationID": -1, "DOLocationID": 151, "trip_distance": 1.8},
        {"PULocationID": 999_999, "DOLocationID": -1, "trip_distance": 1e6},
        {"PULocationID": 43, "DOLocationID": 151},
        {"PULocationID": 0, "DOLocationID": 0, "trip_distance": 0.0},
    ]
    new_york = dt.timezone(-dt.timedelta(hours=5))
    odd += [  # a pickup before 1970 in another zone, a leap day, an implausible distance, none
        {"PULocationID": 7, "DOLocationID": 7, "trip_distance": 0.3,
         "pickup_datetime": dt.datetime(1969, 12, 31, 23, 59, tzinfo=new_york)},
        {"PULocationID": 7, "DOLocationID": 7, "trip_distance": -3.0,
         "pickup_datetime": dt.datetime(2024, 2, 29, 0, 0)},
        {"PULocationID": 7, "DOLocationID": 8,
         "pickup_datetime": dt.datetime(2021, 1, 4, 23, 59, 59, 999_999)},
        {"PULocationID": 7, "DOLocationID": 8, "trip_distance": 2.0,
         "pickup_datetime": dt.datetime(9999, 12, 31, 23, 59, 59, 999_999)},
        {"PULocationID": 7, "DOLocationID": 8, "trip_distance": 2.0,
         "pickup_datetime": dt.datetime(1, 1, 1)},
    ]  # fmt: skip
    for batch in (rides, odd):
        columns = model.predict_columns(RideColumns.of(batch))
        np.testing.assert_array_equal(columns, np.array(model.predict_rides(batch)))
    # The export round-trips: the model a pipeline holds exports the same pipeline.
    again = Model.from_pipeline(model.to_pipeline(), metadata)
    np.testing.assert_array_equal(again.coef, model.coef)
    assert again.feature_names == model.feature_names
    assert again.distance_median == model.distance_median


def test_predict_one_ride_from_the_command_line(models):
    folder, _ = models
    rich = folder / "rich.bin"
    common = ["predict", "--model", str(rich), "--pu", "43", "--do", "151", "--distance", "1.8"]
    result = run_cli(*common, "--pickup", "2021-02-01T08:15", "--json")
    assert result.returncode == 0, result.stderr
    ride = {
        "PULocationID": 43,
        "DOLocationID": 151,
        "trip_distance": 1.8,
        "pickup_datetime": "2021-02-01T08:15",
    }
    expected = load_model(rich).predict([ride])[0]
    answer = json.loads(result.stdout)
    assert answer["minutes"] == pytest.approx(expected, abs=1e-9)
    lower, upper = answer["interval"]
    assert lower < answer["minutes"] < upper and answer["level"] == 0.8
    text = run_cli(*common, "--pickup", "2021-02-01T08:15", "--level", "0.5").stdout
    assert text.startswith(f"{expected:.1f} minutes (50% interval: ")
    narrower = [float(v) for v in text.split(": ")[1].rstrip(")\n").split(" to ")]
    assert lower < narrower[0] < narrower[1] < upper
    for level in ("1", "0", "nan", "-0.2"):
        assert_clean_failure(run_cli(*common, "--level", level), "between 0 and 1")
    assert_clean_failure(run_cli(*common), "needs the pickup time: give --pickup")
    assert_clean_failure(run_cli(*common, "--pickup", "soon"), "is not a date and time")


@pytest.mark.parametrize("features", ["lesson", "homework"])
def test_the_course_models_need_only_scikit_learn(models, features):
    """Their pickles name scikit-learn's classes alone: loading them needs no ride_duration."""
    data = (models[0] / f"{features}.bin").read_bytes()
    assert b"ride_duration" not in data and b"sklearn.pipeline" in data
    assert b"ride_duration.transformers" in (models[0] / "rich.bin").read_bytes()


def test_a_model_saved_before_intervals_loads_and_says_it_has_none(models, tmp_path):
    """A sidecar without ``intervals`` (as every model saved before them): the model predicts
    as before, and asking for an interval says why there is none."""
    folder, _ = models
    model = tmp_path / "old.bin"
    model.write_bytes((folder / "lesson.bin").read_bytes())
    sidecar = json.loads((folder / "lesson.json").read_text())
    del sidecar["intervals"]
    (tmp_path / "old.json").write_text(json.dumps(sidecar))
    args = ["predict", "--model", str(model), "--pu", "43", "--do", "151", "--distance", "1.8"]
    result = run_cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["interval"] is None
    assert "has no prediction intervals" in result.stderr and "retrain" in result.stderr
    same = run_cli(*[a if a != str(model) else str(folder / "lesson.bin") for a in args], "--json")
    assert json.loads(same.stdout)["minutes"] == json.loads(result.stdout)["minutes"]
    # Served, it answers as before, and a request for an interval is told why there is none.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient

    from ride_duration.serving.service import create_app

    client = TestClient(create_app(model))
    ride = {"PULocationID": 43, "DOLocationID": 151, "trip_distance": 1.8}
    assert (
        client.post("/predict", json=ride).json()["duration"] == json.loads(same.stdout)["minutes"]
    )
    refused = client.post("/predict?interval=0.8", json=ride)
    assert refused.status_code == 422
    assert "has no prediction intervals" in refused.json()["detail"][0]["msg"]


@pytest.mark.parametrize("features", ["lesson", "homework", "rich"])
def test_intervals_are_finite_and_hold_the_prediction_for_absurd_rides(models, features):
    model, _ = load(models[0] / f"{features}.bin")
    when = "2021-02-01T08:15"
    rides = [
        {"PULocationID": 43, "DOLocationID": 151, "trip_distance": 1e6, "pickup_datetime": when},
        {"PULocationID": 999_999, "DOLocationID": -1, "trip_distance": 0.0},
        {"PULocationID": 43, "DOLocationID": 151, "trip_distance": 1.8, "pickup_datetime": None},
    ]
    if features == "rich":
        rides.append({"PULocationID": 43, "DOLocationID": 151, "trip_distance": float("nan")})
    predicted = np.array(model.predict_rides(rides))
    for level in (0.01, 0.5, 0.8, 0.99):
        lower, upper = model.predict_intervals(predicted, level, rides)
        assert np.isfinite(lower).all() and np.isfinite(upper).all()
        assert (lower <= predicted).all() and (predicted <= upper).all()
