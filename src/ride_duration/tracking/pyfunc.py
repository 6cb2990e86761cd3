"""The MLflow model that ``--track`` logs: the saved .bin and its sidecar as artifacts, loaded
through ``load_model``'s checks, predicting rides given as a DataFrame (or dicts) in the
service's shape: PULocationID, DOLocationID (missing: -1), trip_distance, pickup_datetime."""

from __future__ import annotations

import math

import mlflow.pyfunc
import pandas as pd

MODEL_ARTIFACT, SIDECAR_ARTIFACT = "model", "sidecar"
ZONES = ("PULocationID", "DOLocationID")


COLUMNS = ("PULocationID", "DOLocationID", "PU_DO", "trip_distance", "pickup_datetime")


class RideInputError(ValueError):
    """What the logged model was given is not rides it can predict (one line, naming why)."""


def _zones_of_pairs(pairs: pd.Series) -> tuple[list[int], list[int]]:
    """The pickup and dropoff zones of ``PU_DO`` labels ("43_151"), as the lesson's pipeline
    reads them; a label that is not two zone IDs is refused, naming it."""
    pickups, dropoffs = [], []
    for label in pairs.astype("str"):
        pickup, _, dropoff = label.partition("_")
        try:
            pickups.append(int(pickup))
            dropoffs.append(int(dropoff))
        except ValueError:
            raise RideInputError(f"PU_DO {label!r} is not PULocationID_DOLocationID") from None
    return pickups, dropoffs


def rides_of(model_input) -> list[dict]:
    """Rides as the service takes them, from a DataFrame or a list of dicts: zones as ints
    (-1 where missing), distances as floats or None, pickup times as datetimes or None. The
    lesson's own shape, ``PU_DO`` ("43_151") with ``trip_distance``, is read as the two
    zones; a column this model does not read is refused, naming it, rather than ignored."""
    frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
    unknown = [str(c) for c in frame.columns if c not in COLUMNS]
    if unknown:
        raise RideInputError(
            f"unknown column(s) {', '.join(map(repr, unknown))}: rides have {', '.join(COLUMNS)}"
        )
    columns = {}
    if "PU_DO" in frame:
        if any(zone in frame for zone in ZONES):
            raise RideInputError("give PU_DO or PULocationID and DOLocationID, not both")
        columns["PULocationID"], columns["DOLocationID"] = _zones_of_pairs(frame["PU_DO"])
    for zone in ZONES:
        if zone in frame:
            values = pd.to_numeric(frame[zone], errors="coerce").fillna(-1)
            columns[zone] = values.astype("int64").tolist()
    if "trip_distance" in frame:
        distance = pd.to_numeric(frame["trip_distance"], errors="coerce").astype(float).tolist()
        columns["trip_distance"] = [None if math.isnan(d) else d for d in distance]
    if "pickup_datetime" in frame:
        when = pd.to_datetime(frame["pickup_datetime"], errors="coerce")
        columns["pickup_datetime"] = [None if pd.isna(t) else t.to_pydatetime() for t in when]
    return [dict(zip(columns, values)) for values in zip(*columns.values())] or [
        {} for _ in range(len(frame))
    ]


class RideDurationModel(mlflow.pyfunc.PythonModel):
    """Rides in, minutes out, through the same checks and code as ``load_model``; with
    ``params={"explain": True}``, a frame of ``duration`` and ``explanation`` (each ride's
    parts, adding up to its duration: ``modeling.explain``)."""

    def load_context(self, context) -> None:
        from ..modeling.model import load

        self.model, self.metadata = load(context.artifacts[MODEL_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params=None):
        import numpy as np

        rides = rides_of(model_input)
        for field, needed in (
            ("trip_distance", self.model.needs_distance),
            ("pickup_datetime", self.model.needs_pickup),
        ):
            if needed and any(ride.get(field) is None for ride in rides):
                raise RideInputError(
                    f"this {self.model.features} model needs {field} for every ride"
                )
        if params and params.get("explain"):
            explained = self.model.explain_rides(rides)
            return pd.DataFrame(
                {
                    "duration": [e.duration for e in explained],
                    "explanation": [e.as_list() for e in explained],
                }
            )
        return np.asarray(self.model.predict_rides(rides), dtype=float)
