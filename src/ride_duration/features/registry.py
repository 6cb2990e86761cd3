"""Feature sets: what each one encodes, needs of a ride, drops, derives, and trains by default.

Adding a feature set is one ``register(FeatureSet(...))`` entry here (or in a user's own code):
train, predict, serve and the CLI read everything they need of it from its entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import rich
from .columns import KeyedWeights, RideColumns, Term, integer_key, pair_keys, zone_keys


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
    # Optional, for speed: (weights by feature name, intercept, median, whether the distance
    # is used, the pickup's parser) -> a function scoring rides given as dicts exactly as
    # ``ride`` and the weights would, in the same order of sums (the service's hot path).
    scorer: Callable[..., Callable] | None = None
    # Optional, for batches: the same arguments -> a function giving each column's ``Term``s
    # of ``RideColumns`` with NumPy, in ``scorer``'s order: the intercept plus their sum is
    # ``scorer``'s to the last bit, and they explain a batch without a dict per ride.
    column_terms: Callable[..., Callable] | None = None
    default_model: str = "linear"
    alphas: dict = field(default_factory=dict)  # default alpha per regressor, where not its own
    name_prefix: str = ""  # of its default model file names
    # How a prediction is explained: named parts, each the sum of some of its columns'
    # weights ((part, columns), ...). A column in no part is a part of its own, named as it.
    parts: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def uses_distance(self, columns) -> bool:
        return "trip_distance" in self.numerical and "trip_distance" in columns

    def explained_parts(self) -> list[tuple[str, tuple[str, ...]]]:
        """Every column of this set in one named part, in the order of ``parts``, then the
        columns no part names, each its own."""
        named = list(self.parts)
        claimed = {column for _, columns in named for column in columns}
        return named + [
            (column, (column,))
            for column in (*self.categorical, *self.numerical)
            if column not in claimed
        ]


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


def _zone_keys(column: str, label: str):
    """A zone column's label as the integers rides give: '43_151' -> (43, 151), '43' -> 43."""
    parts = label.split("_") if column == "PU_DO" else [label]
    try:
        numbers = tuple(int(part) for part in parts)
    except ValueError:
        return None
    return numbers if column == "PU_DO" else numbers[0]


def _zone_tables(categorical, weights: dict[str, float]) -> list[tuple[str, dict]]:
    """Each zone column's weights keyed by the rides' own integers: a zone, or a (pickup,
    dropoff) pair (labels that are not zone IDs are left out: no ride can name them)."""
    tables = []
    for column in categorical:
        prefix, table = column + "=", {}
        for name, weight in weights.items():
            if name.startswith(prefix):
                key = _zone_keys(column, name[len(prefix) :])
                if key is not None:
                    table[key] = weight
        tables.append((column, table))
    return tables


def _zone_scorer(categorical):
    """Rides scored by the zone sets' weights keyed by the rides' own integers: the lookups
    ``_zone_ride`` and the vectorizer make, without formatting a label per ride."""

    def compile(weights: dict[str, float], intercept: float, median, distance_used, when_of):
        tables = [
            (column == "PU_DO", column == "PULocationID", table.get)
            for column, table in _zone_tables(categorical, weights)
        ]
        per_mile = weights.get("trip_distance", 0.0)

        def score(rides) -> list[float]:
            out = []
            for ride in rides:
                pickup, dropoff = ride.get("PULocationID", -1), ride.get("DOLocationID", -1)
                total = intercept
                for pair, first, lookup in tables:
                    key = (pickup, dropoff) if pair else (pickup if first else dropoff)
                    total += lookup(key, 0.0)
                if distance_used and (distance := ride.get("trip_distance")) is not None:
                    total += per_mile * float(distance)
                out.append(total)
            return out

        return score

    return compile


_ZONE_VALUES = {"PU_DO": '"%d_%d"', "PULocationID": '"%d"', "DOLocationID": '"%d"'}


def _zone_column_terms(categorical):
    """Each zone column's weights looked up for every ride at once (``RideColumns``), then
    the distance's: the terms ``_zone_scorer`` adds, in its order."""

    def compile(weights: dict[str, float], intercept: float, median, distance_used, when_of):
        tables = [
            (column, KeyedWeights({integer_key(key): w for key, w in table.items()}))
            for column, table in _zone_tables(categorical, weights)
        ]
        per_mile = weights.get("trip_distance", 0.0)

        def terms(rides: RideColumns) -> list[Term]:
            out = []
            for column, lookup in tables:
                if column == "PU_DO":
                    zones, keys = (rides.pu, rides.do), pair_keys(rides.pu, rides.do)
                else:
                    zones = (rides.pu if column == "PULocationID" else rides.do,)
                    keys = zone_keys(zones[0])
                minutes, seen = lookup.find(keys)
                out.append(Term(column, minutes, _ZONE_VALUES[column], zones, seen))
            if distance_used:
                distance = rides.distance
                minutes = np.where(np.isnan(distance), 0.0, per_mile * distance)
                out.append(Term("trip_distance", minutes, "%s", (distance,)))
            return out

        return terms

    return compile


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
        scorer=_zone_scorer(("PU_DO",)),
        column_terms=_zone_column_terms(("PU_DO",)),
        parts=(("pickup_dropoff", ("PU_DO",)), ("distance", ("trip_distance",))),
    )
)
register(
    FeatureSet(
        "homework",
        "PULocationID + DOLocationID (the homework's)",
        ("PULocationID", "DOLocationID"),
        ride=_zone_ride(("PULocationID", "DOLocationID")),
        scorer=_zone_scorer(("PULocationID", "DOLocationID")),
        column_terms=_zone_column_terms(("PULocationID", "DOLocationID")),
        parts=(("pickup", ("PULocationID",)), ("dropoff", ("DOLocationID",))),
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
        scorer=rich.scorer,
        column_terms=rich.column_terms,
        # Ridge with alpha=3, the strength 5-fold cross-validation picks on the training
        # months (green 2021-01: 3; 2023-01: 3 to 5); its zone x hour groups overfit without
        # a penalty.
        default_model="ridge",
        alphas={"ridge": 3.0},
        name_prefix="rich_",
        parts=(
            ("pickup_dropoff", ("PU_DO",)),
            ("hour_of_week", ("hour_dow",)),
            ("zone_x_hour", ("PU_hour", "DO_hour")),
            ("distance_shape", ("distance_band", "trip_distance", "log_distance")),
        ),
    )
)


def feature_set(name: str) -> FeatureSet:
    from ..errors import RideDurationError

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


def usable(name: str, frame: pd.DataFrame, report=None) -> pd.DataFrame:
    """The rides of a prepared frame that feature set ``name`` can use: for a set that drops
    incomplete rides, those whose numerical features are all recorded and finite. What is
    dropped is counted in ``report`` (a ``PrepareReport``), if given."""
    frame, dropped = complete_rows(frame, required_columns(name, frame))
    if report is not None and dropped:
        report.dropped_missing_feature += dropped
        report.rows_kept -= dropped
    return frame
