"""Operating the model as a hostile user would: every path a command writes, every address and
every number is checked before any work, and ends in one line (exit 2) or works; nothing the
user owns is ever replaced (each file's sha256 is compared before and after)."""

import json
import os
import subprocess
import sys

import pytest

from ride_duration.files import sha256_file
from tests.helpers import (
    LESSON_MONTHS,
    assert_clean_failure,
    copy_months,
    needs_capsh_as_root,
    run_cli,
    simple_rides,
    without_overriding_file_modes,
    write_green,
)

pytest.importorskip("mlflow", reason="MLflow is not installed: pip install -e '.[mlflow]'")
pytestmark = pytest.mark.lesson_months_only


@pytest.fixture(scope="module")
def owned(tlc_dir, tmp_path_factory):
    """A user's project: the lesson months, a trained and registered model, its store."""
    root = tmp_path_factory.mktemp("owned")
    data = copy_months(tlc_dir, root / "data", *LESSON_MONTHS)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    trained = run_cli(
        "train",
        "--offline",
        "--quiet",
        "--track",
        "--register",
        "--data-dir",
        str(data),
        "--model-dir",
        str(root / "models"),
        env={"MLFLOW_TRACKING_URI": uri},
    )
    assert trained.returncode == 0, trained.stderr
    assert run_cli("promote", env={"MLFLOW_TRACKING_URI": uri}).returncode == 0
    return root


def digests(root) -> dict:
    return {
        str(p.relative_to(root)): sha256_file(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".") and "mlruns" not in p.parts
    }


def backfill(root, *args):
    return run_cli(
        "retrain",
        "--offline",
        "--quiet",
        "--backfill",
        "2021-01..2021-02",
        "--data-dir",
        str(root / "data"),
        "--model-dir",
        str(root / "models"),
        "--reports-dir",
        str(root / "reports"),
        *args,
        env={"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"},
    )


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("data/green_tripdata_2021-01.parquet", "name a .png file"),
        ("models/lin_reg.bin", "name a .png file"),
        ("models/lin_reg.json", "name a .png file"),
        ("mlflow.db", "name a .png file"),
        ("/dev/null", "is not a regular file"),
        ("models", "is a folder"),
        ("nowhere/figure.png", "does not exist"),
    ],
    ids=["month", "model", "sidecar", "store", "device", "folder", "missing-folder"],
)
def test_a_backfill_figure_never_replaces_what_the_user_owns(owned, target, fragment):
    """The whole backfill used to run, exit 0 and then write its PNG over a data month, the
    model, its sidecar, the tracking store (every run and version gone) or a device."""
    before = digests(owned)
    path = target if target.startswith("/") else str(owned / target)
    assert_clean_failure(backfill(owned, "--figure", path), "--figure", fragment)
    assert digests(owned) == before


def test_a_png_named_like_the_store_is_refused_too(owned, tmp_path):
    """The right suffix is not enough: a .png that is an SQLite database is not replaced."""
    store_copy = tmp_path / "store.png"
    store_copy.write_bytes((owned / "mlflow.db").read_bytes())
    before = sha256_file(store_copy)
    assert_clean_failure(backfill(owned, "--figure", str(store_copy)), "is an SQLite database")
    assert sha256_file(store_copy) == before


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("http://[::1", "write it as sqlite:///path/mlflow.db or http(s)://host:port"),
        ("sqlite:///", "a SQLite store names its file"),
        ("ftp://example", "write it as sqlite:///"),
        ("http://user:pw@127.0.0.1:5000", "without a query, a fragment or a user name"),
    ],
)
@pytest.mark.parametrize("where", ["flag", "environment"])
def test_a_malformed_tracking_uri_is_one_line(owned, tmp_path, uri, fragment, where):
    flag = ["--tracking-uri", uri] if where == "flag" else []
    env = {"MLFLOW_TRACKING_URI": uri if where == "environment" else None}
    source = "--tracking-uri" if where == "flag" else "MLFLOW_TRACKING_URI"
    train = ["train", "--track", "--offline", "--data-dir", str(owned / "data")]
    train += ["--model-dir", str(tmp_path / "m")]
    monitor = ["monitor", "--month", "2021-02", "--model", "models:/nyc-taxi-regressor@champion"]
    for command in (train, monitor):
        assert_clean_failure(run_cli(*command, *flag, env=env), fragment, source)
    assert not (tmp_path / "m").exists()


