"""Exact least-squares and ridge fits of one-hot designs, from their sufficient statistics.

scikit-learn fits sparse input iteratively and stops early: LinearRegression's lsqr at
``tol=1e-6`` leaves green 2021-01 at train RMSE 5.70 where the optimum is 4.64. These designs
have a structure that makes the exact answer cheap: one-hot groups plus a few numerical
columns. The largest group's block of the normal equations is diagonal, so it is eliminated
(within-group centring, as fixed-effects regression does) and what remains — the other groups,
the numerical columns and the intercept — is a much smaller system.

- Linear: one-hot designs are rank-deficient and least squares has many solutions. We return
  the one scikit-learn's solver converges to, the minimum-norm solution of the centred
  problem. Seen categories are predicted the same by every solution; the choice matters only
  for categories never seen in training.
- Ridge: the solution is unique (scikit-learn's ``Ridge``: the intercept is not penalised).
  The reduced system is solved directly when it is small, otherwise by conjugate gradients
  with a diagonal preconditioner to a relative residual of 1e-12.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..features import Design
from .statistics import Statistics, statistics

DENSE_LIMIT = 4000  # the reduced system is solved as a dense matrix up to this many columns
CG_TOLERANCE = 1e-12
ABSORBED = 1e-10  # relative variance left after elimination below which a column is explained


class SolverError(ValueError):
    """The design is beyond what the exact solver handles (too many columns to solve densely)."""


def solve_exact(design: Design, y: np.ndarray, alpha: float = 0.0):
    """(coef, intercept) of the exact fit of these rows (see ``solve``)."""
    return solve(statistics(design, y), alpha)


def solve(stats: Statistics, alpha: float = 0.0) -> tuple[np.ndarray, float]:
    """(coef, intercept): ridge with penalty ``alpha`` on the coefficients (not the
    intercept); with ``alpha=0``, the minimum-norm least-squares solution of the centred
    problem."""
    finite = np.isfinite([stats.sum_y, stats.sum_yy]).all() and all(
        np.isfinite(part).all() for part in (stats.sums, stats.xty, stats.gram.data)
    )
    if not finite:
        raise SolverError(
            "the sums of squares overflow (a value too large to square, such as a distance "
            "of 1e300 miles?)"
        )
    p = stats.n_features
    gram = stats.gram.tocsr()
    diagonal = gram.diagonal()
    big = max(stats.groups, key=len) if stats.groups else np.zeros(0, np.int64)
    big = big[diagonal[big] > 0]
    # A column no row sets (a category only in rows left out, as in a cross-validation
    # fold's fit) has coefficient 0 in every solution we return: keep it out of the system.
    rest_mask = diagonal > 0
    rest_mask[big] = False
    rest = np.flatnonzero(rest_mask)

    # Unknowns: the big group's weights, then [intercept, the rest's weights].
    d = diagonal[big] + alpha
    coupling = sp.hstack([sp.csr_matrix(stats.sums[big][:, None]), gram[big][:, rest]]).tocsr()
    own = sp.bmat(
        [
            [sp.csr_matrix([[float(stats.n)]]), sp.csr_matrix(stats.sums[rest][None, :])],
            [sp.csr_matrix(stats.sums[rest][:, None]), gram[rest][:, rest]],
        ]
    ).tocsr()
    penalty = np.r_[0.0, np.full(len(rest), alpha)]
    rhs_big = stats.xty[big]
    rhs = np.r_[stats.sum_y, stats.xty[rest]] - coupling.T @ (rhs_big / d)

    if len(rest) + 1 <= DENSE_LIMIT:
        reduced = own.toarray() + np.diag(penalty)
        reduced -= (coupling.T @ sp.diags(1 / d) @ coupling).toarray()
        if alpha > 0:
            x, null = _solve_spd(reduced, rhs), None
        else:
            x, null = _min_norm_solve(reduced, rhs, own.diagonal())
    elif alpha > 0:
        x, null = _conjugate_gradients(own, penalty, coupling, d, rhs), None
    else:
        raise SolverError(
            f"the exact linear fit of this design needs a dense system of {len(rest) + 1} "
            f"columns (at most {DENSE_LIMIT}); use ridge, which is solved iteratively"
        )

    coef = np.zeros(p)
    coef[big] = (rhs_big - coupling @ x) / d
    coef[rest] = x[1:]
    intercept = float(x[0])
    if null is not None and null.shape[1]:
        coef, intercept = _least_norm(coef, intercept, big, rest, coupling, d, null)
    return coef, intercept


def _solve_spd(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    import scipy.linalg

    try:
        return scipy.linalg.solve(matrix, rhs, assume_a="pos")
    except (np.linalg.LinAlgError, ValueError) as exc:
        raise SolverError(f"the normal equations have no unique solution ({exc})") from None


def _min_norm_solve(
    matrix: np.ndarray, rhs: np.ndarray, before: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A solution of a consistent symmetric positive semi-definite system, and a basis of its
    null space. Columns are scaled to a unit diagonal first, so that a numerical column in
    miles and a one-hot column in counts are judged by the same rounding level. A column
    whose diagonal the elimination cancelled to rounding level (``before`` is the diagonal
    before it) is one the eliminated group explains completely: it is taken out exactly,
    as scaling its rounding noise up would hide that."""
    diagonal = np.diag(matrix).copy()
    absorbed = diagonal <= before * ABSORBED
    matrix, rhs = matrix.copy(), rhs.copy()
    matrix[absorbed], matrix[:, absorbed], rhs[absorbed] = 0.0, 0.0, 0.0
    diagonal[absorbed] = 0.0
    scale = 1 / np.sqrt(np.where(diagonal > 0, diagonal, 1.0))
    scaled = matrix * scale[:, None] * scale[None, :]
    eigenvalues, vectors = np.linalg.eigh(scaled)
    cutoff = max(eigenvalues.max(initial=0.0), 1.0) * len(matrix) * np.finfo(float).eps * 100
    kept = eigenvalues > cutoff
    solution = vectors[:, kept] @ ((vectors[:, kept].T @ (rhs * scale)) / eigenvalues[kept])
    return solution * scale, vectors[:, ~kept] * scale[:, None]


def _least_norm(coef, intercept, big, rest, coupling, d, null):
    """Among all least-squares solutions (this one plus the null space), the one whose
    coefficients, the intercept aside, have the least norm."""
    directions = np.zeros((len(coef), null.shape[1]))
    directions[big] = -(coupling @ null) / d[:, None]
    directions[rest] = null[1:]
    shift, *_ = np.linalg.lstsq(directions, -coef, rcond=None)
    return coef + directions @ shift, float(intercept + null[0] @ shift)


def _conjugate_gradients(own, penalty, coupling, d, rhs) -> np.ndarray:
    """Solve the reduced ridge system ``(own + diag(penalty) - C' D⁻¹ C) x = rhs`` without
    forming it: each product is two sparse products with the coupling block."""
    from scipy.sparse.linalg import LinearOperator, cg

    n = len(rhs)

    def apply(v):
        return own @ v + penalty * v - coupling.T @ ((coupling @ v) / d)

    diagonal = own.diagonal() + penalty - np.asarray(coupling.multiply(coupling).T @ (1 / d))
    preconditioner = LinearOperator((n, n), matvec=lambda v: v / diagonal, dtype=float)
    operator = LinearOperator((n, n), matvec=apply, dtype=float)
    x, info = cg(operator, rhs, rtol=CG_TOLERANCE, atol=0.0, maxiter=20 * n, M=preconditioner)
    if info:
        raise SolverError(f"conjugate gradients did not converge in {info} iterations")
    return x
