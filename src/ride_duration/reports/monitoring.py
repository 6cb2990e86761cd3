"""The monitoring report: ``reports/monitor_<taxi>_<month>.json`` (every number) and
``.html`` (the same as pictures a person would rather look at: errors per day, the
distributions of the reference and the month, zone shares, the hour of the week)."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from ..files import OutputRefused, atomic_write, check_output
from ..monitoring.decision import FIRST, KEPT, PROMOTED, Decision
from ..monitoring.monitor import MonitorResult
from .plots import PNG_METADATA

REFERENCE, CURRENT = "#4C72B0", "#DD8452"


def report_paths(folder: Path, taxi: str, month: str) -> tuple[Path, Path]:
    stem = Path(folder) / f"monitor_{taxi}_{month}"
    return stem.with_suffix(".json"), stem.with_suffix(".html")


def check_reports_dir(folder: Path, taxi: str, month: str) -> None:
    """Refuse, before any work, a reports folder whose report files would replace what must
    never be replaced (``files.check_output``)."""
    for path, suffix in zip(report_paths(folder, taxi, month), (".json", ".html")):
        if Path(folder).is_dir():
            check_output(path, "--reports-dir", (suffix,))
        elif Path(folder).exists():
            raise OutputRefused(f"--reports-dir {folder}: is not a folder")


def write_report(result: MonitorResult, folder: Path) -> tuple[Path, Path]:
    """Write the JSON and the HTML report of a monitoring result; return their paths."""
    json_path, html_path = report_paths(folder, result.taxi, result.month)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    check_reports_dir(folder, result.taxi, result.month)
    document = result.as_dict()
    atomic_write(json_path, (json.dumps(document, indent=1, allow_nan=False) + "\n").encode())
    atomic_write(html_path, render_html(result).encode())
    return json_path, html_path


def _png(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, metadata=PNG_METADATA)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _figure(rows: int, cols: int, size):
    import matplotlib.pyplot as plt

    return plt.subplots(rows, cols, figsize=size, layout="constrained", squeeze=False)


def errors_per_day(result: MonitorResult):
    figure, axes = _figure(1, 1, (9, 3.6))
    ax = axes[0][0]
    days = [(date, day) for date, day in result.current.per_day(result.month) if day.rides]
    x = np.array([np.datetime64(date) for date, _ in days])
    ax.plot(x, [day.rmse for _, day in days], marker="o", ms=3, color=CURRENT, label="RMSE")
    ax.plot(x, [day.mae for _, day in days], marker="o", ms=3, color="#55A868", label="MAE")
    val = result.model.val_rmse
    limit = val * result.thresholds["rmse_ratio"]
    ax.axhline(val, color=REFERENCE, lw=1, label=f"model's validation RMSE {val:.2f}")
    ax.axhline(limit, color="#C44E52", lw=1, ls="--", label=f"threshold {limit:.2f}")
    ax.set(ylabel="minutes", title=f"{result.taxi} {result.month}: errors per day")
    ax.set_ylim(0, max(limit, max((day.rmse for _, day in days), default=limit)) * 1.1)
    ax.legend(fontsize=8, loc="lower left", ncols=4)
    import matplotlib.dates as mdates

    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
    return figure


def distributions(result: MonitorResult):
    drift = result.numbers
    names = [n for n in ("prediction", "duration", "trip_distance") if n in drift]
    figure, axes = _figure(1, len(names), (4 * len(names), 3.2))
    for ax, name in zip(axes[0], names):
        entry = drift[name]
        bins = np.asarray(entry.bins)
        for hist, color, label in (
            (entry.reference_hist, REFERENCE, "reference"),
            (entry.current_hist, CURRENT, result.month),
        ):
            ax.stairs(hist, bins, color=color, lw=1.5, label=label)
        ax.set_title(f"{name}: drift {entry.wasserstein_normed:.3f}", fontsize=10)
        ax.set(xlabel="miles" if name == "trip_distance" else "minutes", yticks=[])
    axes[0][0].legend(fontsize=8)
    return figure


def zone_shares(result: MonitorResult, top: int = 15):
    figure, axes = _figure(1, 2, (10, 3.6))
    for ax, name in zip(axes[0], ("PULocationID", "DOLocationID")):
        entry = result.categories[name]
        ref, cur = entry.reference_counts, entry.current_counts
        ref_total, cur_total = sum(ref.values()) or 1, sum(cur.values()) or 1
        zones = sorted(set(ref) | set(cur), key=lambda z: -(ref.get(z, 0) + cur.get(z, 0)))[:top]
        x = np.arange(len(zones))
        ax.bar(x - 0.2, [ref.get(z, 0) / ref_total for z in zones], 0.4, color=REFERENCE)
        ax.bar(x + 0.2, [cur.get(z, 0) / cur_total for z in zones], 0.4, color=CURRENT)
        ax.set_xticks(x, zones, rotation=90, fontsize=7)
        ax.set_title(f"{name}: PSI {entry.psi:.3f}, JS {entry.jensen_shannon:.3f}", fontsize=10)
    axes[0][0].set_ylabel("share of rides")
    return figure


def hour_of_week(result: MonitorResult):
    figure, axes = _figure(1, 1, (9, 3))
    ax, entry = axes[0][0], result.categories["hour_of_week"]
    for counts, color, label in (
        (entry.reference_counts, REFERENCE, "reference"),
        (entry.current_counts, CURRENT, result.month),
    ):
        total = sum(counts.values()) or 1
        ax.plot(
            range(168),
            [counts.get(str(h), 0) / total for h in range(168)],
            color=color,
            label=label,
        )
    ax.set_xticks(range(0, 168, 24), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    ax.set(ylabel="share of rides", title=f"hour of the week: PSI {entry.psi:.3f}")
    ax.legend(fontsize=8)
    return figure


def _rows(pairs) -> str:
    return "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in pairs
    )


def summary_rows(result: MonitorResult) -> list[tuple[str, str]]:
    model, current, reference = result.model, result.current, result.reference
    rows = [
        ("model", f"{model.name} ({model.features}, trained on {model.train_month})"),
        ("rides " + ("recorded" if result.live else "scored"), f"{result.rides:,}"),
    ]
    if current is not None:
        rows += [
            ("RMSE / MAE", f"{current.rmse:.4f} / {current.mae:.4f} min"),
            (
                "model's validation RMSE",
                f"{model.val_rmse:.4f} min (ratio {result.rmse_ratio:.3f})",
            ),
        ]
        if current.coverage is not None:
            rows.append(
                (
                    f"{current.level:.0%} intervals",
                    f"cover {current.coverage:.1%} of rides (mean width "
                    f"{current.mean_width:.2f} min)",
                )
            )
    if reference is not None:
        rows.append(
            (
                "reference (training months, in-sample)",
                f"RMSE {reference.rmse:.4f}, {reference.rides:,} rides",
            )
        )
    for name, entry in result.categories.items():
        rows.append(
            (f"drift: {name}", f"PSI {entry.psi:.4f}, Jensen-Shannon {entry.jensen_shannon:.4f}")
        )
    for name, entry in result.numbers.items():
        rows.append(
            (f"drift: {name}", f"Wasserstein / reference std {entry.wasserstein_normed:.4f}")
        )
    for name, share in result.missing["current"].items():
        before = result.missing["reference"].get(name, 0.0)
        rows.append((f"missing: {name}", f"{share:.2%} (reference {before:.2%})"))
    return rows


def statistics_table(result: MonitorResult) -> str:
    """Every statistic measured, against its threshold: one row each."""
    from ..monitoring.statistics import STATISTICS

    head = "<tr><th>statistic</th><th>of</th><th>value</th><th>threshold</th><th></th></tr>"
    rows = []
    for m in result.measurements:
        statistic = STATISTICS[m.statistic]
        value = f"{m.value:.4f}" if np.isfinite(m.value) else str(m.value)
        verdict = '<b class="alert">crossed</b>' if m.crossed else '<span class="ok">ok</span>'
        rows.append(
            f'<tr><td title="{html.escape(statistic.description)}">{html.escape(m.statistic)}'
            f"</td><td>{html.escape(m.subject or '-')}</td><td>{value}</td>"
            f"<td>{html.escape(statistic.show(m.limit))}</td><td>{verdict}</td></tr>"
        )
    return f'<table class="statistics">{head}{"".join(rows)}</table>'


FIGURES = (  # each picture, and what it shows as its alt text
    (errors_per_day, "RMSE and MAE of each day of the month, against the validation RMSE"),
    (distributions, "distributions of the predictions and inputs, reference and month"),
    (zone_shares, "shares of rides of the busiest pickup and dropoff zones"),
    (hour_of_week, "shares of rides by hour of the week, reference and month"),
)


def render_html(result: MonitorResult) -> str:
    # Live traffic has no outcomes, so no errors per day.
    # Live rides sent without a pickup time have no hour of the week.
    drawn = [
        (f, alt)
        for f, alt in FIGURES
        if (result.current is not None or f is not errors_per_day)
        and ("hour_of_week" in result.categories or f is not hour_of_week)
    ]
    images = "".join(
        f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{_png(draw(result))}">'
        for draw, alt in drawn
    )
    crossed = result.crossed
    verdict = (
        "within every threshold" if not crossed else "thresholds crossed: " + "; ".join(crossed)
    )
    what = "live traffic" if result.live else result.month
    title = f"ride-duration monitoring: {result.taxi} {what}"
    limits = ", ".join(f"{k} {v}" for k, v in result.thresholds.as_dict().items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}}
th{{text-align:left;padding-right:1.5em;font-weight:normal;color:#555}}
td{{padding-right:1.5em}}
.ok{{color:#2a7a2a}}.alert{{color:#b22}}img{{max-width:100%;display:block;margin:1em 0}}</style>
</head><body><h1>{html.escape(title)}</h1>
<p class="{result.status}"><b>{html.escape(verdict)}</b></p>
{f"<p><b>retraining:</b> {html.escape(result.decision)}</p>" if result.decision else ""}
<table>{_rows(summary_rows(result))}</table>
<h2>Statistics and thresholds</h2>
{statistics_table(result)}
<p>Thresholds: {html.escape(limits)}.
Numbers: Wasserstein distance over the reference's standard deviation (scipy.stats);
categories: population stability index and Jensen-Shannon distance (base 2, scipy.spatial).
The reference is the model's training months.</p>
{images}</body></html>
"""


