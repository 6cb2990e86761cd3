"""Paths and constants. Importing this module creates nothing and prints nothing."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_ROOT / "data"
MODELS_DIR = PROJECT_ROOT / "models"
FIGURES_DIR = PROJECT_ROOT / "images"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"

VERSION = "0.1.0"

TLC_BASE_URL = "https://d37ci6vzurychx.cloudfront.net"
BASE_URL_ENV = "RIDE_DURATION_BASE_URL"
SHARED_TLC_ENV = "RIDE_DURATION_TLC_DIR"

TAXI_TYPES = ("yellow", "green", "fhv", "fhvhv")

# The course keeps rides from 1 to 60 minutes: shorter ones are mostly cancelled or
# mis-recorded trips, longer ones are meters left running, and both swamp the squared error.
MIN_DURATION_MINUTES = 1.0
MAX_DURATION_MINUTES = 60.0

# What a single ride given by hand (predict, serve) may hold: zone IDs from -1 (missing) up to
# a bound far above TLC's 265 zones, distances from 0 to a billion miles (TLC records hold rides
# of 244,152 miles, which a model must still answer; the bound keeps answers finite).
MAX_ZONE_ID = 1_000_000
MAX_MILES = 1e9


def base_url() -> str:
    """The TLC CDN, or a mirror named by the environment."""
    return os.environ.get(BASE_URL_ENV) or TLC_BASE_URL
