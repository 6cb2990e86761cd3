"""The trained pipeline as a user gets it: through the CLI, saved, loaded back."""

import json
import pickle

import numpy as np
import pytest

from ride_duration import load_model, read_metadata
from ride_duration.errors import ModelFileError
from ride_duration.files import sha256_file
from tests.helpers import assert_clean_failure, run_cli

# Reads no real file but the lesson months: CI's newcomer run with them skips these.
pytestmark = pytest.mark.lesson_months_only


@pytest.fixture(scope="module")
def trained(tlc_dir, tmp_path_factory):
    from tests.helpers import copy_months

    root = tmp_path_factory.mktemp("train")
    data = copy_months(
        tlc_dir, root / "data", "green_tripdata_2021-01.parquet", "green_tripdata_2021-02.parquet"
    )
    result = run_cli(
        "train", "--json", "--data-dir", str(data), "--model-dir", str(root / "models")
    )
    assert result.returncode == 0, result.stderr
    return root, json.loads(result.stdout)


def test_json_output_has_the_metrics(trained):
    _, out = trained
    assert out["n_train"] == 73908 and out["n_val"] == 61921
    assert out["train_rmse"] == pytest.approx(4.6407, abs=1e-4)
    assert out["val_rmse"] == pytest.approx(7.4808, abs=1e-4)
    assert out["baseline_rmse"] > out["val_rmse"]
    assert out["n_features"] > 10000
    assert out["model_path"].endswith("lin_reg.bin")


def test_sidecar_describes_the_run(trained):
    root, out = trained
    meta = read_metadata(out["model_path"])
    assert meta["taxi"] == "green" and meta["train_month"] == "2021-01"
    assert meta["features"]["set"] == "lesson"
    assert meta["metrics"]["val_rmse"] == out["val_rmse"]
    assert meta["inputs"][0]["sha256"] == sha256_file(root / "data/green_tripdata_2021-01.parquet")
    assert meta["versions"]["scikit-learn"]
    assert meta["bin_sha256"] == sha256_file(out["model_path"])


def test_loaded_pipeline_predicts_like_a_user_expects(trained):
    _, out = trained
    pipeline = load_model(out["model_path"])
    rides = [{"PU_DO": "43_151", "trip_distance": 1.8}, {"PU_DO": "43_151", "trip_distance": 9.0}]
    short, long = pipeline.predict(rides)
    assert 1 < short < long < 60
    # Unseen pair: predicted from distance and the intercept alone, still finite.
    assert np.isfinite(pipeline.predict([{"PU_DO": "999_999", "trip_distance": 2.0}])).all()


def test_longer_trips_are_predicted_longer_on_average(trained, tlc_dir):
    from ride_duration.data.dataset import load_prepared
    from tests.helpers import to_dicts

    _, out = trained
    pipeline = load_model(out["model_path"])
    val, _ = load_prepared("green", "2021-02", tlc_dir)
    predicted = pipeline.predict(to_dicts(val, ["PU_DO"], ["trip_distance"]))
    short = predicted[val["trip_distance"] < 2].mean()
    long = predicted[val["trip_distance"] > 5].mean()
    assert long > short + 5


def test_pipeline_on_dicts_equals_the_metrics_path(trained, tlc_dir):
    from ride_duration.data.dataset import load_prepared
    from ride_duration.modeling.train import rmse
    from tests.helpers import to_dicts

    _, out = trained
    pipeline = load_model(out["model_path"])
    val, _ = load_prepared("green", "2021-02", tlc_dir)
    predicted = pipeline.predict(to_dicts(val, ["PU_DO"], ["trip_distance"]))
    assert rmse(val["duration"], predicted) == pytest.approx(out["val_rmse"], rel=1e-12)


def test_tampered_model_is_refused_by_load_and_by_the_cli(trained, tmp_path):
    root, out = trained
    target = tmp_path / "lin_reg.bin"
    target.write_bytes(pickle.dumps("evil"))
    (tmp_path / "lin_reg.json").write_text((root / "models/lin_reg.json").read_text())
    with pytest.raises(ModelFileError, match="does not match"):
        load_model(target)
    ride = ["--pu", "43", "--do", "151", "--distance", "1.8"]
    assert_clean_failure(run_cli("predict", "--model", str(target), *ride), "does not match")


@pytest.mark.parametrize("args", [["train", "--help"], ["train", "--taxi", "purple"]])
def test_python_dash_m_and_console_script_agree(args):
    """``python -m ride_duration`` and the installed ``ride-duration`` script are one
    command: the same output and the same exit code (0 for help, 2 for a bad argument)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("ride-duration")
    assert script.is_file(), f"{script}: the console script is not installed"
    ran = [
        subprocess.run(command, capture_output=True, text=True, timeout=120)
        for command in ([sys.executable, "-m", "ride_duration", *args], [str(script), *args])
    ]
    assert ran[0].returncode == ran[1].returncode == (0 if "--help" in args else 2)
    assert ran[0].stdout == ran[1].stdout and ran[0].stderr == ran[1].stderr
    assert ("--features" in ran[0].stdout) if "--help" in args else ("purple" in ran[0].stderr)


def test_missing_month_is_one_line_exit_2(tmp_path):
    result = run_cli(
        "train",
        "--offline",
        "--data-dir",
        str(tmp_path),
        "--model-dir",
        str(tmp_path / "m"),
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "green_tripdata_2021-01.parquet" in lines[0]
    assert "ride-duration download" in lines[0]


@pytest.mark.parametrize("model", ["lasso", "ridge"])
def test_regularised_models_save_and_predict_from_dicts(tiny_months, tmp_path, model):
    data = tiny_months
    result = run_cli(
        "train",
        "--offline",
        "--json",
        "--model",
        model,
        "--data-dir",
        str(data),
        "--model-dir",
        str(tmp_path / "models"),
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["model_path"].endswith(f"{model}.bin")
    pipeline = load_model(out["model_path"])
    assert type(pipeline[-1]).__name__ == model.capitalize()
    assert read_metadata(out["model_path"])["model"]["params"]["alpha"] == (
        0.01 if model == "lasso" else 1.0
    )
    # DictVectorizer.transform gives 64-bit indices here; prediction must still work.
    predicted = pipeline.predict([{"PU_DO": "1_4", "trip_distance": 2.0}])
    assert np.isfinite(predicted).all()
