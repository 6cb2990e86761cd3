"""Watch the live traffic: the rides the service recorded (its prediction log) against the
model's training months. The outcomes are not known yet, so the statistics that need them
(the errors, the interval coverage) are not measured; every other statistic is, with the same
thresholds, report and exit codes as a month's monitoring."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..data.months import parse_months
from ..data.recorded import read_recorded
from ..errors import RideDurationError
from ..modeling.artifact import model_version
from ..modeling.model import load
from .monitor import LiveWindow, MonitorResult, check_model_taxi, compare, month_sample
from .sample import ZONES, Comparison, Sample
from .statistics import Thresholds

LIVE = "live"  # the month a live result names (its reports: monitor_<taxi>_live.*)


def recorded_sample(frame) -> Sample:
    """A sample of recorded rides (``data.recorded``'s columns): their zones, distances and,
    when any ride was sent with one, pickup times, and the predictions the service answered."""
    pickup = frame["pickup_datetime"]
    return Sample(
        zones={zone: frame[zone].to_numpy(np.int64) for zone in ZONES},
        distance=frame["trip_distance"].to_numpy("float64", na_value=np.nan),
        pickup=pickup.to_numpy("datetime64[us]") if pickup.notna().any() else None,
        predicted=frame["duration"].to_numpy(float),
    )


def answered_by(frame, version: str):
    """The recorded rides the model of this version answered (a registered version's is
    ``name/number/<version>``)."""
    served = frame["model_version"].astype(str).str.rsplit("/", n=1).str[-1]
    return frame[(served == version).to_numpy()]


def monitor_live(
    model_path: Path,
    log_dir: Path,
    data_dir,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    taxi: str | None = None,
    limits: Thresholds | None = None,
    label: str = "",
) -> MonitorResult:
    """The rides recorded under ``log_dir`` (from ``since`` on, before ``until``) that this
    saved model answered, compared with its training months."""
    limits = (limits or Thresholds()).validated()
    model, metadata = load(model_path)
    taxi = taxi or metadata["taxi"]
    label = label or str(model_path)
    check_model_taxi(metadata, taxi, label)
    version = model_version(metadata, model_path)
    recorded = read_recorded(log_dir, since, until)
    mine = answered_by(recorded, version)
    if mine.empty:
        raise RideDurationError(_nothing_to_watch(recorded, log_dir, since, until, version))
    reference = month_sample(model, taxi, parse_months(metadata["train_month"]), data_dir)
    comparison = Comparison(reference, recorded_sample(mine), metadata["metrics"]["val_rmse"])
    result = compare(comparison, metadata, taxi, LIVE, limits, label)
    times = mine["time"]
    window = LiveWindow(
        log_dir=str(log_dir),
        since=since.isoformat() if since is not None else None,
        until=until.isoformat() if until is not None else None,
        first=times.min().isoformat(),
        last=times.max().isoformat(),
        requests=int(mine["request_id"].nunique()),
        model_version=version,
    )
    return replace(result, window=window)


def _nothing_to_watch(recorded, log_dir, since, until, version: str) -> str:
    when = f" since {since:%Y-%m-%d %H:%M} UTC" if since is not None else ""
    when += f" before {until:%Y-%m-%d %H:%M} UTC" if until is not None else ""
    if recorded.empty:
        return f"{log_dir}: no rides recorded{when}"
    counts = recorded["model_version"].value_counts()
    others = ", ".join(f"{name} ({n:,} rides)" for name, n in counts.head(5).items())
    return (
        f"{log_dir}: none of the {len(recorded):,} rides recorded{when} was answered by "
        f"{version}; they were answered by {others}: name that model with --model"
    )
