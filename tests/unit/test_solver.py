"""The exact solver against an independent dense minimum-norm least-squares reference."""

import numpy as np
import pandas as pd
import pytest

from ride_duration.features import transform
from ride_duration.modeling import solver
from ride_duration.modeling.solver import solve_exact
from ride_duration.modeling.statistics import statistics
from tests.helpers import fit_exact, fit_vectorizer


def reference(matrix, y, alpha=0.0):
    """What scikit-learn converges to: centre X and y, then take the minimum-norm
    least-squares coefficients (numpy's SVD-based lstsq), or ridge's closed form."""
    dense = matrix.toarray()
    means = dense.mean(axis=0)
    centred, yc = dense - means, y - y.mean()
    if alpha:
        gram = centred.T @ centred + alpha * np.eye(dense.shape[1])
        coef = np.linalg.solve(gram, centred.T @ yc)
    else:
        coef, *_ = np.linalg.lstsq(centred, yc, rcond=None)
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


def groups_frame(rng, n, sizes, numeric=1):
    """Random one-hot groups g0, g1, ... of the given sizes, and numerical columns."""
    frame = pd.DataFrame(
        {
            f"g{i}": pd.Categorical([f"v{v}" for v in rng.integers(0, k, n)])
            for i, k in enumerate(sizes)
        }
    )
    for j in range(numeric):
        frame[f"z{j}"] = rng.gamma(2.0, 2.0, n)
    y = rng.normal(10, 3, n) + 1.5 * frame.get("z0", 0)
    return frame, np.asarray(y, dtype=float)


def check_solver(frame, y, val=None, alpha=0.0):
    categorical = [c for c in frame if c.startswith("g")]
    numerical = [c for c in frame if c.startswith("z")]
    vectorizer = fit_vectorizer(frame, categorical, numerical)
    design = transform(vectorizer, frame, categorical, numerical)
    coef, intercept = solve_exact(design, y, alpha)
    want_coef, want_intercept = reference(design.matrix, y, alpha)
    np.testing.assert_allclose(coef, want_coef, atol=1e-7)
    assert intercept == pytest.approx(want_intercept, abs=1e-7)
    if val is not None:
        val_matrix = transform(vectorizer, val, categorical, numerical).matrix
        np.testing.assert_allclose(
            val_matrix @ coef + intercept, val_matrix @ want_coef + want_intercept, atol=1e-6
        )
    return coef, intercept


@pytest.mark.parametrize("sizes", [(30, 5), (40, 7, 4), (25, 6, 3, 2)], ids=str)
@pytest.mark.parametrize("seed", range(3))
def test_several_groups_with_numbers(sizes, seed):
    rng = np.random.default_rng(seed)
    frame, y = groups_frame(rng, 400, sizes, numeric=2)
    val, _ = groups_frame(rng, 60, [k + 2 for k in sizes], numeric=2)  # unseen levels too
    check_solver(frame, y, val)


def test_collinear_groups():
    # g1 is g0 under other names: the two groups are one, twice over.
    rng = np.random.default_rng(3)
    frame, y = groups_frame(rng, 200, (6,), numeric=1)
    frame["g1"] = frame["g0"].cat.rename_categories(lambda v: f"copy-{v}")
    check_solver(frame, y)


def test_number_constant_within_the_big_group_and_a_level_seen_once():
    rng = np.random.default_rng(4)
    frame, y = groups_frame(rng, 300, (20, 4), numeric=0)
    level = frame["g0"].cat.codes.to_numpy()
    frame["z0"] = (level % 5) * 1.7  # constant within every g0 level
    frame["g2"] = pd.Categorical(["only"] + ["common"] * 299)  # a level seen once
    coef, _ = check_solver(frame, y)
    assert np.isfinite(coef).all()


@pytest.mark.parametrize("alpha", [0.01, 1.0, 30.0])
@pytest.mark.parametrize("dense_limit", [4000, 3], ids=["direct", "conjugate-gradients"])
def test_ridge_is_sklearns_ridge(monkeypatch, alpha, dense_limit):
    from sklearn.linear_model import Ridge

    monkeypatch.setattr(solver, "DENSE_LIMIT", dense_limit)
    rng = np.random.default_rng(5)
    frame, y = groups_frame(rng, 500, (50, 8, 5), numeric=2)
    coef, intercept = check_solver(frame, y, alpha=alpha)
    categorical, numerical = ["g0", "g1", "g2"], ["z0", "z1"]
    matrix = transform(fit_vectorizer(frame, categorical, numerical), frame, categorical, numerical)
    ridge = Ridge(alpha=alpha, solver="cholesky").fit(matrix.matrix.toarray(), y)
    np.testing.assert_allclose(coef, ridge.coef_, atol=1e-8)
    assert intercept == pytest.approx(ridge.intercept_, abs=1e-8)


def test_linear_beyond_the_dense_limit_is_refused_clearly(monkeypatch):
    monkeypatch.setattr(solver, "DENSE_LIMIT", 3)
    rng = np.random.default_rng(6)
    frame, y = groups_frame(rng, 100, (10, 6), numeric=1)
    design = transform(fit_vectorizer(frame, ["g0", "g1"], ["z0"]), frame, ["g0", "g1"], ["z0"])
    with pytest.raises(solver.SolverError, match="use ridge"):
        solve_exact(design, y)


def test_statistics_add_up_and_give_the_squared_error():
    rng = np.random.default_rng(7)
    frame, y = groups_frame(rng, 300, (12, 5), numeric=2)
    categorical, numerical = ["g0", "g1"], ["z0", "z1"]
    vectorizer = fit_vectorizer(frame, categorical, numerical)

    def stats_of(rows):
        part = frame.iloc[rows].reset_index(drop=True)
        return statistics(transform(vectorizer, part, categorical, numerical), y[rows])

    whole = stats_of(np.arange(300))
    parts = stats_of(np.arange(0, 120)) + stats_of(np.arange(120, 300))
    assert parts.n == whole.n and parts.sum_yy == pytest.approx(whole.sum_yy)
    np.testing.assert_allclose(parts.gram.toarray(), whole.gram.toarray())
    np.testing.assert_allclose(parts.xty, whole.xty)
    coef, intercept = solver.solve(parts, 0.5)
    design = transform(vectorizer, frame, categorical, numerical)
    sse = float(np.sum((design.dot(coef) + intercept - y) ** 2))
    assert whole.sse(coef, intercept) == pytest.approx(sse, rel=1e-9)
