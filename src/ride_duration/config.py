"""Paths and constants. Importing this module creates nothing and prints nothing."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "RIDE_DURATION_HOME"


def _checkout() -> Path | None:
    """The project checkout this package runs from (an editable install), else None."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "src" / "ride_duration").is_dir():
        return root
    return None


CHECKOUT = _checkout()
# Where the default folders (data/, models/, reports/, images/) and mlflow.db are: the folder
# named by RIDE_DURATION_HOME; else the checkout, for an editable install; else the working
# directory (a package installed with `pip install .` has no project folder of its own).
PROJECT_ROOT = Path(os.environ.get(HOME_ENV) or CHECKOUT or Path.cwd()).absolute()
DATA_DIR = PROJECT_ROOT / "data"
MODELS_DIR = PROJECT_ROOT / "models"
FIGURES_DIR = PROJECT_ROOT / "images"
NOTEBOOKS_DIR = (CHECKOUT or PROJECT_ROOT) / "notebooks"
REPORTS_DIR = PROJECT_ROOT / "reports"
LOG_DIR_ENV = "RIDE_DURATION_LOG_DIR"


def prediction_log_dir() -> Path:
    """Where ``serve`` records its predictions by default: $RIDE_DURATION_LOG_DIR, else
    logs/predictions under the project root."""
    return Path(os.environ.get(LOG_DIR_ENV) or PROJECT_ROOT / "logs" / "predictions").absolute()


VERSION = "0.1.0"

TLC_BASE_URL = "https://d37ci6vzurychx.cloudfront.net"
BASE_URL_ENV = "RIDE_DURATION_BASE_URL"
SHARED_TLC_ENV = "RIDE_DURATION_TLC_DIR"

TAXI_TYPES = ("yellow", "green", "fhv", "fhvhv")
# How TLC names a month's file: <taxi>_tripdata_<YYYY-MM>.parquet (the one pattern: data.months
# reads it, and no command ever writes a file so named).
MONTH_FILE_PATTERN = (
    rf"(?P<taxi>{'|'.join(TAXI_TYPES)})_tripdata_(?P<month>[0-9]{{4}}-[0-9]{{2}})\.parquet"
)

# The course keeps rides from 1 to 60 minutes: shorter ones are mostly cancelled or
# mis-recorded trips, longer ones are meters left running, and both swamp the squared error.
MIN_DURATION_MINUTES = 1.0
MAX_DURATION_MINUTES = 60.0

# The one rule for a bad distance: a recorded distance is plausible when it is finite and from 0
# to 100 miles (NYC's longest in-city trips are under 50; green 2021-01 has 62 rides over 100,
# the largest 244,152). Preparing a month counts the implausible ones (kept as recorded); the
# rich features replace them by the training median.
PLAUSIBLE_MILES = 100.0

# Not a data rule but the input bounds of a ride given by hand (predict, serve): zone IDs from -1
# (missing) up to far above TLC's 265 zones, distances from 0 to a billion miles (implausible
# ones are still answered, as the model treats them; the bound keeps answers finite).
MAX_ZONE_ID = 1_000_000
MAX_MILES = 1e9


def base_url() -> str:
    """The TLC CDN, or a mirror named by the environment."""
    return os.environ.get(BASE_URL_ENV) or TLC_BASE_URL
