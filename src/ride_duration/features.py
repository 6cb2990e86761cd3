"""Feature sets, and a featuriser that gives exactly DictVectorizer's matrix without dicts.

The course builds one Python dict per ride and feeds them to DictVectorizer; on a
3-million-row month that alone takes tens of seconds. Here each categorical column is
already a pandas categorical of strings, so the vocabulary is built from its few distinct
values and the sparse matrix from integer codes. The result is the same CSR matrix,
the same ``feature_names_`` and ``vocabulary_``, and a genuinely fitted DictVectorizer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import rich


@dataclass(frozen=True)
class FeatureSet:
    """One feature set, everything about it in one place: the columns its DictVectorizer
    encodes, what it needs of a ride, its drop rule, how it derives its columns from a
    prepared frame and one ride's features, and the model it trains by default. Adding a
    feature set is one entry in ``FEATURE_SETS`` (see ``register``)."""

    name: str
    description: str
    categorical: tuple[str, ...]
    numerical: tuple[str, ...] = ()
    needs_pickup: bool = False  # keeps the pickup time (for its hour and weekday)
    needs_distance: bool = False  # refuses taxi types without distances (fhv)
    # True: a ride whose numerical feature is missing or not finite is dropped and counted;
    # False: the set repairs it (rich: the training median distance).
    drops_incomplete: bool = True
    # Learns the median valid distance from training rides; its saved pipeline then starts
    # with RideFeatures and takes raw rides.
    learns_distance_median: bool = False
    derive: Callable[[pd.DataFrame, float | None], pd.DataFrame] | None = None
    ride: Callable[..., dict] | None = None  # (pickup, dropoff, distance, when, median) -> dict
    default_model: str = "linear"
    alphas: dict = field(default_factory=dict)  # default alpha per regressor, where not its own
    name_prefix: str = ""  # of its default model file names

    def uses_distance(self, columns) -> bool:
        return "trip_distance" in self.numerical and "trip_distance" in columns


def _zone_ride(categorical):
    """One ride's feature dict for the sets made of zone columns (and the distance)."""

    labels = {
        "PU_DO": rich.pair_label,
        "PULocationID": lambda pickup, dropoff: str(pickup),
        "DOLocationID": lambda pickup, dropoff: str(dropoff),
    }
    chosen = [(c, labels[c]) for c in categorical]

    def ride(pickup: int, dropoff: int, distance, when=None, median=None) -> dict:
        features = {c: label(pickup, dropoff) for c, label in chosen}
        if distance is not None:
            features["trip_distance"] = float(distance)
        return features

    return ride


FEATURE_SETS: dict[str, FeatureSet] = {}


def register(feature_set: FeatureSet) -> FeatureSet:
    FEATURE_SETS[feature_set.name] = feature_set
    return feature_set


register(
    FeatureSet(
        "lesson",
        "PU_DO + trip_distance (the lesson's final model)",
        ("PU_DO",),
        ("trip_distance",),
        ride=_zone_ride(("PU_DO",)),
    )
)
register(
    FeatureSet(
        "homework",
        "PULocationID + DOLocationID (the homework's)",
        ("PULocationID", "DOLocationID"),
        ride=_zone_ride(("PULocationID", "DOLocationID")),
    )
)
register(
    FeatureSet(
        "rich",
        "PU_DO, a cleaned distance and its bands, hour x weekday, zone x hour",
        rich.CATEGORICAL,
        rich.NUMERICAL,
        needs_pickup=True,
        needs_distance=True,
        drops_incomplete=False,
        learns_distance_median=True,
        derive=rich.rich_frame,
        ride=rich.ride_features,
        # Ridge with alpha=3, the strength 5-fold cross-validation picks on the training
        # months (green 2021-01: 3; 2023-01: 3 to 5); its zone x hour groups overfit without
        # a penalty.
        default_model="ridge",
        alphas={"ridge": 3.0},
        name_prefix="rich_",
    )
)
SEPARATOR = "="


def feature_set(name: str) -> FeatureSet:
    from .errors import RideDurationError

    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise RideDurationError(
            f"unknown feature set {name!r}: choose {', '.join(FEATURE_SETS)}"
        ) from None


def featurize(name: str, frame: pd.DataFrame, distance_median: float | None = None):
    """The frame whose columns the feature set's DictVectorizer encodes: the prepared frame
    itself, or the columns the set derives from it (rich: with this training median)."""
    derive = feature_set(name).derive
    return frame if derive is None else derive(frame, distance_median)


def needed_timestamps(name: str) -> bool | str:
    """What ``dataset.prepare`` must keep of the timestamps: the pickup for the sets that use
    its hour and weekday, none for the others (a big month saves their memory)."""
    return "pickup" if feature_set(name).needs_pickup else False


def required_columns(name: str, frame: pd.DataFrame) -> list[str]:
    """Columns whose missing values drop a ride (none for a set that repairs them)."""
    return feature_columns(name, frame)[1] if feature_set(name).drops_incomplete else []


