"""Builders for tiny hand-made trip frames and files."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 1) -> dt.datetime:
    return dt.datetime(2021, month, day, hour, minute, second)


def trips(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (pickup, dropoff, PU, DO, distance) as a normalised month frame."""
    frame = pd.DataFrame(
        rows,
        columns=[
            "pickup_datetime",
            "dropoff_datetime",
            "PULocationID",
            "DOLocationID",
            "trip_distance",
        ],
    )
    for column in ("pickup_datetime", "dropoff_datetime"):
        frame[column] = frame[column].astype("datetime64[us]")
    return frame


def copy_months(source: Path, target: Path, *names: str) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        if not (source / name).is_file():
            pytest.skip(f"{name} not found in {source}")
        shutil.copyfile(source / name, target / name)
    return target


def run_cli(*args: str, env: dict | None = None, timeout: float = 300):
    """Run the real CLI in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "ride_duration", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
