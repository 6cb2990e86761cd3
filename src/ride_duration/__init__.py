"""Predict NYC taxi ride durations from TLC trip records."""

from .config import VERSION
from .modeling.artifact import load_model, read_metadata

__all__ = ["load_model", "read_metadata"]
__version__ = VERSION
