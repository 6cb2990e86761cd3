"""What the benchmark scripts share: where they find the real TLC files."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ride_duration.config import SHARED_TLC_ENV

ROOT = Path(__file__).resolve().parent.parent


def add_tlc_dir(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """``--tlc-dir``: the real TLC files (default: $RIDE_DURATION_TLC_DIR, else
    ../shared/data/tlc beside the checkout)."""
    parser.add_argument(
        "--tlc-dir",
        type=Path,
        default=Path(os.environ.get(SHARED_TLC_ENV, ROOT.parent / "shared/data/tlc")),
        help=help or "folder with the green parquet files",
    )
