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
from dataclasses import dataclass

import numpy as np

VECTORIZER_STEP = "dictvectorizer"
RIDES_STEP = "ridefeatures"


@dataclass(frozen=True)
class Regressor:
    """One regressor: whether we solve it exactly from sufficient statistics (or let
    scikit-learn fit it on the rows), its scikit-learn class, its default strength and file
    name. Adding a regressor is one entry in ``REGRESSORS``."""

    name: str
    sklearn_class: str  # in sklearn.linear_model
    exact: bool
    solver: str
    file_name: str
    default_alpha: float | None = None  # None: it takes no alpha

    @property
    def penalised(self) -> bool:
        return self.default_alpha is not None

    def estimator(self, alpha: float | None = None):
        """A new, unfitted scikit-learn estimator of this kind."""
        import sklearn.linear_model

        cls = getattr(sklearn.linear_model, self.sklearn_class)
        return cls(alpha=float(alpha)) if self.penalised else cls()


REGRESSORS = {
    r.name: r
    for r in (
        Regressor(
            "linear", "LinearRegression", True, "exact minimum-norm least squares", "lin_reg"
        ),
        Regressor("lasso", "Lasso", False, "scikit-learn coordinate descent", "lasso", 0.01),
        Regressor("ridge", "Ridge", True, "exact ridge", "ridge", 1.0),
    )
}


def regressor(name: str) -> Regressor:
    from ..errors import RideDurationError

    try:
        return REGRESSORS[name]
    except KeyError:
        raise RideDurationError(f"unknown model {name!r}: choose {', '.join(REGRESSORS)}") from None


def fitted_vectorizer(feature_names: list[str]):
    """A DictVectorizer as ``fit`` leaves it for these (sorted) feature names."""
    from sklearn.feature_extraction import DictVectorizer

    vectorizer = DictVectorizer()
    vectorizer.feature_names_ = list(feature_names)
    vectorizer.vocabulary_ = {name: index for index, name in enumerate(feature_names)}
    return vectorizer


def fitted_regressor(kind: str, coef: np.ndarray, intercept: float, alpha: float | None):
    """A scikit-learn estimator of this kind holding an exact solution as if fitted."""
    fitted = regressor(kind).estimator(alpha)
    fitted.coef_ = np.asarray(coef, dtype=np.float64)
    fitted.intercept_ = float(intercept)
    fitted.n_features_in_ = len(fitted.coef_)
    return fitted


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
