"""Feature sets, and a featuriser that gives exactly DictVectorizer's matrix without dicts.

The course builds one Python dict per ride and feeds them to DictVectorizer; on a
3-million-row month that alone takes tens of seconds. Here each categorical column is
already a pandas categorical of strings, so the vocabulary is built from its few distinct
values and the sparse matrix from integer codes. The result is the same CSR matrix,
the same ``feature_names_`` and ``vocabulary_``, and a genuinely fitted DictVectorizer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

FEATURE_SETS = {
    # The lesson's final model: the pickup/dropoff pair and the distance.
    "lesson": (("PU_DO",), ("trip_distance",)),
    # The homework's model: pickup and dropoff zones one-hot encoded separately.
    "homework": (("PULocationID", "DOLocationID"), ()),
}
SEPARATOR = "="


def feature_columns(feature_set: str, frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Categorical and numerical columns of a feature set that this frame has (FHV has no
    distance, so its lesson model uses the pickup/dropoff pair alone)."""
    categorical, numerical = FEATURE_SETS[feature_set]
    return list(categorical), [c for c in numerical if c in frame]


def to_dicts(frame: pd.DataFrame, categorical: list[str], numerical: list[str]) -> list[dict]:
    """The course's representation: one dict per ride (slow; for small inputs and checks)."""
    columns = {c: frame[c].astype(object).tolist() for c in categorical}
    columns |= {c: frame[c].astype("float64").tolist() for c in numerical}
    names = list(columns)
    return [dict(zip(names, row)) for row in zip(*columns.values())]


@dataclass
class Design:
    """A design matrix and the structure the exact solver uses.

    ``group_columns[g][i]`` is the matrix column of row i's category in categorical column g
    (-1 where the category was not seen in training); ``numeric`` holds the numerical
    columns' values and ``numeric_columns`` their matrix columns.
    """

    matrix: sp.csr_matrix
    group_columns: list[np.ndarray]
    numeric: np.ndarray
    numeric_columns: list[int]


def _category_labels(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, list[str]]:
    values = frame[column]
    if not isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("str").astype("category")
    return values.cat.codes.to_numpy(), [str(c) for c in values.cat.categories]


def fit_vectorizer(frame: pd.DataFrame, categorical: list[str], numerical: list[str]):
    """A DictVectorizer fitted as ``DictVectorizer().fit(to_dicts(frame, ...))`` would be."""
    from sklearn.feature_extraction import DictVectorizer

    names = list(numerical)
    for column in categorical:
        codes, labels = _category_labels(frame, column)
        present = np.bincount(codes[codes >= 0], minlength=len(labels)) > 0
        names += [f"{column}{SEPARATOR}{label}" for label, used in zip(labels, present) if used]
    names.sort()
    vectorizer = DictVectorizer()
    vectorizer.feature_names_ = names
    vectorizer.vocabulary_ = {name: index for index, name in enumerate(names)}
    return vectorizer


def transform(
    vectorizer, frame: pd.DataFrame, categorical: list[str], numerical: list[str]
) -> Design:
    """What ``vectorizer.transform(to_dicts(frame, ...))`` gives, built from integer codes."""
    vocabulary = vectorizer.vocabulary_
    n_rows = len(frame)
    group_columns = []
    for column in categorical:
        codes, labels = _category_labels(frame, column)
        lookup = np.array(
            [vocabulary.get(f"{column}{SEPARATOR}{label}", -1) for label in labels] + [-1],
            dtype=np.int32,
        )
        # Code -1 (a missing value) indexes the trailing -1: no column, as DictVectorizer
        # drops what it never saw.
        group_columns.append(lookup[codes])
    numeric = (
        np.column_stack([frame[c].to_numpy("float64", na_value=np.nan) for c in numerical])
        if numerical
        else np.empty((n_rows, 0))
    )
    numeric_columns = [vocabulary[c] for c in numerical]

    n_slots = len(group_columns) + len(numeric_columns)
    columns = np.empty((n_rows, n_slots), dtype=np.int32)
    values = np.ones((n_rows, n_slots), dtype=np.float64)
    for slot, group in enumerate(group_columns):
        columns[:, slot] = group
    for offset, column in enumerate(numeric_columns):
        columns[:, len(group_columns) + offset] = column
        values[:, len(group_columns) + offset] = numeric[:, offset]
    if n_slots > 1:
        order = np.argsort(columns, axis=1, kind="stable")
        columns = np.take_along_axis(columns, order, axis=1)
        values = np.take_along_axis(values, order, axis=1)
    present = columns >= 0
    indptr = np.zeros(n_rows + 1, dtype=np.int32 if present.size < 2**31 else np.int64)
    np.cumsum(present.sum(axis=1), out=indptr[1:])
    matrix = sp.csr_matrix(
        (values[present], columns[present], indptr),
        shape=(n_rows, len(vectorizer.feature_names_)),
    )
    matrix.has_sorted_indices = True
    return Design(matrix, group_columns, numeric, numeric_columns)
