"""Many months: the exact fit of their concatenation from statistics that add up, a batch at
a time, here or on a real Dask LocalCluster, with the same numbers."""

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression, Ridge

from ride_duration import load_model, read_metadata
from ride_duration.data.dataset import load_prepared, parse_months
from ride_duration.data.months import month_spec
from ride_duration.errors import RideDurationError
from ride_duration.files import sha256_file
from ride_duration.modeling.train import TrainOptions, train
from tests.helpers import assert_clean_failure, copy_months, run_cli

FILES = [f"green_tripdata_2021-0{m}.parquet" for m in (1, 2, 3)]


@pytest.fixture(scope="module")
def data(tlc_dir, tmp_path_factory):
    return copy_months(tlc_dir, tmp_path_factory.mktemp("months") / "data", *FILES)


def run(data, tmp_path, **options):
    defaults = {"data_dir": data, "model_dir": tmp_path, "offline": True, "quiet": True}
    return train(TrainOptions(**(defaults | options)))


def concatenated(data, months):
    frames = [load_prepared("green", m, data, timestamps="none")[0] for m in months]
    frame = pd.concat([f.astype({"PU_DO": str}) for f in frames], ignore_index=True)
    return frame[["PU_DO", "trip_distance"]].to_dict(orient="records"), frame["duration"].to_numpy()


@pytest.mark.parametrize("model", ["linear", "ridge"])
def test_two_months_give_the_optimum_of_their_concatenation(data, tmp_path, model):
    result = run(data, tmp_path, train_month="2021-01,2021-02", val_month="2021-03", model=model)
    assert result.metrics.n_train == 135_829
    assert result.metadata["train_months"] == ["2021-01", "2021-02"]
    assert [i["sha256"] for i in result.metadata["inputs"]] == [
        sha256_file(data / f) for f in FILES
    ]
    dicts, y = concatenated(data, ["2021-01", "2021-02"])
    val_dicts, y_val = concatenated(data, ["2021-03"])
    vectorizer = DictVectorizer()
    matrix = vectorizer.fit_transform(dicts)
    pipeline = load_model(result.model_path)
    assert pipeline[0].feature_names_ == vectorizer.feature_names_
    # The optimum's certificate, on the concatenated rows: the gradient of the objective
    # vanishes (X'r = alpha w, and the residuals sum to zero for the intercept).
    residuals = y - pipeline.predict(dicts)
    alpha = 0.0 if model == "linear" else 1.0
    gradient = matrix.T @ residuals - alpha * pipeline[-1].coef_
    scale = np.abs(matrix.T @ y).max()
    assert np.abs(gradient).max() <= 1e-12 * scale and abs(residuals.sum()) <= 1e-12 * scale

    def rmse(a, b):
        return float(np.sqrt(np.mean((a - b) ** 2)))

    # scikit-learn at a tight tolerance on the same rows: the same RMSEs (its lsqr stops a
    # little short of the optimum on this badly scaled design, hence the tolerance).
    reference = (
        LinearRegression(tol=1e-12)
        if model == "linear"
        else Ridge(alpha=1.0, solver="sparse_cg", tol=1e-12)
    ).fit(matrix, y)
    assert result.metrics.train_rmse == pytest.approx(rmse(reference.predict(matrix), y), abs=1e-6)
    assert result.metrics.train_rmse <= rmse(reference.predict(matrix), y) + 1e-12
    val = vectorizer.transform(val_dicts)
    assert result.metrics.val_rmse == pytest.approx(rmse(reference.predict(val), y_val), abs=1e-5)
    assert result.metrics.val_rmse == pytest.approx(
        rmse(pipeline.predict(val_dicts), y_val), abs=1e-12
    )


@pytest.mark.parametrize("features", ["lesson", "homework", "rich"])
def test_a_month_in_small_batches_gives_the_one_shot_numbers(data, tmp_path, features):
    whole = run(data, tmp_path / "whole", features=features)
    pieces = run(data, tmp_path / "pieces", features=features, batch_rows=5_000)
    for key in ("n_train", "n_val", "n_features"):
        assert getattr(pieces.metrics, key) == getattr(whole.metrics, key)
    for key in ("train_rmse", "val_rmse", "baseline_rmse"):
        assert getattr(pieces.metrics, key) == pytest.approx(getattr(whole.metrics, key), abs=1e-9)
    assert pieces.reports == whole.reports  # every data rule counted the same
    assert pieces.model.feature_names == whole.model.feature_names
    np.testing.assert_allclose(pieces.model.coef, whole.model.coef, atol=1e-8)
    assert pieces.model.distance_median == whole.model.distance_median


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed", reason="the [dask] extra is not installed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as running:
        yield running


@pytest.mark.parametrize("features", ["lesson", "rich"])
def test_dask_gives_the_local_engines_numbers(data, tmp_path, cluster, features):
    options = {"train_month": "2021-01..2021-02", "val_month": "2021-03", "features": features}
    local = run(data, tmp_path / "local", **options)
    remote = run(
        data, tmp_path / "dask", engine="dask", scheduler=cluster.scheduler_address, **options
    )
    for key in ("train_rmse", "val_rmse", "baseline_rmse"):
        assert getattr(remote.metrics, key) == pytest.approx(getattr(local.metrics, key), abs=1e-9)
    assert remote.metrics.n_train == local.metrics.n_train == 135_829
    np.testing.assert_allclose(remote.model.coef, local.model.coef, atol=1e-9)
    assert read_metadata(remote.model_path)["train_month"] == "2021-01..2021-02"


def test_lasso_over_several_months_says_it_needs_one(data, tmp_path):
    with pytest.raises(RideDurationError, match="lasso needs its rides in memory"):
        run(data, tmp_path, train_month="2021-01,2021-02", val_month="2021-03", model="lasso")


def test_missing_months_are_named_at_once_offline(data, tmp_path):
    result = run_cli(
        "train",
        "--offline",
        "--data-dir",
        str(data),
        "--model-dir",
        str(tmp_path),
        "--train",
        "2021-01..2021-06",
        "--val",
        "2021-07",
    )
    assert_clean_failure(
        result,
        "4 month files are not in",
        "green_tripdata_2021-04.parquet, green_tripdata_2021-05.parquet",
        "--month 2021-06 --month 2021-07",
    )


@pytest.mark.parametrize(
    ("text", "months", "canonical"),
    [
        ("2023-01", ["2023-01"], "2023-01"),
        ("2023-01,2023-02", ["2023-01", "2023-02"], "2023-01..2023-02"),
        ("2022-11..2023-02", ["2022-11", "2022-12", "2023-01", "2023-02"], "2022-11..2023-02"),
        ("2023-03, 2023-01", ["2023-03", "2023-01"], "2023-03,2023-01"),
        ("2023-01..2023-01,2023-01", ["2023-01"], "2023-01"),
    ],
)
def test_month_specs(text, months, canonical):
    assert parse_months(text) == months
    assert month_spec(text) == canonical


@pytest.mark.parametrize("text", ["2023-03..2023-01", "2023-01..", "2023-13", "2023-01,,"])
def test_bad_month_specs(text):
    with pytest.raises(RideDurationError):
        parse_months(text)
