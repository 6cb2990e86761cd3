"""`predict --month M --output PATH`: one row per scored ride, the pipeline's predictions and
their intervals, the course's ride ids, written whole or not at all."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ride_duration import load_model, read_metadata
from ride_duration.features.rich import RAW_COLUMNS
from tests.helpers import assert_clean_failure, copy_months, leftovers, run_cli, train_with_cli

FILES = [f"green_tripdata_2021-0{m}.parquet" for m in (1, 2, 3)]


@pytest.fixture(scope="module")
def trained(tlc_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("predict-output")
    data = copy_months(tlc_dir, root / "data", *FILES)
    train_with_cli(data, root / "models", "lesson", "rich")
    return root


@pytest.mark.parametrize("name", ["lin_reg", "rich_ridge"])
def test_the_file_holds_the_pipelines_predictions(trained, name):
    model, out = trained / "models" / f"{name}.bin", trained / f"{name}-2021-03.parquet"
    result = run_cli(
        "predict",
        "--offline",
        "--model",
        str(model),
        "--taxi",
        "green",
        "--month",
        "2021-03",
        "--data-dir",
        str(trained / "data"),
        "--output",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "RMSE" in result.stdout and str(out) in result.stdout
    assert "80% intervals cover" in result.stdout
    written = pd.read_parquet(out)
    assert list(written.columns) == [
        "ride_id",
        "PULocationID",
        "DOLocationID",
        "trip_distance",
        "pickup_datetime",
        "actual_duration",
        "predicted_duration",
        "lower",
        "upper",
        "model_version",
    ]
    assert (written.lower <= written.predicted_duration).all()
    assert (written.predicted_duration <= written.upper).all()
    inside = (written.actual_duration >= written.lower) & (written.actual_duration <= written.upper)
    assert 0.75 < inside.mean() < 0.85
    # The course's recipe: keep rides of 1-60 minutes, ride_id from the raw file's index.
    raw = pd.read_parquet(trained / "data" / FILES[2])
    minutes = (raw.lpep_dropoff_datetime - raw.lpep_pickup_datetime).dt.total_seconds() / 60
    kept = raw[(minutes >= 1) & (minutes <= 60)]
    assert list(written.ride_id) == [f"2021/03_{i}" for i in kept.index]
    np.testing.assert_array_equal(written.PULocationID, kept.PULocationID.fillna(-1).astype(int))
    np.testing.assert_allclose(written.actual_duration, minutes[kept.index])
    # distance and pickup time as recorded, to slice coverage by
    np.testing.assert_array_equal(written.trip_distance, kept.trip_distance)
    np.testing.assert_array_equal(written.pickup_datetime, kept.lpep_pickup_datetime)
    pipeline = load_model(model)
    if name == "rich_ridge":
        rides = kept.rename(columns={"lpep_pickup_datetime": "pickup_datetime"})
        expected = pipeline.predict(rides[list(RAW_COLUMNS)])
    else:
        expected = pipeline.predict(
            [
                {"PU_DO": f"{p}_{d}", "trip_distance": t}
                for p, d, t in zip(kept.PULocationID, kept.DOLocationID, kept.trip_distance)
            ]
        )
    np.testing.assert_allclose(written.predicted_duration, expected, atol=1e-9, rtol=0)
    meta = read_metadata(model)
    assert set(written.model_version) == {f"{name}-{meta['bin_sha256'][:12]}"}
    assert leftovers(trained) == sorted(
        ["data", "models", *(p.name for p in trained.glob("*.parquet"))]
    )


def test_output_without_a_month_is_refused(trained):
    result = run_cli(
        "predict",
        "--model",
        str(trained / "models/lin_reg.bin"),
        "--pu",
        "1",
        "--do",
        "2",
        "--distance",
        "1",
        "--output",
        str(trained / "x.parquet"),
    )
    assert_clean_failure(result, "--output goes with --month")


def test_an_output_folder_that_does_not_exist(trained):
    result = run_cli(
        "predict",
        "--offline",
        "--model",
        str(trained / "models/lin_reg.bin"),
        "--taxi",
        "green",
        "--month",
        "2021-03",
        "--data-dir",
        str(trained / "data"),
        "--output",
        str(trained / "missing/out.parquet"),
    )
    assert_clean_failure(result, "missing")


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("data/green_tripdata_2021-03.parquet", "named as a TLC month file"),
        ("data/green_tripdata_2019-03.parquet", "named as a TLC month file"),
        ("models/lin_reg.bin", "name a .parquet file"),
        ("models/lin_reg.json", "name a .parquet file"),
        ("data", "is a folder"),
        ("/dev/null", "not a regular file"),
    ],
)
def test_an_output_that_would_replace_an_input_is_refused_before_any_work(
    trained, target, fragment
):
    path = trained / target if not target.startswith("/") else Path(target)
    before = {p: p.read_bytes() for p in (trained / "data").glob("*.parquet")}
    before |= {p: p.read_bytes() for p in (trained / "models").iterdir() if p.is_file()}
    result = run_cli(
        "predict",
        "--offline",
        "--model",
        str(trained / "models/lin_reg.bin"),
        "--month",
        "2021-03",
        "--data-dir",
        str(trained / "data"),
        "--output",
        str(path),
    )
    assert_clean_failure(result, fragment)
    assert {p: p.read_bytes() for p in before} == before
    assert Path("/dev/null").is_char_device()


def test_an_interrupted_write_leaves_no_file_under_the_final_name(trained, monkeypatch):
    import pyarrow.parquet as pq

    from ride_duration.modeling.predict import score_month

    real_write = pq.write_table

    def interrupted(table, where, **kwargs):
        real_write(table.slice(0, 10), where, **kwargs)  # part of it is on disk
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", interrupted)
    out = trained / "interrupted.parquet"
    with pytest.raises(KeyboardInterrupt):
        score_month(
            trained / "models/lin_reg.bin", "green", "2021-03", trained / "data", output=out
        )
    assert not out.exists()
    assert not [p for p in trained.iterdir() if p.name.startswith(".interrupted")]
