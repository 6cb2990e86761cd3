"""Predict NYC taxi ride durations from TLC trip records."""

from .modeling.artifact import load_model, read_metadata

__all__ = ["load_model", "read_metadata"]
__version__ = "0.1.0"
