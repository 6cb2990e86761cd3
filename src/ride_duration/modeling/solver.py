"""The exact least-squares fit of a one-hot design, as a scikit-learn LinearRegression.

scikit-learn fits sparse input with lsqr and ``tol=1e-6``, which stops long before the
optimum once ``trip_distance`` sits beside thousands of one-hot columns (green 2021-01:
train RMSE 5.70 where the optimum is 4.64). The designs here have a known structure:
one-hot groups plus a few numerical columns. That makes the normal equations small, so we
solve them exactly instead of iterating.

One-hot designs are rank-deficient, so the least-squares coefficients are not unique. We
return the ones scikit-learn's solver converges to: with the intercept handled by centring,
the minimum-norm solution of the centred problem. Seen categories are predicted the same by
every solution; the choice only matters for categories never seen in training.
"""

from __future__ import annotations

import numpy as np

from ..features import Design


def _pinv_solve(
    gram: np.ndarray, rhs: np.ndarray, scale: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-norm solution of a symmetric positive semi-definite system, and its null space.

    Eigenvalues below rounding level, relative to the larger of the largest eigenvalue and
    ``scale``, count as zero.
    """
    if gram.size == 0:
        return np.zeros(0), np.zeros((0, 0))
    eigenvalues, vectors = np.linalg.eigh(gram)
    cutoff = max(eigenvalues.max(), scale, 0.0) * gram.shape[0] * np.finfo(float).eps * 100
    kept = eigenvalues > cutoff
    solution = vectors[:, kept] @ ((vectors[:, kept].T @ rhs) / eigenvalues[kept])
    return solution, vectors[:, ~kept]


def _one_group(groups: np.ndarray, k: int, numeric: np.ndarray, y: np.ndarray):
    """Minimum-norm centred solution for one one-hot group (k levels, codes ``groups``) plus
    numerical columns, by eliminating the group (within-group centring)."""
    counts = np.bincount(groups, minlength=k).astype(float)
    level_mean_y = np.bincount(groups, weights=y, minlength=k) / counts
    p = numeric.shape[1]
    level_mean_z = (
        np.column_stack(
            [np.bincount(groups, weights=numeric[:, j], minlength=k) / counts for j in range(p)]
        )
        if p
        else np.zeros((k, 0))
    )
    z_within = numeric - level_mean_z[groups]
    y_within = y - level_mean_y[groups]
    z_centred = numeric - numeric.mean(axis=0)
    scale = float((z_centred * z_centred).sum(axis=0).max()) if p else 0.0
    # If a numerical column is constant within every group, the groups absorb it and the
    # within-group problem is singular: the null space below handles that.
    beta, null = _pinv_solve(z_within.T @ z_within, z_within.T @ y_within, scale)
    levels = level_mean_y - level_mean_z @ beta
    # Every least-squares solution is w = levels - M N v - c, beta + N v (N spans the
    # numerical directions the groups absorb). Pick v and c of least total norm.
    shift = np.column_stack([level_mean_z @ null, np.ones(k)])
    penalty = np.hstack([np.eye(null.shape[1]), np.zeros((null.shape[1], 1))])
    target = np.concatenate([levels, np.zeros(null.shape[1])])
    (*v, c), *_ = np.linalg.lstsq(np.vstack([shift, penalty]), target, rcond=None)
    v = np.asarray(v)
    weights = levels - level_mean_z @ null @ v - c
    return weights, beta + null @ v


def _dense(groups: list[np.ndarray], sizes: list[int], numeric: np.ndarray, y: np.ndarray):
    """Minimum-norm centred solution from the full normal equations: for designs with few
    columns (the homework's pickup and dropoff zones: about 500)."""
    n = len(y)
    offsets = np.cumsum([0, *sizes])
    width = offsets[-1] + numeric.shape[1]
    gram = np.zeros((width, width))
    rhs = np.zeros(width)
    z = numeric - numeric.mean(axis=0)
    yc = y - y.mean()
    for a, (codes_a, size_a) in enumerate(zip(groups, sizes)):
        block_a = slice(offsets[a], offsets[a + 1])
        for b in range(a, len(groups)):
            cross = (
                np.bincount(
                    codes_a.astype(np.int64) * sizes[b] + groups[b], minlength=size_a * sizes[b]
                )
                .reshape(size_a, sizes[b])
                .astype(float)
            )
            gram[block_a, offsets[b] : offsets[b + 1]] = cross
            gram[offsets[b] : offsets[b + 1], block_a] = cross.T
        rhs[block_a] = np.bincount(codes_a, weights=yc, minlength=size_a)
        for j in range(z.shape[1]):
            column = offsets[-1] + j
            gram[block_a, column] = gram[column, block_a] = np.bincount(
                codes_a, weights=z[:, j], minlength=size_a
            )
    means = np.concatenate([np.diag(gram)[: offsets[-1]] / n, np.zeros(z.shape[1])])
    gram -= n * np.outer(means, means)
    gram[offsets[-1] :, offsets[-1] :] = z.T @ z
    rhs[offsets[-1] :] = z.T @ yc
    solution, _ = _pinv_solve(gram, rhs)
    parts = [solution[offsets[g] : offsets[g + 1]] for g in range(len(groups))]
    return parts, solution[offsets[-1] :]


def fit_exact(design: Design, y: np.ndarray):
    """A fitted ``LinearRegression`` holding the exact minimum-norm least-squares solution."""
    from .estimators import linear_regression

    return linear_regression(*solve_exact(design, y))


def solve_exact(design: Design, y: np.ndarray, *, dense_limit: int = 4000):
    """(coef, intercept) of the exact minimum-norm least-squares fit with an intercept."""
    y = np.asarray(y, dtype=float)
    n_features = design.n_features
    local_groups, columns_of = [], []
    for group in design.group_columns:
        used = np.flatnonzero(np.bincount(group, minlength=n_features))
        local = np.zeros(n_features, dtype=np.intp)
        local[used] = np.arange(len(used))
        local_groups.append(local[group])
        columns_of.append(used)
    sizes = [len(c) for c in columns_of]

    if len(local_groups) == 1:
        weights, beta = _one_group(local_groups[0], sizes[0], design.numeric, y)
        parts = [weights]
    elif sum(sizes) + design.numeric.shape[1] <= dense_limit:
        parts, beta = _dense(local_groups, sizes, design.numeric, y)
    else:
        raise ValueError(f"no exact solver for {len(sizes)} one-hot groups of sizes {sizes}")

    coef = np.zeros(n_features)
    for used, part in zip(columns_of, parts):
        coef[used] = part
    coef[design.numeric_columns] = beta
    return coef, float(y.mean() - design.column_means() @ coef)
