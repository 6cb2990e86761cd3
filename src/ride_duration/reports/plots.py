"""Plots of durations and predictions, shared by the notebooks and `ride-duration plots`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import MAX_DURATION_MINUTES, MIN_DURATION_MINUTES

PERCENTILES = (50, 90, 95, 98, 99)
# PNG metadata that would change between runs or machines is left out, so the same data
# always gives the same bytes.
PNG_METADATA = {"Software": None}


def _axes(ax, size=(8, 4.5)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def duration_distribution(minutes, ax=None, upper: float = 90.0, title: str | None = None):
    """Histogram of ride durations with percentile markers and the 1-60 minute window."""
    ax = _axes(ax)
    values = np.asarray(minutes, dtype=float)
    values = values[np.isfinite(values)]
    # Counted with NumPy and drawn as one outline: a month of millions of rides draws as
    # fast as one of thousands (seaborn's histplot takes seconds to sort out its input).
    counts, edges = np.histogram(values, bins=np.arange(0, upper + 1, 1.0))
    ax.stairs(counts, edges, fill=True, color="#4C72B0", alpha=0.75)
    ax.margins(x=0.05)
    ax.axvspan(
        MIN_DURATION_MINUTES,
        MAX_DURATION_MINUTES,
        color="#55A868",
        alpha=0.12,
        label=f"kept: {MIN_DURATION_MINUTES:g}-{MAX_DURATION_MINUTES:g} min",
    )
    marks = np.percentile(values, PERCENTILES) if len(values) else []
    top = ax.get_ylim()[1]
    for index, (pct, mark) in enumerate(zip(PERCENTILES, marks)):
        if mark <= upper:
            ax.axvline(mark, color="#C44E52", lw=0.8, ls="--")
            # Staggered heights: the upper percentiles lie a few minutes apart.
            ax.text(
                mark + 0.6,
                top * (0.95 - 0.1 * (index % 3)),
                f"p{pct}: {mark:.0f} min",
                ha="left",
                va="top",
                fontsize=9,
                color="#C44E52",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
            )
    share = np.mean(values > upper) if len(values) else 0.0
    note = f"{share:.1%} of rides last over {upper:g} min (not shown)"
    ax.set(xlabel="duration (minutes)", ylabel="rides")
    ax.set_title(f"{title}\n{note}" if title else f"Ride durations: {note}", fontsize=11)
    ax.legend(loc="center right", frameon=False)
    return ax


def prediction_vs_actual(
    actual, predicted, axes=None, title: str = "Validation month", unseen=None, limit: float = 40
):
    """Left: predicted against actual duration, with the rides whose pickup/dropoff pair was
    never seen in training marked (``unseen``, a boolean mask) if given. Right: the
    distribution of residuals within ±``limit`` minutes."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    left, right = axes
    cells = left.hexbin(
        actual,
        np.clip(predicted, -10, 80),
        gridsize=60,
        bins="log",
        cmap="Blues",
        extent=(0, 60, -10, 80),
    )
    left.figure.colorbar(cells, ax=left, label="rides per cell (log scale)")
    left.plot([0, 60], [0, 60], color="#C44E52", lw=1, label="perfect prediction")
    if unseen is not None and np.any(unseen):
        unseen = np.asarray(unseen, bool)
        level = float(np.median(predicted[unseen]))
        left.axhline(
            level,
            color="#DD8452",
            lw=1.2,
            ls=":",
            label=f"{unseen.sum():,} rides on pairs unseen in training:\n"
            f"median prediction {level:.1f} min",
        )
    left.set(
        xlabel="actual duration (min)",
        ylabel="predicted duration (min)",
        title=f"{title}: predicted vs actual",
    )
    left.legend(loc="upper left", frameon=False, fontsize=9)
    residuals = predicted - actual
    inside = np.abs(residuals) <= limit
    shown = residuals[inside]
    density, edges = np.histogram(shown, bins=80, density=True)
    right.stairs(density, edges, fill=True, color="#4C72B0", alpha=0.75)
    right.margins(x=0.05)
    if len(shown) > 1:
        grid = np.linspace(edges[0], edges[-1], 200)
        right.plot(grid, residual_density(shown, grid), color="#DD8452", lw=1.2)
    right.axvline(0, color="black", lw=0.8)
    outside = int((~inside).sum())
    right.set(
        xlabel="prediction - actual (min)",
        ylabel="density",
        title=f"Residuals (RMSE {np.sqrt(np.mean(residuals**2)):.2f} min)\n"
        f"{outside:,} of {len(residuals):,} beyond ±{limit:g} min not shown",
    )
    return axes


KDE_RIDES = 50_000  # the density curve is estimated from at most this many residuals


