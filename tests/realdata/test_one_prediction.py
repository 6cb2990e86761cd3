"""One model, one prediction: for every feature set, on every validation ride of the lesson
months, the model's predictions for rides given as dicts (the service's and the CLI's path)
and for a prepared frame (training's, validation's and predict --month's) equal what the
saved scikit-learn Pipeline predicts."""

import json

import numpy as np
import pytest

from ride_duration import load_model, read_metadata
from ride_duration.data.dataset import load_prepared, zone_ids
from ride_duration.features.rich import RAW_COLUMNS
from ride_duration.modeling.model import Model, load
from tests.helpers import assert_clean_failure, copy_months, run_cli, train_with_cli


@pytest.fixture(scope="module")
def models(tlc_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("scorer")
    data = copy_months(
        tlc_dir, root / "data", "green_tripdata_2021-01.parquet", "green_tripdata_2021-02.parquet"
    )
    train_with_cli(data, root / "models", "lesson", "homework", "rich", named=True)
    frame = load_prepared("green", "2021-02", data)[0]
    return root / "models", frame


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
    assert json.loads(result.stdout)["minutes"] == pytest.approx(expected, abs=1e-9)
    assert_clean_failure(run_cli(*common), "needs the pickup time: give --pickup")
    assert_clean_failure(run_cli(*common, "--pickup", "soon"), "is not a date and time")


@pytest.mark.parametrize("features", ["lesson", "homework"])
def test_the_course_models_need_only_scikit_learn(models, features):
    """Their pickles name scikit-learn's classes alone: loading them needs no ride_duration."""
    data = (models[0] / f"{features}.bin").read_bytes()
    assert b"ride_duration" not in data and b"sklearn.pipeline" in data
    assert b"ride_duration.transformers" in (models[0] / "rich.bin").read_bytes()
