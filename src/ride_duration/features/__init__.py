"""Features: the registry of feature sets, and the design matrix they build."""

from .design import SEPARATOR, Design, build_design, fit_feature_names, transform
from .registry import (
    FEATURE_SETS,
    FeatureSet,
    complete_rows,
    feature_columns,
    feature_set,
    featurize,
    register,
    required_columns,
    usable,
)

__all__ = [
    "FEATURE_SETS",
    "SEPARATOR",
    "Design",
    "FeatureSet",
    "build_design",
    "complete_rows",
    "feature_columns",
    "feature_set",
    "featurize",
    "fit_feature_names",
    "register",
    "required_columns",
    "transform",
    "usable",
]
