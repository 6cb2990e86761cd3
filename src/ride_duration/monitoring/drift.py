"""Drift statistics between a reference sample (the model's training months) and a current
one (a new month), computed with SciPy:

- numbers (prediction, duration, distance): the Wasserstein distance (earth mover's
  distance) divided by the reference's standard deviation, so that 0.1 means "the
  distribution moved by a tenth of its spread", whatever the unit. It is computed on values
  rounded to a thousandth (of a minute or a mile) from the two samples' cumulative counts,
  without sorting millions of values: the exact distance of the rounded samples, which is
  what ``scipy.stats.wasserstein_distance`` returns for them (tested), and within 0.0005 of
  the unrounded one; a range too wide for counts falls back to SciPy itself;
- categories (pickup and dropoff zones, hour of the week): the population stability index,
  PSI = sum((c - r) * ln(c / r)) over the categories' shares r and c (shares floored at
  1e-4, so that a category new in one sample counts without an infinite term), and the
  Jensen-Shannon distance in bits (``scipy.spatial.distance.jensenshannon``, from 0 for
  equal shares to 1 for disjoint ones).

Why not Evidently, the course's week-5 tool: it computes these same statistics (its
defaults for large samples are the normed Wasserstein distance and Jensen-Shannon) but
brings dozens of dependencies pinned to its own ranges; SciPy is already here.
"""

from __future__ import annotations

import numpy as np

FLOOR = 1e-4


GRID = 1e-3  # values are compared rounded to a thousandth
MAX_CELLS = 50_000_000  # beyond this range of rounded values, SciPy sorts instead


def normed_wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    """Wasserstein distance in units of the reference's standard deviation."""
    reference, current = _finite(reference), _finite(current)
    if len(reference) == 0 or len(current) == 0:
        return float("nan")
    spread = float(np.std(reference))
    distance = wasserstein(reference, current)
    return distance / spread if spread > 0 else (0.0 if distance == 0 else float("inf"))


def wasserstein(u: np.ndarray, v: np.ndarray) -> float:
    """The 1-Wasserstein distance of two samples rounded to ``GRID``: the area between their
    cumulative distribution functions, from counts per grid cell."""
    u_cells, v_cells = np.rint(u / GRID).astype(np.int64), np.rint(v / GRID).astype(np.int64)
    low = min(u_cells.min(), v_cells.min())
    cells = int(max(u_cells.max(), v_cells.max()) - low) + 1
    if cells > MAX_CELLS:
        from scipy.stats import wasserstein_distance

        return float(wasserstein_distance(u_cells * GRID, v_cells * GRID))
    u_cdf = np.cumsum(np.bincount(u_cells - low, minlength=cells)) / len(u)
    v_cdf = np.cumsum(np.bincount(v_cells - low, minlength=cells)) / len(v)
    return float(np.abs(u_cdf - v_cdf)[:-1].sum() * GRID)


def _finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


def shares(counts: dict, categories: list) -> np.ndarray:
    total = sum(counts.values()) or 1
    return np.array([counts.get(c, 0) / total for c in categories], dtype=float)


def psi(reference: dict, current: dict) -> float:
    """Population stability index of two categorical samples given as {category: count}."""
    categories = sorted(set(reference) | set(current), key=str)
    r = np.maximum(shares(reference, categories), FLOOR)
    c = np.maximum(shares(current, categories), FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def jensen_shannon(reference: dict, current: dict) -> float:
    """Jensen-Shannon distance (base 2) of two categorical samples given as {category: count}."""
    from scipy.spatial.distance import jensenshannon

    categories = sorted(set(reference) | set(current), key=str)
    return float(jensenshannon(shares(reference, categories), shares(current, categories), base=2))


def counts_of(values: np.ndarray) -> dict:
    """{category: count} of an array of category labels or codes."""
    labels, counts = np.unique(np.asarray(values), return_counts=True)
    return {_plain(label): int(n) for label, n in zip(labels, counts)}


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
