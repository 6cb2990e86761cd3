"""The README's diagrams, drawn by code: `make images` (python tools/diagrams.py).

Every PNG is deterministic: the same bytes on every run (no timestamp or software version in
its metadata, matplotlib's bundled DejaVu Sans, fixed sizes).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ride_duration.config import FIGURES_DIR

DPI = 100
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 11,
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
    "svg.hashsalt": "ride-duration",
}
BLUE, GREEN, ORANGE, GREY, RED = "#4C72B0", "#55A868", "#DD8452", "#8C8C8C", "#C44E52"

# Microsoft's MLOps maturity model, in our own words: what each level looks like for the
# people, the creation of models, their release and their integration into applications.
LEVELS = [
    (
        "No MLOps",
        RED,
        {
            "People": "Data scientists, data engineers and\nsoftware engineers work in silos",
            "Model creation": (
                "Data gathered by hand; experiments\nnot tracked; one model file\nhanded over"
            ),
            "Model release": "Manual; the scoring script is\nwritten late and not versioned",
            "Integration": "Depends on the data scientist;\nevery release is manual",
        },
    ),
    (
        "DevOps but no MLOps",
        ORANGE,
        {
            "People": "Still in silos; software engineers\nreceive the model from the others",
            "Model creation": "A data pipeline gathers data;\nexperiments still not tracked",
            "Model release": "Manual hand-off to software\nengineers; scoring script versioned",
            "Integration": "Application releases automated;\nbasic tests for the model",
        },
    ),
    (
        "Automated training",
        "#A68F2A",
        {
            "People": "Data scientists and data engineers\nturn experiments into jobs",
            "Model creation": (
                "Managed compute; experiments\ntracked; training code and models\nversioned"
            ),
            "Model release": "Manual release by software\nengineers; scoring script tested",
            "Integration": "Basic integration tests;\nstill relies on data scientists",
        },
    ),
    (
        "Automated model deployment",
        GREEN,
        {
            "People": "All three roles work together on\ninputs, outputs and integration",
            "Model creation": "As level 2: tracked, versioned,\nreproducible training",
            "Model release": "Automatic, through a CI/CD\npipeline, with tests",
            "Integration": (
                "Unit and integration tests for every\nrelease; less reliant on data scientists"
            ),
        },
    ),
    (
        "Full MLOps automated operations",
        BLUE,
        {
            "People": "All three roles work together;\nmonitoring is everyone's input",
            "Model creation": "Production metrics trigger\nretraining automatically",
            "Model release": "Automatic, through CI/CD;\npromotion by policy",
            "Integration": "As level 3: retrained models go\nthrough the same tested release",
        },
    ),
]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _canvas(width: float, height: float, title: str | None = None, size: float = 15):
    """A blank figure whose data coordinates are inches, with an optional title on top."""
    plt = _plt()
    figure = plt.figure(figsize=(width, height))
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    if title:
        ax.text(width / 2, height - 0.35, title, ha="center", fontsize=size, fontweight="bold")
    return figure, ax


def _box(ax, x, y, w, h, text, color, *, size=11, weight="normal", fill=0.15, text_color="black"):
    from matplotlib.colors import to_rgba
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=to_rgba(color, fill),
            edgecolor=color,
            lw=1.6,
        )
    )
    ax.text(
        x + w / 2,
        y + h / 2,
        text,
        ha="center",
        va="center",
        fontsize=size,
        fontweight=weight,
        color=text_color,
        linespacing=1.35,
    )


def _arrow(ax, start, end, color=GREY, style="-|>", curve=0.0):
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle=style,
            mutation_scale=18,
            color=color,
            lw=1.8,
            connectionstyle=f"arc3,rad={curve}",
        )
    )


def pipeline_figure():
    figure, ax = _canvas(10.0, 4.0, "The three stages of a machine-learning project")
    stages = [
        (
            "1. Design",
            BLUE,
            "Is machine learning the\nright tool? Define the\ntarget and the metric.",
        ),
        (
            "2. Train",
            ORANGE,
            "Experiment with features\nand models; keep the best\none, with its data.",
        ),
        (
            "3. Operate",
            GREEN,
            "Serve it behind a REST API;\nmonitor it; retrain when\nthe data drifts.",
        ),
    ]
    for index, (title, color, text) in enumerate(stages):
        x = 0.4 + index * 3.3
        _box(ax, x, 0.9, 2.6, 2.2, "", color)
        ax.text(
            x + 1.3,
            2.7,
            title,
            ha="center",
            va="center",
            fontsize=14,
            fontweight="bold",
            color=color,
        )
        ax.text(x + 1.3, 1.75, text, ha="center", va="center", fontsize=10.5, linespacing=1.4)
        if index < 2:
            _arrow(ax, (x + 2.65, 2.0), (x + 3.25, 2.0))
    _arrow(ax, (8.2, 0.85), (5.2, 0.85), color=GREEN, curve=-0.35)
    ax.text(6.7, 0.18, "monitoring feeds retraining", ha="center", fontsize=10, color=GREEN)
    return figure


def problem_figure():
    figure, ax = _canvas(11.0, 4.6, "The problem: how long will this taxi ride take?")
    rides = [("Pickup zone\nPULocationID = 43", 3.0), ("Dropoff zone\nDOLocationID = 151", 1.95)]
    for text, y in rides:
        _box(ax, 0.3, y, 2.3, 0.8, text, BLUE, size=10)
        _arrow(ax, (2.65, y + 0.4), (3.55, 2.8))
    _box(ax, 0.3, 0.7, 2.3, 0.8, "Trip distance\n1.8 miles", BLUE, size=10)
    _arrow(ax, (2.65, 1.1), (3.55, 1.1))
    _box(
        ax, 3.6, 2.35, 2.6, 0.9, 'The pair PU_DO = "43_151"\none weight per route', ORANGE, size=10
    )
    _box(ax, 3.6, 0.65, 2.6, 0.9, "trip_distance = 1.8\none weight per mile", ORANGE, size=10)
    for y in (2.8, 1.1):
        _arrow(ax, (6.25, y), (7.05, 1.95))
    _box(
        ax,
        7.1,
        1.4,
        1.9,
        1.1,
        "DictVectorizer\n+ Linear-\nRegression",
        ORANGE,
        size=10.5,
        weight="bold",
    )
    _arrow(ax, (9.05, 1.95), (9.4, 1.95))
    _box(ax, 9.45, 1.45, 1.35, 1.0, "Duration\n(minutes)", GREEN, size=10.5, weight="bold")
    ax.text(
        5.5,
        0.2,
        "Trained on one month of NYC TLC trip records, checked on the next. "
        "Routes never seen in training get no route weight.",
        ha="center",
        fontsize=9.5,
        color=GREY,
    )
    return figure


def _level_column(ax, x, width, level, name, color, traits, *, top=6.2, row=1.3, size=8.6):
    _box(
        ax,
        x,
        top,
        width,
        0.8,
        f"Level {level}\n{name}",
        color,
        size=size + 1.5,
        weight="bold",
        fill=0.85,
        text_color="white",
    )
    for index, (aspect, text) in enumerate(traits.items()):
        y = top - 0.15 - row * (index + 1)
        _box(ax, x, y, width, row - 0.12, "", color, fill=0.08)
        ax.text(
            x + width / 2,
            y + row - 0.3,
            aspect,
            ha="center",
            va="center",
            fontsize=size,
            fontweight="bold",
            color=color,
        )
        ax.text(
            x + width / 2,
            y + (row - 0.45) / 2,
            text,
            ha="center",
            va="center",
            fontsize=size - 0.6,
            linespacing=1.25,
        )


def maturity_figure():
    # Two rows of wider columns: readable at the README's width (about 900 pixels).
    figure, ax = _canvas(10.4, 14.4, "MLOps maturity model (after Microsoft)", size=16)
    for level, (name, color, traits) in enumerate(LEVELS):
        row, column = divmod(level, 3)
        x = 0.15 + column * 3.4 + (1.7 if row else 0.0)
        top = 12.95 - row * 6.5
        _level_column(ax, x, 3.3, level, name, color, traits, top=top, row=1.3, size=10)
    ax.text(
        5.2,
        0.25,
        "This project: level 2, with level 4's loop run by hand. Runs are tracked, models\n"
        "registered; a new month's monitoring triggers retraining, but nothing schedules it.",
        ha="center",
        fontsize=11,
        color=GREY,
    )
    return figure


def level_figure(level: int):
    name, color, traits = LEVELS[level]
    figure, ax = _canvas(8.0, 6.6)
    _level_column(ax, 0.6, 6.8, level, name, color, traits, top=5.55, row=1.3, size=12)
    return figure


def figures() -> dict:
    drawn = {
        "mlops_pipeline.png": pipeline_figure,
        "ride_duration_problem.png": problem_figure,
        "mlops_maturity_models.png": maturity_figure,
    }
    drawn |= {f"mlops_level{n}.png": (lambda n=n: level_figure(n)) for n in range(len(LEVELS))}
    return drawn


def draw_all(folder: Path = FIGURES_DIR) -> list[Path]:
    from ride_duration.reports.plots import save

    plt = _plt()
    written = []
    # The diagrams' style for these figures only: a process that draws other figures after
    # (the tests, a notebook) keeps its own.
    with plt.rc_context(STYLE):
        for name, draw in figures().items():
            figure = draw()
            written.append(save(figure, Path(folder) / name, dpi=DPI))
            plt.close(figure)
    return written


if __name__ == "__main__":
    for path in draw_all(Path(sys.argv[1]) if len(sys.argv) > 1 else FIGURES_DIR):
        print(path)
