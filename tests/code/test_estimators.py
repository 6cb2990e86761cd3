"""The model file written without importing scikit-learn is byte for byte the real pickle."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
import sklearn
from sklearn.metrics import root_mean_squared_error

from ride_duration.modeling import estimators
from ride_duration.modeling.train import rmse


def exact_steps(n, model, rich):
    rng = np.random.default_rng(n)
    names = sorted(f"PU_DO={i}_{i + 1}" for i in range(n)) + ["trip_distance"]
    coef, intercept = rng.normal(size=len(names)), float(rng.normal())
    regressor = (
        ("LinearRegression", estimators.linear_state(coef, intercept))
        if model == "linear"
        else ("Ridge", estimators.ridge_state(coef, intercept, 3.0))
    )
    return estimators.model_steps(names, model, regressor, 1.85 if rich else None)


@pytest.mark.parametrize("rich", [False, True], ids=["plain", "rich"])
@pytest.mark.parametrize("model", ["linear", "ridge"])
@pytest.mark.parametrize("n", [1, 3, 500])
def test_record_pickle_equals_the_real_pipeline_pickle(n, model, rich):
    steps = exact_steps(n, model, rich)
    expected = pickle.dumps(estimators.real_pipeline(steps), protocol=5)
    assert estimators.record_bytes(steps, sklearn.__version__) == expected


def test_the_real_ridge_state_is_what_fit_leaves():
    from sklearn.linear_model import Ridge

    fitted = Ridge(alpha=3.0).fit(np.eye(3), [1.0, 2.0, 4.0])
    assert list(vars(fitted)) == list(estimators.ridge_state(fitted.coef_, 0.0, 3.0))


def test_the_state_written_is_the_state_sklearn_has_after_fit():
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LinearRegression

    dicts = [{"a": "x", "d": 1.0}, {"a": "y", "d": 2.0}, {"a": "x", "d": 4.0}]
    vectorizer = DictVectorizer().fit(dicts)
    regressor = LinearRegression().fit(vectorizer.transform(dicts), [1.0, 2.0, 3.5])
    assert list(vars(vectorizer)) == list(estimators.vectorizer_state(["a=x", "a=y", "d"]))
    # fit sets n_features_in_, coef_ and intercept_ (order aside: pickles compare above).
    assert set(vars(regressor)) == set(estimators.linear_state(regressor.coef_, 0.0))


def test_the_pinned_version_is_verified():
    assert sklearn.__version__ in estimators.VERIFIED_SKLEARN


def test_an_unverified_version_takes_the_ordinary_path(monkeypatch):
    monkeypatch.setattr(estimators, "installed_sklearn", lambda: "9.9.9")
    assert not estimators.can_skip_import()
    steps = estimators.model_steps(
        ["d"], "linear", ("LinearRegression", estimators.linear_state(np.array([2.0]), 1.0))
    )
    assert pickle.loads(estimators.pickle_steps(steps)).predict([{"d": 3.0}])[0] == 7.0


@pytest.mark.parametrize("features", ["lesson", "rich"])
def test_training_the_exact_models_does_not_import_sklearn(lesson_data, tmp_path, features):
    script = (
        "import sys; from ride_duration.cli import main; "
        f"code = main(['train', '--offline', '--quiet', '--data-dir', {str(lesson_data)!r}, "
        f"'--model-dir', {str(tmp_path)!r}, '--features', {features!r}]); "
        "print('sklearn imported:', 'sklearn' in sys.modules); sys.exit(code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "sklearn imported: False" in result.stdout


def test_rmse_is_sklearns():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=1000), rng.normal(size=1000)
    assert rmse(y, p) == root_mean_squared_error(y, p)
