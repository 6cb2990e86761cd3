"""Sufficient statistics of a least-squares fit with an intercept.

Everything the exact linear and ridge fits need from the rows is a few sums: the row count,
the sums of y and y², the column sums ``X'1``, ``X'y`` and the Gram matrix ``X'X``. For a
one-hot design ``X'X`` is sparse and its size depends on the number of categories, not of
rides: category counts on the diagonal, cross counts between categorical groups, per-category
sums of the numerical columns, and the numerical columns' own small Gram. Statistics of
several batches of rows (row groups, months, Dask tasks) add up to those of their union, and
the sum of squared errors of any coefficients can be read from them without the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..features import Design

_DENSE_CROSS_LIMIT = 1 << 22  # cross-count tables up to this size are counted with bincount


@dataclass
class Statistics:
    """``n``, ``sum_y``, ``sum_yy``; ``sums`` = X'1, ``xty`` = X'y, ``gram`` = X'X (CSR);
    ``groups`` lists the matrix columns of each one-hot group (columns of one group are never
    set in the same row, so each group's block of the Gram matrix is diagonal)."""

    n: int
    sum_y: float
    sum_yy: float
    sums: np.ndarray
    xty: np.ndarray
    gram: sp.csr_matrix
    groups: list[np.ndarray]

    @property
    def n_features(self) -> int:
        return len(self.sums)

    def __add__(self, other: Statistics) -> Statistics:
        if self.n_features != other.n_features:
            raise ValueError("statistics over different columns do not add up")
        return Statistics(
            self.n + other.n,
            self.sum_y + other.sum_y,
            self.sum_yy + other.sum_yy,
            self.sums + other.sums,
            self.xty + other.xty,
            (self.gram + other.gram).tocsr(),
            [np.union1d(a, b) for a, b in zip(self.groups, other.groups)],
        )

    def __sub__(self, other: Statistics) -> Statistics:
        """The statistics of these rows without ``other``'s (a subset of them): a model fitted
        on all training rides but some, without a pass over the rest."""
        if self.n_features != other.n_features:
            raise ValueError("statistics over different columns do not subtract")
        return Statistics(
            self.n - other.n,
            self.sum_y - other.sum_y,
            self.sum_yy - other.sum_yy,
            self.sums - other.sums,
            self.xty - other.xty,
            (self.gram - other.gram).tocsr(),
            self.groups,
        )

    def mean_prediction(self, coef: np.ndarray, intercept: float) -> float:
        """The mean of the fitted model's predictions on these rides."""
        return float(intercept + self.sums @ coef / self.n) if self.n else float("nan")

    def sse(self, coef: np.ndarray, intercept: float) -> float:
        """Sum of squared errors of ``X @ coef + intercept`` on these rows."""
        predicted_sq = coef @ (self.gram @ coef) + 2 * intercept * (self.sums @ coef)
        predicted_sq += self.n * intercept**2
        cross = coef @ self.xty + intercept * self.sum_y
        return float(max(self.sum_yy - 2 * cross + predicted_sq, 0.0))


def _local_codes(columns: np.ndarray, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes in 0..k-1, the k matrix columns used) of one group's rows."""
    present = np.bincount(columns, minlength=n_features) > 0
    used = np.flatnonzero(present)
    lookup = np.cumsum(present) - 1
    return lookup[columns], used


def _cross_counts(a: np.ndarray, size_a: int, b: np.ndarray, size_b: int):
    """(rows, columns, counts) of the distinct (a, b) code pairs."""
    keys = a.astype(np.int64) * size_b + b
    if size_a * size_b <= _DENSE_CROSS_LIMIT:
        counts = np.bincount(keys, minlength=size_a * size_b)
        keys = np.flatnonzero(counts)
        counts = counts[keys]
    else:
        keys, counts = np.unique(keys, return_counts=True)
    rows, columns = np.divmod(keys, size_b)
    return rows, columns, counts.astype(float)


def statistics(design: Design, y: np.ndarray) -> Statistics:
    """The sufficient statistics of these rows. Rows whose category was not in the
    vocabulary (column -1) contribute nothing to that group, as DictVectorizer drops it.
    Sums that overflow become infinite, silently: the solver refuses them."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _statistics(design, y)


def _cross_counts_between_groups(local, n_rows: int, put) -> None:
    """The Gram blocks between each pair of one-hot groups: how often two categories meet."""
    for g, (codes_a, used_a, seen_a) in enumerate(local):
        for codes_b, used_b, seen_b in local[g + 1 :]:
            a, b = codes_a, codes_b
            if len(a) < n_rows or len(b) < n_rows:
                # Codes index the rows each group saw; keep the rows both saw.
                both = seen_a & seen_b
                a = codes_a[np.cumsum(seen_a)[both] - 1]
                b = codes_b[np.cumsum(seen_b)[both] - 1]
            r, c, v = _cross_counts(a, len(used_a), b, len(used_b))
            put(used_a[r], used_b[c], v)
            put(used_b[c], used_a[r], v)


def _statistics(design: Design, y: np.ndarray) -> Statistics:
    y = np.asarray(y, dtype=float)
    p = design.n_features
    z = design.numeric
    numeric_columns = np.asarray(design.numeric_columns, dtype=np.int64)
    rows, cols, vals = [], [], []

    def put(r, c, v):
        rows.append(np.asarray(r, np.int64))
        cols.append(np.asarray(c, np.int64))
        vals.append(np.asarray(v, float))

    sums = np.zeros(p)
    xty = np.zeros(p)
    local = []
    z_columns = np.ascontiguousarray(z.T)  # each column contiguous, for bincount's weights
    for columns in design.group_columns:
        seen = columns >= 0
        every = bool(seen.all())  # always so in training: no masked copies then
        codes, used = _local_codes(columns if every else columns[seen], p)
        local.append((codes, used, seen))
        counts = np.bincount(codes, minlength=len(used)).astype(float)
        sums[used] += counts
        xty[used] += np.bincount(codes, weights=y if every else y[seen], minlength=len(used))
        put(used, used, counts)
        for j, column in enumerate(numeric_columns):
            weights = z_columns[j] if every else z_columns[j][seen]
            level_sums = np.bincount(codes, weights=weights, minlength=len(used))
            put(used, np.full(len(used), column), level_sums)
            put(np.full(len(used), column), used, level_sums)
    _cross_counts_between_groups(local, len(y), put)
    if len(numeric_columns):
        sums[numeric_columns] += z.sum(axis=0)
        xty[numeric_columns] += z.T @ y
        r, c = np.meshgrid(numeric_columns, numeric_columns, indexing="ij")
        put(r.ravel(), c.ravel(), (z.T @ z).ravel())
    gram = sp.coo_matrix(
        (
            np.concatenate(vals or [np.zeros(0)]),
            (
                np.concatenate(rows or [np.zeros(0, np.int64)]),
                np.concatenate(cols or [np.zeros(0, np.int64)]),
            ),
        ),
        shape=(p, p),
    ).tocsr()
    gram.sum_duplicates()
    return Statistics(
        n=len(y),
        sum_y=float(y.sum()),
        sum_yy=float(y @ y),
        sums=sums,
        xty=xty,
        gram=gram,
        groups=[used for _, used, _ in local],
    )