def test_a_store_that_is_not_a_database_is_one_line(owned, tmp_path):
    garbage = tmp_path / "mlflow.db"
    garbage.write_bytes(os.urandom(4096))
    before = sha256_file(garbage)
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{garbage}"}
    monitor = ["monitor", "--month", "2021-02", "--model", "models:/nyc-taxi-regressor@champion"]
    train = ["train", "--track", "--offline", "--data-dir", str(owned / "data")]
    for command in (monitor, [*train, "--model-dir", str(tmp_path / "m")]):
        assert_clean_failure(run_cli(*command, env=env), "is not an SQLite database")
    assert sha256_file(garbage) == before and not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    "flags",
    [
        ["--rmse-ratio", "inf"],
        ["--category-psi", "inf"],
        ["--prediction-drift", "nan"],
        ["--input-drift", "-1"],
        ["--missing-increase", "1e999"],
        ["--rmse-ratio", "lots"],
    ],
    ids=lambda f: " ".join(f),
)
def test_thresholds_that_are_not_finite_positive_numbers_are_one_line(owned, flags):
    result = run_cli(
        "monitor",
        "--offline",
        "--month",
        "2021-02",
        "--model",
        str(owned / "models" / "lin_reg.bin"),
        "--data-dir",
        str(owned / "data"),
        "--reports-dir",
        str(owned / "reports-thresholds"),
        *flags,
    )
    assert_clean_failure(result, f"{flags[0]} must be positive and finite")
    assert not (owned / "reports-thresholds").exists()


def test_a_month_with_no_kept_ride_inside_a_training_range_is_named(tmp_path):
    data = tmp_path / "data"
    write_green(data, "2021-01", simple_rides(1))
    long_rides = [(p, p + (d - p) * 200, pu, do, miles) for p, d, pu, do, miles in simple_rides(2)]
    write_green(data, "2021-02", long_rides)
    write_green(data, "2021-03", simple_rides(3))
    result = run_cli(
        "train",
        "--offline",
        "--train",
        "2021-01..2021-02",
        "--val",
        "2021-03",
        "--data-dir",
        str(data),
        "--model-dir",
        str(tmp_path / "models"),
    )
    assert_clean_failure(result, "green_tripdata_2021-02.parquet", "lasts 1 to 60 minutes")
    assert not (tmp_path / "models" / "lin_reg.bin").exists()


@pytest.mark.parametrize("features", ["rich", "lesson"])
def test_a_month_of_one_ride_is_named_not_a_singular_matrix(tmp_path, features):
    data = tmp_path / "data"
    write_green(data, "2021-01", simple_rides(1, n=1))
    write_green(data, "2021-02", simple_rides(2))
    for batch in ([], ["--batch-rows", "1000"]):
        result = run_cli(
            "train",
            "--offline",
            "--features",
            features,
            *batch,
            "--data-dir",
            str(data),
            "--model-dir",
            str(tmp_path / "models"),
        )
        assert_clean_failure(
            result, "green_tripdata_2021-01.parquet: only 1 ride to learn from", "at least 5"
        )


@pytest.mark.parametrize("when", ["NaT", "nan", "", "soon"])
def test_a_pickup_that_is_no_time_is_one_line(owned, tmp_path, when):
    rich = tmp_path / "models"
    trained = run_cli(
        "train",
        "--offline",
        "--quiet",
        "--features",
        "rich",
        "--data-dir",
        str(owned / "data"),
        "--model-dir",
        str(rich),
    )
    assert trained.returncode == 0, trained.stderr
    result = run_cli(
        "predict",
        "--model",
        str(rich / "rich_ridge.bin"),
        "--pu",
        "43",
        "--do",
        "151",
        "--distance",
        "1.8",
        "--pickup",
        when,
    )
    assert_clean_failure(result, f"--pickup {when!r} is not a date and time")


