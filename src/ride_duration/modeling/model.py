"""The fitted model, as one value: what every part of the package predicts with.

A ``Model`` is numbers (the fitted feature names, coefficients, intercept) plus the feature
set they belong to and what that set learned from the training rides (``rich``: the median
distance). It predicts a frame of prepared rides from the design's integer structure, and
rides given as dicts from their feature dicts; training, streamed validation, ``predict``,
``compare`` and ``serve`` all call these two. The scikit-learn Pipeline saved in models/ is
an export of it (``to_pipeline``), and a loaded Pipeline turns back into one
(``from_pipeline``), so the two always predict the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import RideDurationError
from ..features import SEPARATOR, Design, build_design, feature_set
from ..features.columns import RideColumns, Term, frame_columns
from .intervals import LEVEL, Intervals


@dataclass(frozen=True, eq=False)
class Model:
    features: str  # the feature set's name
    feature_names: list[str]  # DictVectorizer's, sorted
    coef: np.ndarray
    intercept: float
    kind: str = "linear"  # the regressor's name
    alpha: float | None = None
    distance_median: float | None = None  # what the set learned (rich), else None
    estimator: object = None  # scikit-learn's own fit, for the regressors it fits (lasso)
    intervals: Intervals | None = None  # None: saved before models learned their intervals

    @cached_property
    def vocabulary(self) -> dict[str, int]:
        return {name: index for index, name in enumerate(self.feature_names)}

    @cached_property
    def numerical(self) -> list[str]:
        """The feature set's numerical columns that this model has (FHV: no distance)."""
        return [c for c in feature_set(self.features).numerical if c in self.vocabulary]

    @cached_property
    def needs_distance(self) -> bool:
        return feature_set(self.features).needs_distance or "trip_distance" in self.numerical

    @cached_property
    def needs_pickup(self) -> bool:
        return feature_set(self.features).needs_pickup

    @property
    def distance_weight(self) -> float | None:
        """Minutes per mile of trip_distance (its coefficient), if the model uses it."""
        index = self.vocabulary.get("trip_distance")
        return None if index is None else float(self.coef[index])

    def design(self, frame) -> Design:
        """The design of prepared rides over this model's columns."""
        return build_design(self.features, frame, self.vocabulary, self.distance_median)[0]

    def predict_design(self, design: Design) -> np.ndarray:
        """What the saved pipeline predicts for these rows, without building the matrix."""
        return design.dot(self.coef) + self.intercept

    def predict_frame(self, frame) -> np.ndarray:
        """Predicted minutes for a frame of prepared rides (``dataset.prepare``'s output)."""
        return self.predict_design(self.design(frame))

    @cached_property
    def _ride(self):
        return feature_set(self.features).ride

    @cached_property
    def _weights(self) -> dict[str, float]:
        return dict(zip(self.feature_names, self.coef.tolist()))

    def _compiled(self, compile):
        """A feature set's scorer compiled for these weights (None where it has none)."""
        if compile is None:
            return None
        return compile(
            self._weights, self.intercept, self.distance_median, self.needs_distance, _pickup
        )

    @cached_property
    def _scorer(self):
        """The feature set's fast scorer of rides (or None)."""
        return self._compiled(feature_set(self.features).scorer)

    @cached_property
    def _column_terms(self):
        """The feature set's terms of ``RideColumns`` (or None)."""
        return self._compiled(feature_set(self.features).column_terms)

    def column_terms(self, rides: RideColumns) -> list[Term] | None:
        """Each feature column's share of each ride's prediction, for rides read into
        arrays, in the order ``predict_rides`` adds them; None when the set has no such
        scorer."""
        terms = self._column_terms
        return None if terms is None else terms(rides)

    def predict_columns(self, rides: RideColumns) -> np.ndarray | None:
        """Predicted minutes for rides read into arrays: the intercept plus the column
        terms, added in ``predict_rides``' order (equal to it to the last bit); None when
        the set has no column terms."""
        terms = self.column_terms(rides)
        return None if terms is None else self.add_terms(terms, len(rides))

    def add_terms(self, terms: list[Term], n: int) -> np.ndarray:
        """The intercept plus each ride's terms, in their order: the prediction."""
        total = np.full(n, self.intercept)
        for term in terms:
            total += term.minutes
        return total

    def predict_rides(self, rides: Iterable[dict]) -> list[float]:
        """Predicted minutes for rides given as dicts in the service's shape (PULocationID,
        DOLocationID: -1 or absent for missing; trip_distance; pickup_datetime, a datetime or
        an ISO string): the feature set's fast scorer where it has one, else each ride's
        feature dict and the lookups the pipeline's DictVectorizer does (the two agree)."""
        scorer = self._scorer
        if scorer is None:
            return self.predict_rides_by_features(rides)
        return scorer(rides)

    def ride_features(self, ride: dict) -> dict:
        """One ride (the service's shape) as the feature set's feature dict: what the saved
        pipeline's DictVectorizer reads of it."""
        return self._ride(
            ride.get("PULocationID", -1),
            ride.get("DOLocationID", -1),
            ride.get("trip_distance") if self.needs_distance else None,
            _pickup(ride.get("pickup_datetime")) if self.needs_pickup else None,
            self.distance_median,
        )

    def predict_rides_by_features(self, rides: Iterable[dict]) -> list[float]:
        """``predict_rides`` through each ride's feature dict, as the feature set makes it,
        then the lookups the pipeline's DictVectorizer does, without a sparse matrix."""
        weight, intercept, features_of = self._weights.get, self.intercept, self.ride_features
        out = []
        for ride in rides:
            total = intercept
            for key, value in features_of(ride).items():
                if value.__class__ is str:
                    total += weight(key + SEPARATOR + value, 0.0)
                else:
                    total += weight(key, 0.0) * value
            out.append(total)
        return out

    def explain_rides(self, rides: Iterable[dict]):
        """Each ride's prediction split into named parts that add up to it (``explain``)."""
        from .explain import explain_rides

        return explain_rides(self, rides)

    def predict_intervals(self, predicted, level: float = LEVEL, rides=None):
        """(lower, upper) of the central interval of this level around each prediction of
        ``rides`` (a prepared frame, ``RideColumns``, or dicts in the service's shape): their
        zones, distances and pickup times scale each ride's interval."""
        if self.intervals is None:
            raise RideDurationError(NO_INTERVALS)
        if isinstance(rides, list):
            rides = RideColumns.of(
                [ride | {"pickup_datetime": _pickup(ride.get("pickup_datetime"))} for ride in rides]
            )
        elif rides is not None and not isinstance(rides, RideColumns):
            rides = frame_columns(rides)
        return self.intervals.bounds(predicted, level, rides)

    def to_pipeline(self):
        """The scikit-learn Pipeline this model is saved as (imports scikit-learn)."""
        from .estimators import build_pipeline, fitted_regressor

        estimator = self.estimator or fitted_regressor(
            self.kind, self.coef, self.intercept, self.alpha
        )
        return build_pipeline(self.feature_names, self.kind, estimator, self.distance_median)

    def to_bytes(self) -> bytes:
        """The pickled Pipeline, as saved in models/."""
        from .estimators import pipeline_bytes

        return pipeline_bytes(self.to_pipeline())

    @classmethod
    def from_pipeline(cls, pipeline, metadata: dict) -> Model:
        """The model a saved Pipeline holds, with the feature set its sidecar names."""
        from .estimators import RIDES_STEP, VECTORIZER_STEP

        rides = pipeline.named_steps.get(RIDES_STEP)
        regressor = pipeline[-1]
        return cls(
            features=metadata["features"]["set"],
            feature_names=list(pipeline[VECTORIZER_STEP].feature_names_),
            coef=np.ravel(regressor.coef_).astype(float),
            intercept=float(np.ravel(regressor.intercept_)[0]),
            kind=metadata.get("model", {}).get("kind", pipeline.steps[-1][0]),
            alpha=metadata.get("model", {}).get("params", {}).get("alpha"),
            distance_median=rides.distance_median_ if rides is not None else None,
            estimator=regressor,
            intervals=Intervals.from_dict(metadata["intervals"])
            if "intervals" in metadata
            else None,
        )


