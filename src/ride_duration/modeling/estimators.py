"""The saved artifact: a scikit-learn Pipeline of real, fitted estimators, pickled as usual.

A fitted model is numbers (feature names, coefficients, intercept, and for ``rich`` the
training median distance). ``build_pipeline`` turns them into the Pipeline a user loads:
``DictVectorizer`` with its fitted vocabulary, then ``LinearRegression`` or ``Ridge`` holding
the exact solution as their fitted ``coef_`` and ``intercept_`` (and for ``rich``, this
package's ``RideFeatures`` first, so the pipeline takes raw rides). Only public, documented
fitted attributes are set; the pickle is written by ``pickle.dumps``.
"""

from __future__ import annotations

import pickle

import numpy as np

VECTORIZER_STEP = "dictvectorizer"
RIDES_STEP = "ridefeatures"


def fitted_vectorizer(feature_names: list[str]):
    """A DictVectorizer as ``fit`` leaves it for these (sorted) feature names."""
    from sklearn.feature_extraction import DictVectorizer

    vectorizer = DictVectorizer()
    vectorizer.feature_names_ = list(feature_names)
    vectorizer.vocabulary_ = {name: index for index, name in enumerate(feature_names)}
    return vectorizer


def fitted_regressor(kind: str, coef: np.ndarray, intercept: float, alpha: float | None):
    """A LinearRegression (``kind`` "linear") or Ridge holding an exact solution as fitted."""
    from sklearn.linear_model import LinearRegression, Ridge

    regressor = LinearRegression() if kind == "linear" else Ridge(alpha=float(alpha))
    regressor.coef_ = np.asarray(coef, dtype=np.float64)
    regressor.intercept_ = float(intercept)
    regressor.n_features_in_ = len(regressor.coef_)
    return regressor


def build_pipeline(
    feature_names: list[str], step: str, regressor, distance_median: float | None = None
):
    """The saved Pipeline: fitted DictVectorizer, then ``regressor`` (already fitted); with a
    ``distance_median`` (the rich features), a fitted RideFeatures first."""
    from sklearn.pipeline import Pipeline

    steps = [(VECTORIZER_STEP, fitted_vectorizer(feature_names)), (step, regressor)]
    if distance_median is not None:
        from ..transformers import RideFeatures

        rides = RideFeatures(distance_median=float(distance_median)).fit([])
        steps.insert(0, (RIDES_STEP, rides))
    return Pipeline(steps)


def pipeline_bytes(pipeline) -> bytes:
    return pickle.dumps(pipeline, protocol=5)