def test_a_long_range_of_missing_months_is_a_short_line(tmp_path):
    result = run_cli(
        "train",
        "--offline",
        "--train",
        "2009-01..2025-11",
        "--val",
        "2025-12",
        "--data-dir",
        str(tmp_path),
        "--model-dir",
        str(tmp_path / "models"),
    )
    assert_clean_failure(result, "204 month files are not in", "and 198 more")
    assert len(result.stderr) < 600, len(result.stderr)


@needs_capsh_as_root
def test_monitoring_into_a_read_only_store_is_one_short_line(owned, tmp_path):
    """A store the user may read but not write: exit 2, the store unchanged, no SQLAlchemy
    traceback and no SQL on the terminal, one line saying what to do."""
    store = tmp_path / "mlflow.db"
    store.write_bytes((owned / "mlflow.db").read_bytes())
    store.chmod(0o444)
    before = sha256_file(store)
    command = [sys.executable, "-m", "ride_duration", "monitor", "--offline", "--track"]
    command += ["--month", "2021-02", "--model", str(owned / "models" / "lin_reg.bin")]
    command += ["--data-dir", str(owned / "data"), "--reports-dir", str(tmp_path / "reports")]
    command += ["--tracking-uri", f"sqlite:///{store}"]
    result = subprocess.run(
        without_overriding_file_modes(command), capture_output=True, text=True, timeout=300
    )
    assert_clean_failure(result, "read-only")
    assert "SELECT" not in result.stderr and "sqlalchemy" not in result.stderr.lower()
    assert len(result.stderr) < 400, result.stderr
    assert sha256_file(store) == before


def test_the_logged_model_takes_the_lessons_own_shape_and_names_what_it_does_not_know(owned):
    import mlflow
    import pandas as pd

    from ride_duration import load_model

    saved = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{owned / 'mlflow.db'}")
    try:
        logged = mlflow.pyfunc.load_model("models:/nyc-taxi-regressor@champion")
    finally:
        mlflow.set_tracking_uri(saved)
    pipeline = load_model(owned / "models" / "lin_reg.bin")
    lesson = pd.DataFrame({"PU_DO": ["43_151", "74_75"], "trip_distance": [1.8, 0.9]})
    expected = pipeline.predict(lesson.to_dict(orient="records"))
    assert logged.predict(lesson) == pytest.approx(expected, abs=1e-9)
    zones = pd.DataFrame(
        {"PULocationID": [43, 74], "DOLocationID": [151, 75], "trip_distance": [1.8, 0.9]}
    )
    assert logged.predict(zones) == pytest.approx(expected, abs=1e-9)
    for misspelt in (zones.rename(columns={"PULocationID": "PULocationId"}), lesson.assign(x=1)):
        with pytest.raises(Exception, match="unknown column"):
            logged.predict(misspelt)


def test_the_json_report_of_a_month_with_infinite_drift_is_written(owned, tmp_path):
    """A statistic that is infinite (a distribution that moved from a single value) is
    reported as crossed, and the JSON report still writes (JSON has no Infinity)."""
    data = tmp_path / "data"
    flat = [(p, d, pu, do, 2.0) for p, d, pu, do, _ in simple_rides(1, n=200)]
    write_green(data, "2021-01", flat)
    write_green(data, "2021-02", simple_rides(2, n=200))
    write_green(data, "2021-03", simple_rides(3, n=200))
    models = tmp_path / "models"
    trained = run_cli(
        "train", "--offline", "--quiet", "--data-dir", str(data), "--model-dir", str(models)
    )
    assert trained.returncode == 0, trained.stderr
    result = run_cli(
        "monitor",
        "--offline",
        "--json",
        "--month",
        "2021-03",
        "--model",
        str(models / "lin_reg.bin"),
        "--data-dir",
        str(data),
        "--reports-dir",
        str(tmp_path / "reports"),
    )
    assert result.returncode == 3, result.stderr
    report = json.loads((tmp_path / "reports" / "monitor_green_2021-03.json").read_text())
    (distance,) = [
        s
        for s in report["statistics"]
        if (s["statistic"], s["subject"]) == ("input_drift", "trip_distance")
    ]
    assert distance["value"] is None and distance["crossed"] is True
    assert any(line.startswith("input_drift (trip_distance): inf") for line in report["crossed"])