NO_INTERVALS = (
    "this model has no prediction intervals (it was saved before models learned them); "
    "retrain it with `ride-duration train`"
)


def load(model_path: Path | str) -> tuple[Model, dict]:
    """The model saved at ``model_path`` (checked against its sidecar) and its metadata."""
    # Read once: the sidecar vouches for exactly the bytes that are unpickled.
    from ..errors import ModelFileError
    from ..features import FEATURE_SETS
    from .artifact import read_metadata, read_model_bytes, unpickle_model

    model_path = Path(model_path)
    data = read_model_bytes(model_path)
    metadata = read_metadata(model_path, data)
    named = metadata.get("features", {}).get("set") if isinstance(metadata, dict) else None
    if named not in FEATURE_SETS:
        raise ModelFileError(
            f"{model_path}: its feature set {named!r} is not one this package knows "
            f"({', '.join(FEATURE_SETS)}); was it trained by another version?"
        )
    return Model.from_pipeline(unpickle_model(data, model_path), metadata), metadata


def unseen_pairs(model: Model, design: Design):
    """Which rows of a design have a pickup/dropoff pair training never saw (None for a
    feature set without the pair)."""
    categorical = list(feature_set(model.features).categorical)
    if "PU_DO" not in categorical:
        return None
    return design.group_columns[categorical.index("PU_DO")] < 0


def rmse(y_true, y_pred) -> float:
    """Root mean squared error, computed as scikit-learn's root_mean_squared_error does."""
    errors = np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float)
    return float(np.sqrt(np.mean(errors**2)))


def _pickup(value):
    """A pickup given as an ISO string becomes a datetime; a datetime or None stays."""
    if isinstance(value, str):
        import pandas as pd

        try:
            return pd.Timestamp(value).to_pydatetime()
        except (ValueError, OverflowError):
            return None
    return value if isinstance(value, dt.datetime) else None
