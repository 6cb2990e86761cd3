"""The rich features: the distance rule, the labels, and the transformer that takes raw rides."""

import datetime as dt
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction import DictVectorizer

from ride_duration.data.dataset import prepare
from ride_duration.features import feature_columns, featurize, rich, transform
from ride_duration.transformers import RideFeatures
from tests.helpers import at, fit_vectorizer, trips


@pytest.mark.parametrize(
    ("distance", "kept"),
    [
        (0.0, True),
        (3.2, True),
        (100.0, True),
        (100.01, False),
        (-0.1, False),
        (np.nan, False),
        (np.inf, False),
        (-np.inf, False),
        (244152.0, False),
    ],
)
def test_the_distance_rule(distance, kept):
    cleaned = rich.clean_distance(np.array([distance]), 2.5)[0]
    assert cleaned == (distance if kept else 2.5)


def test_the_median_is_of_valid_distances_only():
    assert rich.distance_median([1.0, 2.0, 3.0, -5.0, np.nan, 1e6, 500.0]) == 2.0
    assert rich.distance_median([np.nan, -1.0]) == 0.0


def ride(pu=43, do=151, distance=1.8, pickup="2021-02-01T08:15:00"):
    return {
        "PULocationID": pu,
        "DOLocationID": do,
        "trip_distance": distance,
        "pickup_datetime": pickup,
    }


def test_labels_name_the_pair_the_slot_and_the_band():
    features = RideFeatures().fit([ride()]).transform([ride()])[0]
    assert features == {
        "PU_DO": "43_151",
        "hour_dow": "mon_08",  # 2021-02-01 was a Monday
        "PU_hour": "43_08",
        "DO_hour": "151_08",
        "distance_band": "1.5-2",
        "trip_distance": 1.8,
        "log_distance": pytest.approx(np.log1p(1.8)),
    }


def test_pickup_as_string_datetime_or_frame_gives_the_same_features():
    transformer = RideFeatures(distance_median=2.0).fit(None)
    as_text = transformer.transform([ride(pickup="2021-02-06 23:59:59")])
    as_datetime = transformer.transform([ride(pickup=dt.datetime(2021, 2, 6, 23, 59, 59))])
    as_frame = transformer.transform(pd.DataFrame([ride(pickup="2021-02-06T23:59:59")], index=[7]))
    assert as_text == as_datetime == as_frame
    assert as_text[0]["hour_dow"] == "sat_23"


@pytest.mark.parametrize("distance", [1e6, np.nan, -3.0, np.inf, None])
def test_impossible_distances_become_the_training_median(distance):
    transformer = RideFeatures().fit([ride(distance=d) for d in (1.0, 2.0, 4.0, 1e5)])
    assert transformer.distance_median_ == 2.0
    got = transformer.transform([ride(distance=distance)])[0]
    assert got["trip_distance"] == 2.0 and got["distance_band"] == "2-3"


def test_missing_zone_and_time_get_labels_no_training_ride_has():
    features = (
        RideFeatures(distance_median=1.0)
        .fit(None)
        .transform(
            [
                {
                    "PULocationID": None,
                    "DOLocationID": 5,
                    "trip_distance": 1.0,
                    "pickup_datetime": "soon",
                }
            ]
        )[0]
    )
    assert features["PU_DO"] == "-1_5"
    assert features["hour_dow"] == "-1"
    assert features["PU_hour"] == "-1_-1" and features["DO_hour"] == "5_-1"


def test_transformer_pickles_and_names_its_output():
    transformer = RideFeatures(distance_median=1.5).fit(None)
    again = pickle.loads(pickle.dumps(transformer))
    assert again.transform([ride()]) == transformer.transform([ride()])
    assert list(again.get_feature_names_out()) == [*rich.CATEGORICAL, *rich.NUMERICAL]


def _prepared():
    train = trips(
        [
            (at(1, 8), at(1, 8, 12), 43, 151, 1.8),
            (at(2, 17), at(2, 17, 30), 43, 151, 250000.0),
            (at(3, 8), at(3, 8, 9), 7, 43, np.nan),
            (at(4, 23), at(4, 23, 20), None, 151, 3.0),
            (at(5, 0), at(5, 0, 7), 43, 151, -2.0),
        ]
    )
    val = trips(
        [
            (at(1, 8), at(1, 8, 5), 43, 151, 1.0),
            (at(1, 9), at(1, 9, 5), 99, 98, 120.0),  # unseen zones and slot, absurd distance
        ]
    )
    return prepare(train)[0], prepare(val)[0]


def test_fast_design_is_dictvectorizers_matrix_of_the_transformers_dicts():
    train, val = _prepared()
    transformer = RideFeatures().fit(train)
    reference = DictVectorizer()
    expected = reference.fit_transform(transformer.transform(train))
    expected_val = reference.transform(transformer.transform(val))
    median = transformer.distance_median_
    features, val_features = featurize("rich", train, median), featurize("rich", val, median)
    categorical, numerical = feature_columns("rich", features)
    vectorizer = fit_vectorizer(features, categorical, numerical)
    assert vectorizer.feature_names_ == reference.feature_names_
    for frame, want in ((features, expected), (val_features, expected_val)):
        got = transform(vectorizer, frame, categorical, numerical).matrix
        assert (got != want).nnz == 0
