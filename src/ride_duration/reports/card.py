"""A model card: what a saved model is, in Markdown, from its sidecar (and, for a registered
version, the registry): what it predicts and for which taxi type, the months it learned from
and was validated on (each file's sha256, the rides kept and dropped by each rule), its
metrics and intervals, its features, the libraries and commit that made it, its aliases, who
promoted it and when and the retrain decision that made it, and its known limits."""

from __future__ import annotations

import json

from ..config import MAX_DURATION_MINUTES, MIN_DURATION_MINUTES
from ..data.months import month_spans
from ..monitoring.decision import Decision
from ..tracking.registry import PROMOTED_AT, PROMOTED_BY, Version

# Each rule of the 1-60 minute recipe, as the sidecar counts it (rows: train, val).
RULES = (
    ("dropped_missing_time", "dropped: a pickup or dropoff time missing"),
    ("dropped_negative", "dropped: dropoff before pickup"),
    ("dropped_too_short", f"dropped: under {MIN_DURATION_MINUTES:g} minute"),
    ("dropped_too_long", f"dropped: over {MAX_DURATION_MINUTES:g} minutes"),
    ("dropped_missing_feature", "dropped: a feature missing or not finite"),
    ("flagged_missing_location", "kept: a zone missing (as -1)"),
    ("flagged_bad_distance", "kept: a distance negative or over the plausible bound"),
    ("flagged_outside_month", "kept: a pickup outside the file's month"),
)


def model_card(metadata: dict, label: str, version: Version | None = None) -> str:
    """The card of the model whose sidecar is ``metadata`` (``label``: its file or registry
    name), with a registered ``version``'s registry facts when given."""
    sections = [
        _summary(metadata, label),
        _data(metadata),
        _metrics(metadata),
        _features(metadata),
        _provenance(metadata),
    ]
    if version is not None:
        sections.append(_registry(version))
    sections.append(_limits(metadata))
    return "\n\n".join(sections) + "\n"


def _summary(m: dict, label: str) -> str:
    model = m["model"]
    alpha = model.get("params", {}).get("alpha")
    fitted = model["class"] + (f" (alpha {alpha:g})" if alpha is not None else "")
    return (
        f"# Model card: {label}\n\n"
        f"Predicts how long a **{m['taxi']} taxi** ride in New York City lasts, in minutes, "
        f"from where it starts and ends{' and how far it goes' if _distance(m) else ''}. "
        f"Feature set `{m['features']['set']}`, {fitted} fitted by {model['solver']}; "
        f"trained on {', '.join(m['train_months'])}, validated on "
        f"{', '.join(m['val_months'])}; saved {m.get('created_at', 'at an unrecorded time')}."
    )


def _distance(m: dict) -> bool:
    return "trip_distance" in m["features"]["numerical"]


def _data(m: dict) -> str:
    lines = ["## Data", "", "| file | size | sha256 |", "|---|---:|---|"]
    for record in m.get("inputs", []):
        size = record.get("size")
        shown = f"{size:,}" if isinstance(size, int) else "-"
        lines.append(f"| {record['file']} | {shown} | `{record.get('sha256', '-')}` |")
    rows = m.get("rows", {})
    lines += ["", "| rides | training | validation |", "|---|---:|---:|"]
    train, val = rows.get("train", {}), rows.get("val", {})
    lines.append(f"| read | {_count(train, 'rows_read')} | {_count(val, 'rows_read')} |")
    for key, text in RULES:
        if key in train or key in val:
            lines.append(f"| {text} | {_count(train, key)} | {_count(val, key)} |")
    lines.append(f"| kept | {_count(train, 'rows_kept')} | {_count(val, 'rows_kept')} |")
    return "\n".join(lines)


def _count(rows: dict, key: str) -> str:
    value = rows.get(key)
    return f"{value:,}" if isinstance(value, int) else "-"


def _metrics(m: dict) -> str:
    metrics = m["metrics"]
    lines = [
        "## Metrics",
        "",
        "| metric | value |",
        "|---|---:|",
        f"| RMSE, training (min) | {metrics['train_rmse']:.4f} |",
        f"| RMSE, validation (min) | {metrics['val_rmse']:.4f} |",
        f"| RMSE of predicting the training mean, validation (min) | "
        f"{metrics['baseline_rmse']:.4f} |",
        f"| rides, training / validation | {metrics['n_train']:,} / {metrics['n_val']:,} |",
    ]
    if metrics.get("val_coverage") is not None:
        level = metrics.get("interval_level", 0.8)
        lines += [
            f"| {level:.0%} interval coverage, validation | {metrics['val_coverage']:.3f} |",
            f"| {level:.0%} interval mean width (min) | {metrics['val_interval_width']:.2f} |",
        ]
    else:
        lines.append("| prediction intervals | none (saved before models learned them) |")
    return "\n".join(lines)


def _features(m: dict) -> str:
    features = m["features"]
    lines = [
        "## Features",
        "",
        f"Set `{features['set']}`: categorical "
        + ", ".join(f"`{c}`" for c in features["categorical"])
        + (
            "; numerical " + ", ".join(f"`{c}`" for c in features["numerical"])
            if features["numerical"]
            else ""
        )
        + f"; {m['metrics']['n_features']:,} columns after one-hot encoding.",
    ]
    if "distance_median" in features:
        lines.append(
            f"A distance that is missing, negative or over {features['distance_cap']:g} miles "
            f"is replaced by the training median, {features['distance_median']:g} miles."
        )
    return "\n".join(lines)


def _provenance(m: dict) -> str:
    versions = ", ".join(f"{name} {v}" for name, v in m.get("versions", {}).items() if v)
    commit = m.get("git_commit")
    return (
        "## Provenance\n\n"
        f"Libraries: {versions}.\n\n"
        f"Code: {'git commit `' + commit + '`' if commit else 'no git commit recorded'}."
    )


def _registry(version: Version) -> str:
    tags = version.tags
    aliases = ", ".join(f"@{a}" for a in version.aliases) or "none"
    lines = [
        "## Registry",
        "",
        f"`{version.name}` version {version.version}; aliases: {aliases}; "
        f"MLflow run `{version.run_id or '-'}`.",
    ]
    if PROMOTED_BY in tags:
        lines.append(f"Promoted to champion by {tags[PROMOTED_BY]} at {tags[PROMOTED_AT]}.")
    else:
        lines.append("Never promoted to champion.")
    if "retrain.step" in tags:
        lines.append(f"Made by the retraining loop: {_decision(tags['retrain.step'])}.")
    return "\n\n".join(lines)


def _decision(text: str) -> str:
    try:
        return Decision(**json.loads(text)).line()
    except (TypeError, ValueError):
        return text


def _limits(m: dict) -> str:
    months = sorted({*m["train_months"], *m["val_months"]})
    return "\n".join(
        [
            "## Known limits",
            "",
            f"- Learned only from rides of {MIN_DURATION_MINUTES:g} to "
            f"{MAX_DURATION_MINUTES:g} minutes (both included): shorter and longer rides were "
            "neither learned from nor scored, and its RMSE says nothing of them.",
            "- A pickup-dropoff pair (or zone) that training never saw has no weight: its "
            "prediction rests on the other parts (`predict --explain` shows them); for the "
            "lesson's model that is the intercept, a flat band near the training mean.",
            f"- It has seen {m['taxi']} {', '.join(month_spans(months))} and nothing else: "
            "other months, and other taxi types, may drift from them (`ride-duration monitor` "
            "measures how far).",
        ]
    )