def feature_columns(name: str, frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Categorical and numerical columns of a feature set that this frame has (FHV has no
    distance, so its lesson model uses the pickup/dropoff pair alone)."""
    chosen = feature_set(name)
    return list(chosen.categorical), [c for c in chosen.numerical if c in frame]


def complete_rows(frame: pd.DataFrame, numerical: list[str]) -> tuple[pd.DataFrame, int]:
    """Rows whose numerical features are all recorded and finite, and how many were not: a
    missing or infinite distance cannot be fitted nor guessed without biasing the fit."""
    if not numerical:
        return frame, 0
    values = frame[numerical].to_numpy("float64", na_value=np.nan)
    missing = ~np.isfinite(values).all(axis=1)
    if not missing.any():
        return frame, 0
    return frame.loc[~missing].reset_index(drop=True), int(missing.sum())


@dataclass
class Design:
    """A design matrix, kept as the structure it is made of.

    ``group_columns[g][i]`` is the matrix column of row i's category in categorical column g
    (-1 where the category was not seen in training); ``numeric`` holds the numerical
    columns' values and ``numeric_columns`` their matrix columns. The exact solver and
    ``predict`` work on this structure; ``matrix`` (DictVectorizer's CSR matrix, built on
    first use) is for the regressors that need it.
    """

    group_columns: list[np.ndarray]
    numeric: np.ndarray
    numeric_columns: list[int]
    n_features: int

    @property
    def n_rows(self) -> int:
        return len(self.numeric)

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        slots = [
            *self.group_columns,
            *(np.full(self.n_rows, c, np.int32) for c in self.numeric_columns),
        ]
        values = [np.ones(self.n_rows)] * len(self.group_columns) + list(self.numeric.T)
        # DictVectorizer's rows list their columns in increasing order: sort each row's few
        # slots with compare-and-swap passes (a bubble sort across at most three columns).
        slots, values = [s.copy() for s in slots], [v.copy() for v in values]
        for end in range(len(slots) - 1, 0, -1):
            for j in range(end):
                swap = slots[j] > slots[j + 1]
                slots[j][swap], slots[j + 1][swap] = slots[j + 1][swap], slots[j][swap]
                values[j][swap], values[j + 1][swap] = values[j + 1][swap], values[j][swap]
        columns = np.column_stack(slots) if slots else np.empty((self.n_rows, 0), np.int32)
        data = np.column_stack(values) if values else np.empty((self.n_rows, 0))
        present = columns >= 0
        indptr = np.zeros(self.n_rows + 1, dtype=np.int32 if present.size < 2**31 else np.int64)
        np.cumsum(present.sum(axis=1), out=indptr[1:])
        matrix = sp.csr_matrix(
            (data[present], columns[present].astype(np.int32), indptr),
            shape=(self.n_rows, self.n_features),
        )
        matrix.has_sorted_indices = True
        return matrix

    def dot(self, coef: np.ndarray) -> np.ndarray:
        """``matrix @ coef`` without building the matrix."""
        out = (
            self.numeric @ coef[self.numeric_columns]
            if self.numeric_columns
            else np.zeros(self.n_rows)
        )
        padded = np.append(coef, 0.0)  # column -1 (unseen category) contributes nothing
        for group in self.group_columns:
            out += padded[group]
        return out


def _category_labels(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, list[str]]:
    values = frame[column]
    if not isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("str").astype("category")
    return values.cat.codes.to_numpy(), [str(c) for c in values.cat.categories]


def fit_feature_names(frame: pd.DataFrame, categorical: list[str], numerical: list[str]):
    """DictVectorizer's ``feature_names_`` for these columns: sorted, seen values only."""
    names = list(numerical)
    for column in categorical:
        codes, labels = _category_labels(frame, column)
        present = np.bincount(codes[codes >= 0], minlength=len(labels)) > 0
        names += [f"{column}{SEPARATOR}{label}" for label, used in zip(labels, present) if used]
    names.sort()
    return names


def transform(
    vectorizer, frame: pd.DataFrame, categorical: list[str], numerical: list[str]
) -> Design:
    """What ``vectorizer.transform(to_dicts(frame, ...))`` gives, built from integer codes.
    ``vectorizer`` is a fitted DictVectorizer or its ``vocabulary_``."""
    vocabulary = getattr(vectorizer, "vocabulary_", vectorizer)
    n_rows = len(frame)
    group_columns = []
    for column in categorical:
        codes, labels = _category_labels(frame, column)
        lookup = np.array(
            [vocabulary.get(f"{column}{SEPARATOR}{label}", -1) for label in labels] + [-1],
            dtype=np.int32,
        )
        # Code -1 (a missing value) indexes the trailing -1: no column, as DictVectorizer
        # drops what it never saw.
        group_columns.append(lookup[codes])
    numeric = (
        np.column_stack([frame[c].to_numpy("float64", na_value=np.nan) for c in numerical])
        if numerical
        else np.empty((n_rows, 0))
    )
    numeric_columns = [vocabulary[c] for c in numerical]
    return Design(group_columns, numeric, numeric_columns, len(vocabulary))


def build_design(
    name: str, frame: pd.DataFrame, vocabulary=None, distance_median: float | None = None
) -> tuple[Design, list[str] | None]:
    """The design of a feature set on prepared rides, as DictVectorizer would build it: over
    ``vocabulary`` (a fitted DictVectorizer or its ``vocabulary_``), or, when it is None,
    over the columns these rides have, whose sorted names come back as the fitted ones."""
    columns = featurize(name, frame, distance_median)
    categorical, numerical = feature_columns(name, columns)
    names = None
    if vocabulary is None:
        names = fit_feature_names(columns, categorical, numerical)
        vocabulary = {name: i for i, name in enumerate(names)}
    return transform(vocabulary, columns, categorical, numerical), names
