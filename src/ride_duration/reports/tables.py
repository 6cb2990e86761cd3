"""The tables the command line prints: a training run's report, and a model comparison."""

from __future__ import annotations

RULES = {
    "dropped_missing_time": "dropped: a timestamp missing",
    "dropped_negative": "dropped: dropoff before pickup",
    "dropped_too_short": "dropped: under 1 minute",
    "dropped_too_long": "dropped: over 60 minutes",
    "dropped_missing_feature": "dropped: distance missing or not finite",
    "flagged_missing_location": "kept: zone missing (-> -1)",
    "flagged_bad_distance": "kept: distance implausible (< 0 or > 100 mi)",
    "flagged_outside_month": "kept: pickup outside the month",
}


def train_report(metadata: dict, metrics: dict, reports: dict, model_path) -> str:
    """What ``ride-duration train`` prints: one aligned line per fact, then per data rule."""
    rows = [
        ("taxi", metadata["taxi"]),
        ("train / val month", f"{metadata['train_month']} / {metadata['val_month']}"),
        ("features", f"{metadata['features']['set']} ({metrics['n_features']} columns)"),
        ("model", model_label(metadata["model"])),
        ("rows kept (train)", kept(reports["train"])),
        ("rows kept (val)", kept(reports["val"])),
        ("train RMSE", f"{metrics['train_rmse']:.4f} min"),
        ("val RMSE", f"{metrics['val_rmse']:.4f} min"),
        ("baseline val RMSE", f"{metrics['baseline_rmse']:.4f} min (predict the training mean)"),
    ]
    if metrics.get("distance_weight") is not None:
        rows.append(("distance weight", f"{metrics['distance_weight']:.5f} min per mile"))
    if metrics.get("val_coverage") is not None:
        rows.append(
            (
                f"val {metrics['interval_level']:.0%} intervals",
                f"cover {metrics['val_coverage']:.2%} of rides, mean width "
                f"{metrics['val_interval_width']:.2f} min",
            )
        )
    rows.append(("saved", str(model_path)))
    rows += rule_rows(reports)
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def rule_rows(reports: dict) -> list[tuple[str, str]]:
    """One line per data rule that touched any row: train count / val count."""
    return [
        (label, f"{reports['train'][key]:,} / {reports['val'][key]:,} (train / val)")
        for key, label in RULES.items()
        if reports["train"][key] or reports["val"][key]
    ]


def model_label(model: dict) -> str:
    alpha = model["params"].get("alpha")
    return f"{model['kind']} ({model['solver']}" + (f", alpha={alpha:g})" if alpha else ")")


def kept(report: dict) -> str:
    return f"{report['rows_kept']:,} of {report['rows_read']:,} ({report['fraction_kept']:.2%})"


def comparison(table, markdown: bool = False) -> str:
    """``compare``'s table (``modeling.compare.compare_models``), as text or as Markdown."""
    import pandas as pd

    if not markdown:
        return table.to_string(float_format=lambda v: f"{v:.5f}")

    def cell(value, digits: int) -> str:
        return "" if pd.isna(value) else f"{value:.{digits}f}"

    lines = [
        "| model | " + " | ".join(table.columns) + " |",
        "|---|" + "---:|" * len(table.columns),
    ]
    for model, row in table.iterrows():
        cells = [cell(row[c], DIGITS.get(c, 4)) for c in table.columns]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


DIGITS = {"min per mile": 5, "80% coverage": 3, "80% width": 2}


def explanation(parts: list[dict]) -> str:
    """A prediction's parts (``Explanation.as_list``) as a small table: each part's minutes,
    the feature values it used, and the unseen ones (which weigh 0), then the total."""
    rows = []
    for part in parts:
        used = ", ".join(f"{k}={_value(v)}" for k, v in part["features"].items())
        if part["unseen"]:
            used += f" (unseen: {', '.join(part['unseen'])}: 0 min)"
        rows.append((part["part"], f"{part['minutes']:+.3f}", used))
    rows.append(("total", f"{sum(p['minutes'] for p in parts):.3f}", ""))
    width = max(len(name) for name, _, _ in rows)
    figures = max(len(minutes) for _, minutes, _ in rows)
    return "\n".join(
        f"  {name:<{width}}  {minutes:>{figures}} min  {used}".rstrip()
        for name, minutes, used in rows
    )


def _value(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
