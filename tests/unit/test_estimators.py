"""The saved Pipeline is made of real scikit-learn estimators holding the exact solution, and
is pickled normally: it behaves as the same estimators fitted by scikit-learn itself."""

import pickle

import numpy as np
import pytest
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import root_mean_squared_error
from sklearn.pipeline import Pipeline

from ride_duration.modeling.estimators import build_pipeline, fitted_regressor, fitted_vectorizer
from ride_duration.modeling.train import rmse
from tests.helpers import REPO

DICTS = [{"a": "x", "d": 1.0}, {"a": "y", "d": 2.0}, {"a": "x", "d": 4.0}, {"a": "z", "d": 0.5}]
Y = [1.0, 2.0, 3.5, 0.7]


@pytest.mark.parametrize(
    ("kind", "reference"), [("linear", LinearRegression()), ("ridge", Ridge(alpha=3.0))]
)
def test_an_exported_pipeline_predicts_as_scikit_learns_own_fit(kind, reference):
    fitted = Pipeline([("dictvectorizer", DictVectorizer()), (kind, reference)]).fit(DICTS, Y)
    regressor = fitted[-1]
    ours = build_pipeline(
        fitted[0].feature_names_,
        kind,
        fitted_regressor(kind, regressor.coef_, regressor.intercept_, 3.0),
    )
    assert ours[0].vocabulary_ == fitted[0].vocabulary_
    assert ours[-1].get_params() == regressor.get_params()
    unseen = [{"a": "new", "d": 9.0}, {"d": 2.0}]
    np.testing.assert_array_equal(ours.predict(DICTS + unseen), fitted.predict(DICTS + unseen))
    again = pickle.loads(pickle.dumps(ours))
    np.testing.assert_array_equal(again.predict(DICTS), fitted.predict(DICTS))


def test_a_rich_pipeline_starts_with_its_fitted_ride_features():
    pipeline = build_pipeline(
        ["trip_distance"], "ridge", fitted_regressor("ridge", np.array([2.0]), 1.0, 3.0), 1.85
    )
    assert pipeline[0].distance_median_ == 1.85
    ride = {"PULocationID": 1, "DOLocationID": 2, "trip_distance": 1e6, "pickup_datetime": None}
    assert pipeline.predict([ride])[0] == pytest.approx(1.0 + 2.0 * 1.85)


def test_the_vectorizer_is_dictvectorizers_fit():
    assert vars(fitted_vectorizer(["a=x", "a=y", "a=z", "d"])) == vars(DictVectorizer().fit(DICTS))


def test_no_pickle_is_written_by_hand():
    source = "\n".join(p.read_text() for p in (REPO / "src").rglob("*.py"))
    for forbidden in ("_Pickler", "STACK_GLOBAL", "__reduce_ex__", "_sklearn_version"):
        assert forbidden not in source, forbidden


def test_rmse_is_sklearns():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=1000), rng.normal(size=1000)
    assert rmse(y, p) == root_mean_squared_error(y, p)
