"""The ``ride-duration`` command line: a thin layer over the package's functions."""

from .main import main, run
from .parser import build_parser

__all__ = ["build_parser", "main", "run"]
