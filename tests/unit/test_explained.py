"""A batch's explanations written from arrays are the JSON of the parts' dicts, ride for ride:
the course's tiny hand-made rides, with an unseen pair, a missing zone and a zone past 999."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ride_duration.features.columns import RideColumns
from ride_duration.modeling.explain import explain_columns
from ride_duration.modeling.model import Model
from ride_duration.serving.explained import explanations_json

RIDES = [
    {"PULocationID": 1, "DOLocationID": 2, "trip_distance": 1.5},
    {"PULocationID": 3, "DOLocationID": 4, "trip_distance": 0.1},
    {"PULocationID": 1, "DOLocationID": 4, "trip_distance": 12.0},  # a pair never seen
    {"PULocationID": -1, "DOLocationID": 2, "trip_distance": 1e-7},  # no pickup zone
    {"PULocationID": 1234, "DOLocationID": 5, "trip_distance": 3.0},  # neither zone seen
]


def _model(features: str, names: list[str], coef: list[float]) -> Model:
    return Model(features, names, np.array(coef), 7.25)


MODELS = {
    "lesson": _model("lesson", ["PU_DO=1_2", "PU_DO=3_4", "trip_distance"], [-1.0, 2.5, 0.3]),
    "homework": _model(
        "homework",
        ["DOLocationID=2", "DOLocationID=4", "PULocationID=1", "PULocationID=3"],
        [0.5, -0.125, 1 / 3, 4.0],
    ),
}


@pytest.mark.parametrize("features", sorted(MODELS))
@pytest.mark.parametrize("count", [0, 1, len(RIDES)])
def test_written_from_arrays_equals_the_dicts(features, count):
    model, rides = MODELS[features], RIDES[:count]
    explained = explain_columns(model, RideColumns.of(rides, pickups=False))
    written = json.loads(explanations_json(explained, len(rides)))
    assert written == [e.as_list() for e in model.explain_rides(rides)]
    np.testing.assert_array_equal(explained.predicted, model.predict_rides(rides))
    if count == len(RIDES):  # the unseen are named, as explain_rides names them
        assert any(part["unseen"] for parts in written for part in parts)


def test_the_lesson_parts_of_an_unseen_pair():
    model = MODELS["lesson"]
    explained = explain_columns(model, RideColumns.of(RIDES[2:4], pickups=False))
    pair = json.loads(explanations_json(explained, 2))[0][1]
    assert pair == {
        "part": "pickup_dropoff",
        "minutes": 0.0,
        "features": {"PU_DO": "1_4"},
        "unseen": ["PU_DO=1_4"],
    }


def test_a_ride_without_its_distance_is_explained_ride_by_ride():
    """A missing number leaves its feature out of that ride's parts: the arrays cannot say
    so, so they decline and the caller explains ride by ride."""
    rides = [{"PULocationID": 1, "DOLocationID": 2}, RIDES[0]]
    assert explain_columns(MODELS["lesson"], RideColumns.of(rides, pickups=False)) is None
