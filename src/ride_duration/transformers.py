"""The scikit-learn transformer that starts a saved ``rich`` pipeline: raw rides in, the
feature dicts DictVectorizer encodes out. (A module of its own: importing it imports
scikit-learn, which the lesson model's training avoids.)"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .features.rich import CATEGORICAL, NUMERICAL, distance_median, rich_frame, rides_frame


class RideFeatures(TransformerMixin, BaseEstimator):
    """Ride records → ``rich`` feature dicts.

    Input: dicts or a DataFrame with PULocationID, DOLocationID, trip_distance (miles) and
    pickup_datetime (a datetime or an ISO string). ``fit`` learns the median valid distance,
    which replaces implausible ones (``dataset.plausible_distance``);
    give ``distance_median`` to fix it instead.
    """

    def __init__(self, distance_median: float | None = None):
        self.distance_median = distance_median

    def fit(self, rides, y=None):
        if self.distance_median is not None:
            self.distance_median_ = float(self.distance_median)
        else:
            self.distance_median_ = distance_median(rides_frame(rides)["trip_distance"])
        return self

    def transform(self, rides) -> list[dict]:
        check_is_fitted(self, "distance_median_")
        features = rich_frame(rides_frame(rides), self.distance_median_)
        columns = {c: features[c].astype(object).tolist() for c in CATEGORICAL}
        columns |= {c: features[c].tolist() for c in NUMERICAL}
        return [dict(zip(columns, row)) for row in zip(*columns.values())]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray([*CATEGORICAL, *NUMERICAL], dtype=object)