def residual_density(residuals: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A Gaussian kernel density estimate (Scott's bandwidth) of the residuals on ``grid``,
    from a fixed sample of at most ``KDE_RIDES`` of them: its cost grows with the rides
    times the grid, and fifty thousand draw the same curve as three million."""
    from scipy.stats import gaussian_kde

    if len(residuals) > KDE_RIDES:
        picked = np.random.default_rng(0).choice(len(residuals), KDE_RIDES, replace=False)
        residuals = residuals[np.sort(picked)]
    if np.ptp(residuals) == 0:
        return np.zeros_like(grid)
    return gaussian_kde(residuals)(grid)


def save(figure, path: Path, dpi: int = 100) -> Path:
    """Write a figure as a PNG whose bytes depend only on what it shows."""
    import io

    from ..files import atomic_write

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata=PNG_METADATA)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(Path(path), buffer.getvalue())
    return Path(path)


def intervals(actual, predicted, lower, upper, ax=None, n: int = 120, title: str | None = None):
    """A sample of rides sorted by prediction: each one's interval as a bar, its actual
    duration as a dot (red when outside the interval)."""
    ax = _axes(ax, size=(9, 4.5))
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    rng = np.random.default_rng(0)  # the same rides every run
    picked = rng.choice(len(actual), size=min(n, len(actual)), replace=False)
    picked = picked[np.argsort(predicted[picked])]
    x = np.arange(len(picked))
    ax.vlines(x, lower[picked], upper[picked], color="#4C72B0", alpha=0.45, lw=3, label="interval")
    ax.scatter(x, predicted[picked], marker="_", color="#4C72B0", s=40, label="prediction")
    inside = (actual[picked] >= lower[picked]) & (actual[picked] <= upper[picked])
    ax.scatter(x[inside], actual[picked][inside], s=10, color="#222222", label="actual, inside")
    ax.scatter(x[~inside], actual[picked][~inside], s=14, color="#C44E52", label="actual, outside")
    share = ((actual >= lower) & (actual <= upper)).mean()
    ax.set(xlabel="rides, sorted by prediction", ylabel="duration (minutes)")
    ax.set_title(f"{title or 'Prediction intervals'}: {share:.1%} of all rides inside", fontsize=11)
    ax.legend(loc="upper left", fontsize=8)
    return ax


MODEL_FIGURES = ("duration_distribution.png", "prediction_vs_actual.png")


def check_figures_dir(out: Path, inputs=()) -> None:
    """Refuse, before any work, a --out folder in which a model's pictures would replace what
    must never be replaced (``files.check_output``)."""
    from ..files import OutputRefused, check_output

    if Path(out).exists() and not Path(out).is_dir():
        raise OutputRefused(f"--out {out}: is not a folder")
    if Path(out).is_dir():
        for name in MODEL_FIGURES:
            check_output(Path(out) / name, "--out", (".png",), inputs)


def model_figures(
    model_path: Path | None, data_dir: Path, out: Path, scored=None, metadata=None
) -> list[Path]:
    """A saved model's two pictures: its training month's durations and its validation
    month's predictions against the actual durations (a model trained or validated on
    several months is pictured on the first of each). ``scored``: the validation rides'
    (actual, predicted, unseen pair) when they are at hand, else the month is scored again.
    ``metadata``: the model's sidecar, when it is not saved yet (then ``scored`` is needed).
    Returns the PNGs' paths."""
    from ..modeling.artifact import read_metadata

    meta = metadata or read_metadata(model_path)
    taxi = meta["taxi"]
    return [
        durations_figure(taxi, meta["train_month"], data_dir, out),
        predictions_figure(model_path, data_dir, out, scored, meta),
    ]


def drawable_unsaved(metadata: dict, scored) -> bool:
    """Whether ``model_figures`` can draw a model not saved yet: its one validation month's
    rides are scored already."""
    from ..data.months import parse_months

    return scored is not None and len(parse_months(metadata["val_month"])) == 1


def durations_figure(taxi: str, train_month: str, data_dir: Path, out: Path) -> Path:
    """The training month's ride durations (the first month of several), as a PNG in ``out``."""
    import matplotlib.pyplot as plt

    from ..data.months import parse_months
    from ..data.prepare import duration_minutes
    from ..data.reading import read_month

    month = parse_months(train_month)[0]
    minutes = duration_minutes(read_month(taxi, month, data_dir))
    figure = duration_distribution(minutes, title=f"{taxi} {month}: ride durations").figure
    path = save(figure, Path(out) / MODEL_FIGURES[0])
    plt.close(figure)
    return path


def predictions_figure(
    model_path: Path | None, data_dir: Path, out: Path, scored=None, metadata=None
) -> Path:
    """A saved model's predictions on its validation month against the actual durations, as a
    PNG in ``out``; ``scored`` and ``metadata`` as for ``model_figures``."""
    import matplotlib.pyplot as plt

    from ..data.months import parse_months
    from ..modeling.artifact import read_metadata
    from ..modeling.predict import score_month

    meta = metadata or read_metadata(model_path)
    taxi, val_month = meta["taxi"], parse_months(meta["val_month"])[0]
    if scored is None or len(parse_months(meta["val_month"])) > 1:
        month = score_month(model_path, taxi, val_month, data_dir, keep_predictions=True)
        scored = (month.actual, month.predicted, month.unseen_pair)
    actual, predicted, unseen = scored
    axes = prediction_vs_actual(actual, predicted, title=f"{taxi} {val_month}", unseen=unseen)
    path = save(axes[0].figure, Path(out) / MODEL_FIGURES[1])
    plt.close(axes[0].figure)
    return path
