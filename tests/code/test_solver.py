"""The exact solver against an independent dense minimum-norm least-squares reference."""

import numpy as np
import pandas as pd
import pytest

from ride_duration.features import fit_vectorizer, transform
from ride_duration.modeling.solver import fit_exact


def reference(matrix, y):
    """What scikit-learn's LinearRegression converges to: centre X and y, then take the
    minimum-norm least-squares coefficients (numpy's SVD-based lstsq)."""
    dense = matrix.toarray()
    means = dense.mean(axis=0)
    coef, *_ = np.linalg.lstsq(dense - means, y - y.mean(), rcond=None)
    return coef, y.mean() - means @ coef


def check(frame, categorical, numerical, y, val=None):
    vectorizer = fit_vectorizer(frame, categorical, numerical)
    design = transform(vectorizer, frame, categorical, numerical)
    model = fit_exact(design, y)
    coef, intercept = reference(design.matrix, y)
    np.testing.assert_allclose(model.coef_, coef, atol=1e-8)
    assert model.intercept_ == pytest.approx(intercept, abs=1e-8)
    if val is not None:
        val_matrix = transform(vectorizer, val, categorical, numerical).matrix
        np.testing.assert_allclose(
            model.predict(val_matrix), val_matrix @ coef + intercept, atol=1e-8
        )
    return model


def random_frame(rng, n, zones, with_distance=True):
    pu = rng.integers(0, zones, n)
    do = rng.integers(0, zones, n)
    frame = pd.DataFrame(
        {
            "PULocationID": pd.Categorical([str(v) for v in pu]),
            "DOLocationID": pd.Categorical([str(v) for v in do]),
            "PU_DO": pd.Categorical([f"{a}_{b}" for a, b in zip(pu, do)]),
        }
    )
    if with_distance:
        frame["trip_distance"] = rng.gamma(2.0, 2.0, n)
    y = rng.normal(10, 3, n) + (2.5 * frame["trip_distance"] if with_distance else 0)
    return frame, np.asarray(y, dtype=float)


@pytest.mark.parametrize("seed", range(5))
def test_one_group_with_distance(seed):
    rng = np.random.default_rng(seed)
    frame, y = random_frame(rng, 300, 6)
    val, _ = random_frame(rng, 50, 8)  # zones 6 and 7 never seen in training
    check(frame, ["PU_DO"], ["trip_distance"], y, val)


@pytest.mark.parametrize("seed", range(5))
def test_two_groups(seed):
    rng = np.random.default_rng(seed)
    frame, y = random_frame(rng, 200, 7, with_distance=False)
    val, _ = random_frame(rng, 50, 9, with_distance=False)
    check(frame, ["PULocationID", "DOLocationID"], [], y, val)


def test_one_group_alone():
    rng = np.random.default_rng(1)
    frame, y = random_frame(rng, 100, 4, with_distance=False)
    check(frame, ["PU_DO"], [], y)


def test_distance_constant_within_every_pair_is_absorbed():
    # Each pair always has the same distance, so the groups explain it completely and the
    # distance coefficient is decided by the minimum norm alone.
    frame = pd.DataFrame(
        {
            "PU_DO": pd.Categorical(["a", "a", "b", "b", "c"]),
            "trip_distance": [1.0, 1.0, 3.0, 3.0, 7.0],
        }
    )
    y = np.array([5.0, 7.0, 11.0, 9.0, 30.0])
    check(frame, ["PU_DO"], ["trip_distance"], y)


def test_disconnected_pickup_dropoff_graph():
    # Zones {1,2} only ever reach {3,4} and zone 5 only reaches 6: two components, so the
    # null space is larger than the usual one direction per group.
    frame = pd.DataFrame(
        {
            "PULocationID": pd.Categorical(["1", "1", "2", "2", "5", "5"]),
            "DOLocationID": pd.Categorical(["3", "4", "3", "4", "6", "6"]),
        }
    )
    y = np.array([3.0, 4.0, 5.0, 7.0, 20.0, 22.0])
    val = pd.DataFrame({"PULocationID": ["1", "5", "9"], "DOLocationID": ["6", "3", "3"]})
    check(frame, ["PULocationID", "DOLocationID"], [], y, val)


def test_a_single_category_predicts_its_mean():
    frame = pd.DataFrame({"PU_DO": pd.Categorical(["x"] * 3)})
    model = check(frame, ["PU_DO"], [], np.array([1.0, 2.0, 6.0]))
    assert model.intercept_ == pytest.approx(3.0)
