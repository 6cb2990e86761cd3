"""Shared fixtures. Real TLC files come from RIDE_DURATION_TLC_DIR (default ../shared/data/tlc,
relative to the project root); tests that need them skip, saying why, where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ride_duration.config import BASE_URL_ENV, PROJECT_ROOT, SHARED_TLC_ENV
from ride_duration.download import BACKOFF_ENV
from tests.helpers import copy_months, simple_rides, write_green

LESSON_MONTHS = ("green_tripdata_2021-01.parquet", "green_tripdata_2021-02.parquet")


@pytest.fixture(autouse=True, scope="session")
def _no_internet():
    """Point every download (in this process and in CLI subprocesses) at a closed loopback
    port unless a test names its own server: tests never reach the TLC CDN."""
    saved = {key: os.environ.get(key) for key in (BASE_URL_ENV, BACKOFF_ENV)}
    os.environ[BASE_URL_ENV] = "http://127.0.0.1:9"
    os.environ[BACKOFF_ENV] = "0.05"
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _tlc_candidates() -> list[Path]:
    """Where the real months may be: the folder named by the environment, or else the shared
    folder beside the project and then the project's own data/ (after `make data`)."""
    configured = os.environ.get(SHARED_TLC_ENV)
    names = [configured] if configured else ["../shared/data/tlc", "data"]
    return [p if p.is_absolute() else (PROJECT_ROOT / p).resolve() for p in map(Path, names)]


@pytest.fixture(scope="session")
def tlc_dir() -> Path:
    candidates = _tlc_candidates()
    for path in candidates:
        if (path / LESSON_MONTHS[0]).is_file():
            return path
    looked = ", ".join(str(p) for p in candidates)
    pytest.skip(
        f"real TLC files ({LESSON_MONTHS[0]}) not found in {looked}; "
        f"run `make data` or set {SHARED_TLC_ENV} to their folder"
    )


@pytest.fixture
def lesson_data(tlc_dir: Path, tmp_path: Path) -> Path:
    """A writable data dir holding copies of the lesson months."""
    return copy_months(tlc_dir, tmp_path / "data", *LESSON_MONTHS)


@pytest.fixture
def tiny_months(tmp_path: Path) -> Path:
    """A data dir with two small hand-made green months, 2021-01 and 2021-02."""
    data = tmp_path / "data"
    write_green(data, "2021-01", simple_rides(1))
    write_green(data, "2021-02", simple_rides(2))
    return data
