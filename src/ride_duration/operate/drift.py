"""Drift statistics between a reference sample (the model's training months) and a current
one (a new month), computed with SciPy:

- numbers (prediction, duration, distance): the Wasserstein distance (earth mover's
  distance, ``scipy.stats.wasserstein_distance``) divided by the reference's standard
  deviation, so that 0.1 means "the distribution moved by a tenth of its spread", whatever
  the unit;
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


def normed_wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    """Wasserstein distance in units of the reference's standard deviation."""
    from scipy.stats import wasserstein_distance

    reference, current = _finite(reference), _finite(current)
    if len(reference) == 0 or len(current) == 0:
        return float("nan")
    spread = float(np.std(reference))
    distance = float(wasserstein_distance(reference, current))
    return distance / spread if spread > 0 else (0.0 if distance == 0 else float("inf"))


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