def backfill_figure(decisions: list[Decision], skipped: list[str], title: str):
    """The loop month by month: the champion's RMSE on each month, the prediction drift, and
    where a challenger was promoted (or tried and kept out)."""
    figure, axes = _figure(1, 1, (10, 4.8))
    ax = axes[0][0]
    x = np.arange(len(decisions))
    drift_ax = ax.twinx()
    drift = [d.prediction_drift if d.prediction_drift is not None else np.nan for d in decisions]
    drift_ax.bar(x, drift, 0.5, color="#BBBBBB", alpha=0.6, label="prediction drift")
    drift_ax.set_ylabel("prediction drift (Wasserstein / std)", color="#777777")
    ax.set_zorder(drift_ax.get_zorder() + 1)
    ax.patch.set_visible(False)
    rmse = [d.champion_rmse for d in decisions]
    ax.plot(x, rmse, marker="o", color=REFERENCE, label="champion's RMSE on the month")
    marks = {
        FIRST: ("D", "#222222"),
        PROMOTED: ("*", "#2A9D2A"),
        KEPT: ("X", "#C44E52"),
    }
    for action, (marker, color) in marks.items():
        chosen = [i for i, d in enumerate(decisions) if d.action == action]
        if not chosen:
            continue
        ax.scatter(
            x[chosen],
            [rmse[i] for i in chosen],
            marker=marker,
            s=160,
            color=color,
            zorder=3,
            label=action if action != KEPT else "challenger tried, kept out",
        )
        for i in chosen:
            if decisions[i].challenger_rmse is not None:
                ax.plot(
                    [x[i], x[i]], [rmse[i], decisions[i].challenger_rmse], color=color, lw=1, ls=":"
                )
    ax.set_xticks(x, [d.month for d in decisions], rotation=45, fontsize=8)
    ax.set_ylabel("RMSE (minutes)")
    ax.set_ylim(0, max(r for r in rmse if r is not None) * 1.25)
    note = f"\nskipped: {', '.join(skipped)}" if skipped else ""
    ax.set_title(title + note, fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    more_handles, more_labels = drift_ax.get_legend_handles_labels()
    ax.legend(
        handles + more_handles,
        labels + more_labels,
        fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncols=5,
        frameon=False,
    )
    return figure
