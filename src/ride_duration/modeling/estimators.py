"""The saved artifact: a scikit-learn Pipeline of a fitted DictVectorizer and a regressor.

Importing scikit-learn takes about a second (mostly SciPy rewriting docstrings), more than
training the lesson model itself. For the exact linear model nothing else needs
scikit-learn, so ``pipeline_bytes`` can write the Pipeline's pickle from the estimators'
state without importing it: the bytes are the same as pickling the real objects (the tests
compare them), and this is done only for the scikit-learn versions whose estimator state was
checked (``VERIFIED_SKLEARN``); any other version takes the ordinary path.
"""

from __future__ import annotations

import copyreg
import io
import pickle
import sys
from importlib import metadata

import numpy as np

VERIFIED_SKLEARN = frozenset({"1.9.1"})
VECTORIZER_STEP = "dictvectorizer"
RIDES_STEP = "ridefeatures"
CLASSES = {
    "DictVectorizer": "sklearn.feature_extraction._dict_vectorizer",
    "LinearRegression": "sklearn.linear_model._base",
    "Pipeline": "sklearn.pipeline",
}


def vectorizer_state(feature_names: list[str]) -> dict:
    """A DictVectorizer's attributes after ``fit``: its parameters, then what fit learns."""
    return {
        "dtype": np.float64,
        "separator": "=",
        "sparse": True,
        "sort": True,
        "feature_names_": list(feature_names),
        "vocabulary_": {name: index for index, name in enumerate(feature_names)},
    }


def linear_state(coef: np.ndarray, intercept: float) -> dict:
    """A LinearRegression's attributes after ``fit``."""
    return {
        "fit_intercept": True,
        "copy_X": True,
        "tol": 1e-6,
        "n_jobs": None,
        "positive": False,
        "n_features_in_": len(coef),
        "coef_": np.asarray(coef, dtype=np.float64),
        "intercept_": float(intercept),
    }


def pipeline_state(steps: list) -> dict:
    return {"steps": steps, "transform_input": None, "memory": None, "verbose": False}


def restore(cls, state: dict):
    estimator = cls()
    for name, value in state.items():
        setattr(estimator, name, value)
    return estimator


def build_pipeline(
    feature_names: list[str], step: str, regressor, distance_median: float | None = None
):
    """A real Pipeline: fitted DictVectorizer, then ``regressor`` (already fitted). With a
    ``distance_median`` (the ``rich`` features), a fitted ``RideFeatures`` comes first, so
    the pipeline takes raw rides."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.pipeline import Pipeline

    vectorizer = restore(DictVectorizer, vectorizer_state(feature_names))
    steps = [(VECTORIZER_STEP, vectorizer), (step, regressor)]
    if distance_median is not None:
        from ..transformers import RideFeatures

        rides = RideFeatures(distance_median=distance_median).fit([])
        steps.insert(0, (RIDES_STEP, rides))
    return Pipeline(steps)


def linear_regression(coef: np.ndarray, intercept: float):
    """A real LinearRegression holding the given solution, as if fitted."""
    from sklearn.linear_model import LinearRegression

    return restore(LinearRegression, linear_state(coef, intercept))


def ridge_regression(coef: np.ndarray, intercept: float, alpha: float):
    """A real Ridge holding the given (exact) solution, as if fitted."""
    from sklearn.linear_model import Ridge

    ridge = Ridge(alpha=alpha)
    ridge.n_features_in_ = len(coef)
    ridge.coef_ = np.asarray(coef, dtype=np.float64)
    ridge.n_iter_ = None
    ridge.solver_ = "exact"
    ridge.intercept_ = float(intercept)
    return ridge


class _Record:
    """Pickles as the scikit-learn estimator its class names, with the given state."""

    def __reduce_ex__(self, protocol):
        return copyreg.__newobj__, (type(self),), self.__dict__


_RECORD_CLASSES = {
    name: type(name, (_Record,), {"__module__": module, "__qualname__": name})
    for name, module in CLASSES.items()
}


def _record(name: str, state: dict, version: str) -> _Record:
    record = object.__new__(_RECORD_CLASSES[name])
    # BaseEstimator.__getstate__ appends the version it was pickled with.
    record.__dict__.update(state, _sklearn_version=version)
    return record


class _RecordPickler(pickle._Pickler):
    """Writes a record's class by name, without importing it to check that it exists."""

    def save_global(self, obj, name=None):
        if isinstance(obj, type) and issubclass(obj, _Record):
            self.save(obj.__module__)
            self.save(obj.__qualname__)
            self.write(pickle.STACK_GLOBAL)
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def installed_sklearn() -> str | None:
    try:
        return metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:
        return None


def can_skip_import() -> bool:
    """Whether the linear pipeline can be pickled without importing scikit-learn."""
    return "sklearn" not in sys.modules and installed_sklearn() in VERIFIED_SKLEARN


def pickle_linear_pipeline(
    feature_names: list[str], step: str, coef: np.ndarray, intercept: float
) -> bytes:
    """The pickle of Pipeline([DictVectorizer, LinearRegression]) with this solution."""
    if can_skip_import():
        return record_bytes(feature_names, step, coef, intercept, installed_sklearn())
    regressor = linear_regression(coef, intercept)
    return pickle.dumps(build_pipeline(feature_names, step, regressor), protocol=5)


def record_bytes(
    feature_names: list[str], step: str, coef: np.ndarray, intercept: float, version: str
) -> bytes:
    """The same pickle, written from the estimators' state by name."""
    vectorizer = _record("DictVectorizer", vectorizer_state(feature_names), version)
    regressor = _record("LinearRegression", linear_state(coef, intercept), version)
    pipeline = _record(
        "Pipeline", pipeline_state([(VECTORIZER_STEP, vectorizer), (step, regressor)]), version
    )
    buffer = io.BytesIO()
    _RecordPickler(buffer, protocol=5).dump(pipeline)
    return buffer.getvalue()
