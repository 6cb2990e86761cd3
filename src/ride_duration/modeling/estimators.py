"""The saved artifact: a scikit-learn Pipeline of a fitted DictVectorizer and a regressor.

Importing scikit-learn takes about a second (mostly SciPy rewriting docstrings), more than
training the lesson model itself. For the exact models (linear and ridge, with or without the
rich features' RideFeatures step) nothing else needs scikit-learn, so ``pickle_steps`` writes
the Pipeline's pickle from the estimators' state without importing it: the bytes are the same
as pickling the real objects (the tests compare them), and this is done only for the
scikit-learn versions whose estimator state was checked (``VERIFIED_SKLEARN``); any other
version takes the ordinary path.
"""

from __future__ import annotations

import copyreg
import importlib
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
    "Ridge": "sklearn.linear_model._ridge",
    "Pipeline": "sklearn.pipeline",
    "RideFeatures": "ride_duration.transformers",
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


def ridge_state(coef: np.ndarray, intercept: float, alpha: float) -> dict:
    """A Ridge's attributes after ``fit``: parameters in ``__init__`` order, then what fit
    learns (the solver named is ours: the exact solution)."""
    return {
        "alpha": float(alpha),
        "fit_intercept": True,
        "copy_X": True,
        "max_iter": None,
        "tol": 1e-4,
        "solver": "auto",
        "positive": False,
        "random_state": None,
        "n_features_in_": len(coef),
        "coef_": np.asarray(coef, dtype=np.float64),
        "n_iter_": None,
        "solver_": "exact",
        "intercept_": float(intercept),
    }


def rides_state(distance_median: float) -> dict:
    """A fitted RideFeatures' attributes."""
    return {"distance_median": float(distance_median), "distance_median_": float(distance_median)}


def model_steps(
    feature_names: list[str],
    step: str,
    regressor: tuple[str, dict],
    distance_median: float | None = None,
) -> list[tuple[str, str, dict]]:
    """A saved model's steps as (step name, class name, state): DictVectorizer, then the
    regressor; with a ``distance_median`` (the rich features) RideFeatures first."""
    steps = [
        (VECTORIZER_STEP, "DictVectorizer", vectorizer_state(feature_names)),
        (step, *regressor),
    ]
    if distance_median is not None:
        steps.insert(0, (RIDES_STEP, "RideFeatures", rides_state(distance_median)))
    return steps


def _estimator_class(name: str):
    return getattr(importlib.import_module(CLASSES[name]), name)


def real_pipeline(steps: list[tuple[str, str, dict]], regressor=None):
    """The scikit-learn Pipeline of these steps (the last one replaced by ``regressor``, an
    already fitted estimator, when given)."""
    from sklearn.pipeline import Pipeline

    estimators = [(name, restore(_estimator_class(cls), state)) for name, cls, state in steps]
    if regressor is not None:
        estimators[-1] = (estimators[-1][0], regressor)
    return Pipeline(estimators)


def build_pipeline(
    feature_names: list[str], step: str, regressor, distance_median: float | None = None
):
    """A real Pipeline: fitted DictVectorizer, then ``regressor`` (already fitted); with a
    ``distance_median``, a fitted RideFeatures first, so the pipeline takes raw rides."""
    steps = model_steps(feature_names, step, ("LinearRegression", {}), distance_median)
    return real_pipeline(steps, regressor)


def linear_regression(coef: np.ndarray, intercept: float):
    """A real LinearRegression holding the given solution, as if fitted."""
    return restore(_estimator_class("LinearRegression"), linear_state(coef, intercept))


def ridge_regression(coef: np.ndarray, intercept: float, alpha: float):
    """A real Ridge holding the given (exact) solution, as if fitted."""
    return restore(_estimator_class("Ridge"), ridge_state(coef, intercept, alpha))


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
    record.__dict__.update(state)
    if CLASSES[name].startswith("sklearn."):
        # BaseEstimator.__getstate__ appends the version it was pickled with, for
        # scikit-learn's own classes only.
        record.__dict__["_sklearn_version"] = version
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
    """Whether a model can be pickled without importing scikit-learn."""
    return "sklearn" not in sys.modules and installed_sklearn() in VERIFIED_SKLEARN


def pickle_steps(steps: list[tuple[str, str, dict]]) -> bytes:
    """The pickle of the Pipeline of these steps."""
    if can_skip_import():
        return record_bytes(steps, installed_sklearn())
    return pickle.dumps(real_pipeline(steps), protocol=5)


def record_bytes(steps: list[tuple[str, str, dict]], version: str) -> bytes:
    """The same pickle, written from the estimators' state by name."""
    records = [(name, _record(cls, state, version)) for name, cls, state in steps]
    pipeline = _record("Pipeline", pipeline_state(records), version)
    buffer = io.BytesIO()
    _RecordPickler(buffer, protocol=5).dump(pipeline)
    return buffer.getvalue()
