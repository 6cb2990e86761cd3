"""A batch's explanations as JSON, written from arrays (``explain.explain_columns``).

A dict per part per ride, then JSON of them, costs some 20 µs a ride: thirty times
predicting it. Every ride's explanation has the same shape, so it is one printf-style template
filled once for the whole batch, its numbers written by pydantic's serializer in one call per
array, as the answer's other numbers are. The JSON is the one ``Part.as_dict`` gives.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
from pydantic_core import to_json

from ..features import SEPARATOR
from ..modeling.explain import INTERCEPT, ColumnPart, ExplainedColumns


def _literal(text: str) -> bytes:
    """A name as a JSON string, safe inside a template."""
    return json.dumps(text).encode().replace(b"%", b"%%")


def _numbers(values: np.ndarray) -> list[bytes]:
    """Each float as JSON (the shortest text that reads back as the same float)."""
    return to_json(values.tolist())[1:-1].split(b",") if len(values) else []


def _fields(values: np.ndarray) -> list:
    return _numbers(values) if values.dtype.kind == "f" else values.tolist()


def _unseen(part: ColumnPart, n: int) -> list[bytes]:
    """Each ride's ``unseen`` list for this part: the labels of its values training never
    saw (``column=value``), mostly none."""
    out = [b"[]"] * n
    labels: dict[int, list[bytes]] = {}
    for term in part.terms:
        if term.seen is None:
            continue
        label = b'"' + _literal(term.column)[1:-1] + SEPARATOR.encode() + term.value[1:].encode()
        for i in np.flatnonzero(~term.seen).tolist():
            labels.setdefault(i, []).append(label % tuple(f[i] for f in term.args))
    for i, found in labels.items():
        out[i] = b"[" + b",".join(found) + b"]"
    return out


def explanations_json(explained: ExplainedColumns, n: int) -> bytes:
    """The JSON array of the ``n`` rides' explanations, each a list of parts
    (``{"part", "minutes", "features", "unseen"}``), the intercept first."""
    template = b'[{"part":%s,"minutes":%s,"features":{},"unseen":[]}' % (
        _literal(INTERCEPT),
        to_json(explained.intercept),
    )
    fields: list[list] = []
    for part in explained.parts:
        features = b",".join(
            _literal(term.column) + b":" + term.value.encode() for term in part.terms
        )
        template += b',{"part":%s,"minutes":%%s,"features":{%s},"unseen":%%s}' % (
            _literal(part.part),
            features,
        )
        fields.append(_numbers(part.minutes))
        fields += [_fields(values) for term in part.terms for values in term.args]
        fields.append(_unseen(part, n))
    template += b"]"
    # The fields in template order, ride after ride: one formatting of the whole batch.
    flat = tuple(itertools.chain.from_iterable(zip(*fields))) if fields else ()
    return b"[" + (b",".join([template] * n) % flat) + b"]"


__all__ = ["explanations_json"]
