"""The rich baseline on real months: the targets, the optimum of its objective, and a gain over
the lesson model on every month pair in the shared data."""

import numpy as np
import pytest
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import Ridge

from ride_duration import load_model
from ride_duration.data.dataset import load_prepared
from ride_duration.features.rich import RAW_COLUMNS
from ride_duration.modeling.predict import score_month
from ride_duration.modeling.train import TrainOptions, fit, rmse, train
from tests.helpers import require_tlc_files

# The course's tuned XGBoost (module 2) on these pairs: what rich must match.
TARGETS = {("2021-01", "2021-02"): 6.32, ("2023-01", "2023-02"): 5.14}
PAIRS = [
    ("2021-01", "2021-02"),
    ("2021-03", "2021-04"),
    ("2022-01", "2022-02"),
    ("2023-01", "2023-02"),
    ("2023-03", "2023-04"),
]


def prepared(tlc_dir, month):
    require_tlc_files(tlc_dir, f"green_tripdata_{month}.parquet")
    return load_prepared("green", month, tlc_dir)[0]


@pytest.fixture(scope="module")
def rich_lesson_model(tlc_dir, tmp_path_factory):
    options = TrainOptions(
        features="rich",
        data_dir=tlc_dir,
        model_dir=tmp_path_factory.mktemp("rich"),
        offline=True,
        quiet=True,
    )
    return train(options)


def test_rich_on_the_lesson_months_matches_the_courses_xgboost(rich_lesson_model):
    metrics = rich_lesson_model.metrics
    assert (metrics.n_train, metrics.n_val) == (73908, 61921)
    assert metrics.val_rmse <= TARGETS[("2021-01", "2021-02")]
    assert rich_lesson_model.metadata["model"]["params"] == {"alpha": 3.0}
    # The distance rule gives distance its weight back (the lesson model's is ~0.00003).
    assert metrics.distance_weight > 0.5


def test_rich_is_at_the_optimum_of_its_objective(tlc_dir, rich_lesson_model):
    """scikit-learn's Ridge, run to a tight tolerance on the same feature dicts, agrees."""
    frame = prepared(tlc_dir, "2021-01")
    pipeline = load_model(rich_lesson_model.model_path)
    rides = frame[list(RAW_COLUMNS)]
    dicts = pipeline["ridefeatures"].transform(rides)
    vectorizer = DictVectorizer()
    matrix = vectorizer.fit_transform(dicts)
    assert vectorizer.feature_names_ == pipeline["dictvectorizer"].feature_names_
    reference = Ridge(alpha=3.0, solver="sparse_cg", tol=1e-12, max_iter=100_000)
    reference.fit(matrix, frame["duration"].to_numpy())
    np.testing.assert_allclose(pipeline.predict(rides), reference.predict(matrix), atol=1e-5)
    np.testing.assert_allclose(pipeline[-1].coef_, reference.coef_, atol=1e-5)


def test_saved_rich_model_scores_raw_rides_as_score_month_does(tlc_dir, rich_lesson_model):
    path = rich_lesson_model.model_path
    scored = score_month(path, "green", "2021-02", tlc_dir, keep_predictions=True)
    rides = prepared(tlc_dir, "2021-02")[list(RAW_COLUMNS)]
    np.testing.assert_allclose(load_model(path).predict(rides), scored.predicted, atol=1e-9)
    assert scored.evaluation.rmse == pytest.approx(rich_lesson_model.metrics.val_rmse, abs=1e-12)


@pytest.mark.parametrize("pair", PAIRS, ids="->".join)
def test_rich_beats_lesson_on_validation(tlc_dir, pair):
    train_frame, val_frame = prepared(tlc_dir, pair[0]), prepared(tlc_dir, pair[1])
    y_val = val_frame["duration"].to_numpy()
    scores = {}
    for features in ("lesson", "rich"):
        options = TrainOptions(features=features, train_month=pair[0], val_month=pair[1])
        fitted = fit(options.validated(), train_frame, val_frame)
        scores[features] = rmse(y_val, fitted.model.predict_design(fitted.val_design))
    assert scores["rich"] < scores["lesson"], scores
    if pair in TARGETS:
        assert scores["rich"] <= TARGETS[pair], scores
