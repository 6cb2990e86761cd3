"""A featuriser that gives exactly DictVectorizer's matrix without dicts.

The course builds one Python dict per ride and feeds them to DictVectorizer; on a
3-million-row month that alone takes tens of seconds. Here each categorical column is
already a pandas categorical of strings, so the vocabulary is built from its few distinct
values and the sparse matrix from integer codes. The result is the same CSR matrix,
the same ``feature_names_`` and ``vocabulary_``, and a genuinely fitted DictVectorizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .registry import feature_columns, featurize

SEPARATOR = "="


@dataclass
class Design:
    """A design matrix, kept as the structure it is made of.

    ``group_columns[g][i]`` is the matrix column of row i's category in categorical column g
    (-1 where the category was not seen in training); ``numeric`` holds the numerical
    columns' values and ``numeric_columns`` their matrix columns. The exact solver and
    ``predict`` work on this structure; ``matrix`` (DictVectorizer's CSR matrix, built on
    first use) is for the regressors that need it.
    """

    group_columns: list[np.ndarray]
    numeric: np.ndarray
    numeric_columns: list[int]
    n_features: int

    @property
    def n_rows(self) -> int:
        return len(self.numeric)

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        slots = [
            *self.group_columns,
            *(np.full(self.n_rows, c, np.int32) for c in self.numeric_columns),
        ]
        values = [np.ones(self.n_rows)] * len(self.group_columns) + list(self.numeric.T)
        # DictVectorizer's rows list their columns in increasing order: sort each row's few
        # slots with compare-and-swap passes (a bubble sort across at most three columns).
        slots, values = [s.copy() for s in slots], [v.copy() for v in values]
        for end in range(len(slots) - 1, 0, -1):
            for j in range(end):
                swap = slots[j] > slots[j + 1]
                slots[j][swap], slots[j + 1][swap] = slots[j + 1][swap], slots[j][swap]
                values[j][swap], values[j + 1][swap] = values[j + 1][swap], values[j][swap]
        columns = np.column_stack(slots) if slots else np.empty((self.n_rows, 0), np.int32)
        data = np.column_stack(values) if values else np.empty((self.n_rows, 0))
        present = columns >= 0
        indptr = np.zeros(self.n_rows + 1, dtype=np.int32 if present.size < 2**31 else np.int64)
        np.cumsum(present.sum(axis=1), out=indptr[1:])
        matrix = sp.csr_matrix(
            (data[present], columns[present].astype(np.int32), indptr),
            shape=(self.n_rows, self.n_features),
        )
        matrix.has_sorted_indices = True
        return matrix

    def rows(self, which: np.ndarray) -> Design:
        """The design of some of these rows (a boolean mask or positions)."""
        return Design(
            [group[which] for group in self.group_columns],
            self.numeric[which],
            self.numeric_columns,
            self.n_features,
        )

    def dot(self, coef: np.ndarray) -> np.ndarray:
        """``matrix @ coef`` without building the matrix."""
        out = (
            self.numeric @ coef[self.numeric_columns]
            if self.numeric_columns
            else np.zeros(self.n_rows)
        )
        padded = np.append(coef, 0.0)  # column -1 (unseen category) contributes nothing
        for group in self.group_columns:
            out += padded[group]
        return out


def _category_labels(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, list[str]]:
    values = frame[column]
    if not isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("str").astype("category")
    return values.cat.codes.to_numpy(), [str(c) for c in values.cat.categories]


def fit_feature_names(frame: pd.DataFrame, categorical: list[str], numerical: list[str]):
    """DictVectorizer's ``feature_names_`` for these columns: sorted, seen values only."""
    names = list(numerical)
    for column in categorical:
        codes, labels = _category_labels(frame, column)
        present = np.bincount(codes[codes >= 0], minlength=len(labels)) > 0
        names += [f"{column}{SEPARATOR}{label}" for label, used in zip(labels, present) if used]
    names.sort()
    return names


def transform(
    vectorizer, frame: pd.DataFrame, categorical: list[str], numerical: list[str]
) -> Design:
    """What ``vectorizer.transform(to_dicts(frame, ...))`` gives, built from integer codes.
    ``vectorizer`` is a fitted DictVectorizer or its ``vocabulary_``."""
    vocabulary = getattr(vectorizer, "vocabulary_", vectorizer)
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
    return Design(group_columns, numeric, numeric_columns, len(vocabulary))


def build_design(
    name: str, frame: pd.DataFrame, vocabulary=None, distance_median: float | None = None
) -> tuple[Design, list[str] | None]:
    """The design of a feature set on prepared rides, as DictVectorizer would build it: over
    ``vocabulary`` (a fitted DictVectorizer or its ``vocabulary_``), or, when it is None,
    over the columns these rides have, whose sorted names come back as the fitted ones."""
    columns = featurize(name, frame, distance_median)
    categorical, numerical = feature_columns(name, columns)
    names = None
    if vocabulary is None:
        names = fit_feature_names(columns, categorical, numerical)
        vocabulary = {name: i for i, name in enumerate(names)}
    return transform(vocabulary, columns, categorical, numerical), names
