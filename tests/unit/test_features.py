"""The fast featuriser gives exactly DictVectorizer's matrix and vocabulary."""

import pandas as pd

from ride_duration.data.dataset import prepare
from ride_duration.features import feature_columns
from tests.helpers import assert_matches_dictvectorizer, at, fit_vectorizer, trips


def _frames():
    train = trips(
        [
            (at(1, 10), at(1, 10, 5), 43, 151, 1.8),
            (at(1, 10), at(1, 10, 9), 7, 43, 0.0),
            (at(1, 10), at(1, 10, 20), None, 151, 3.0),
            (at(1, 10), at(1, 10, 7), 43, 151, 2.2),
        ]
    )
    val = trips(
        [
            (at(1, 10), at(1, 10, 5), 43, 151, 1.0),
            (at(1, 10), at(1, 10, 5), 99, 98, 1.0),  # both zones unseen in training
            (at(1, 10), at(1, 10, 5), 7, 151, 4.0),  # pair unseen, zones seen
        ]
    )
    return prepare(train)[0], prepare(val)[0]


def _same_as_dictvectorizer(feature_set):
    assert_matches_dictvectorizer(*_frames(), feature_set)


def test_lesson_features_match_dictvectorizer():
    _same_as_dictvectorizer("lesson")


def test_homework_features_match_dictvectorizer():
    _same_as_dictvectorizer("homework")


def test_lesson_without_distance_uses_the_pair_alone():
    train, _ = _frames()
    assert feature_columns("lesson", train.drop(columns="trip_distance")) == (["PU_DO"], [])


def test_plain_string_columns_are_accepted():
    frame = pd.DataFrame({"PU_DO": ["1_2", "3_4", "1_2"], "trip_distance": [1.0, 2.0, 3.0]})
    vectorizer = fit_vectorizer(frame, ["PU_DO"], ["trip_distance"])
    assert vectorizer.feature_names_ == ["PU_DO=1_2", "PU_DO=3_4", "trip_distance"]
