"""Why this many minutes: a prediction of a linear model is its intercept plus one weight
per active feature, so it splits exactly into named parts that add up to it.

The parts are the feature set's (``FeatureSet.parts``: for ``lesson`` the pickup-dropoff
pair and the distance; for ``rich`` also the hour of the week, zone x hour and the distance's
shape), each the sum of its columns' terms, with the intercept as a part of its own. A part
names the feature values it used; a value training never saw has no weight (DictVectorizer
drops it), so it adds 0 minutes and is listed as ``unseen``. A feature set added through the
registry is explained the same way, one part per column unless it names its parts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..features import SEPARATOR, Design, feature_set
from ..features.columns import RideColumns, Term

INTERCEPT = "intercept"


@dataclass(frozen=True)
class Part:
    """One named part of a prediction: its minutes, the feature values it used, and those of
    them training never saw (each weighing 0)."""

    part: str
    minutes: float
    features: dict = field(default_factory=dict)
    unseen: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        # Not dataclasses.asdict, which deep-copies: a batch makes thousands of these.
        return {
            "part": self.part,
            "minutes": self.minutes,
            "features": self.features,
            "unseen": self.unseen,
        }


@dataclass(frozen=True)
class Explanation:
    """A prediction and its parts, the intercept first: the parts add up to ``duration``
    (to rounding: a part sums its own terms first)."""

    duration: float
    parts: list[Part]

    def as_list(self) -> list[dict]:
        return [part.as_dict() for part in self.parts]


def _part_of(model) -> dict[str, str]:
    """Each column of the model's feature set -> the name of the part it belongs to."""
    return {
        column: name
        for name, columns in feature_set(model.features).explained_parts()
        for column in columns
    }


def explain_rides(model, rides: Iterable[dict]) -> list[Explanation]:
    """Each ride (the service's shape) explained: the same feature dicts and weights as
    ``Model.predict_rides_by_features``, each term added to its part."""
    weights, part_of = model._weights, _part_of(model)
    named = [INTERCEPT, *dict.fromkeys(part_of.values())]
    explained = []
    for ride in rides:
        total = model.intercept
        minutes, used, unseen = {}, {}, {}
        for key, value in model.ride_features(ride).items():
            name = part_of.get(key, key)  # a column the set's entry does not list: its own
            if value.__class__ is str:
                label = key + SEPARATOR + value
                term = weights.get(label)
                if term is None:
                    unseen.setdefault(name, []).append(label)
                    term = 0.0
            else:
                weight = weights.get(key)
                if weight is None:
                    unseen.setdefault(name, []).append(key)
                    weight = 0.0
                term = weight * value
            minutes[name] = minutes.get(name, 0.0) + term
            total += term  # in the order the prediction adds them: the same float
            used.setdefault(name, {})[key] = value
        order = [n for n in named if n in minutes] + [n for n in minutes if n not in named]
        parts = [Part(INTERCEPT, model.intercept)]
        parts += [Part(n, float(minutes[n]), used[n], unseen.get(n, [])) for n in order]
        explained.append(Explanation(float(total), parts))
    return explained


@dataclass(frozen=True)
class ColumnPart:
    """One named part of every prediction of a batch: its minutes per ride and the column
    terms it adds up (in order)."""

    part: str
    minutes: np.ndarray
    terms: list[Term]


@dataclass(frozen=True)
class ExplainedColumns:
    """A batch of rides read into arrays, explained: the intercept, then each part present,
    in the order ``explain_rides`` gives them (the same parts, minutes and values)."""

    intercept: float
    parts: list[ColumnPart]
    predicted: np.ndarray  # the predictions they add up to (``Model.predict_columns``')


def explain_columns(model, rides: RideColumns) -> ExplainedColumns | None:
    """``explain_rides`` for rides read into arrays, from the feature set's column terms
    (None when it has none, or when a ride leaves out a number the set would use: its
    feature is then absent from that ride's explanation, which arrays do not show)."""
    terms = model.column_terms(rides)
    if terms is None or any(
        term.seen is None and not np.isfinite(term.args[0]).all() for term in terms
    ):
        return None
    part_of = _part_of(model)
    grouped: dict[str, list[Term]] = {}
    for term in terms:
        grouped.setdefault(part_of.get(term.column, term.column), []).append(term)
    named = [name for name, _ in feature_set(model.features).explained_parts()]
    order = [n for n in named if n in grouped] + [n for n in grouped if n not in named]
    parts = []
    for name in order:
        minutes = grouped[name][0].minutes
        for term in grouped[name][1:]:
            minutes = minutes + term.minutes  # 0.0 + the first term is the first term
        parts.append(ColumnPart(name, minutes, grouped[name]))
    return ExplainedColumns(model.intercept, parts, model.add_terms(terms, len(rides)))


def explain_design(model, design: Design) -> dict:
    """Each part's minutes for every row of a design (``Model.design``), as arrays: the
    intercept, then the parts; they add up to ``Model.predict_design``."""
    part_of = _part_of(model)
    padded = np.append(model.coef, 0.0)  # column -1 (an unseen value) weighs nothing
    out = {INTERCEPT: np.full(design.n_rows, model.intercept)}
    # The design's categorical groups are the set's categorical columns, in order; its
    # numerical columns are named by the model's own columns.
    categorical = feature_set(model.features).categorical
    terms = [(c, padded[group]) for c, group in zip(categorical, design.group_columns)]
    terms += [
        (model.feature_names[index], design.numeric[:, j] * model.coef[index])
        for j, index in enumerate(design.numeric_columns)
    ]
    for column, minutes in terms:
        name = part_of.get(column, column)
        out[name] = out[name] + minutes if name in out else minutes
    return out


__all__ = [
    "INTERCEPT",
    "ColumnPart",
    "ExplainedColumns",
    "Explanation",
    "Part",
    "explain_columns",
    "explain_design",
    "explain_rides",
]
