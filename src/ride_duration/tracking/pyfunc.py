"""The MLflow model that ``--track`` logs: the saved .bin and its sidecar as artifacts, loaded
through ``load_model``'s checks, predicting rides given as a DataFrame (or dicts) in the
service's shape: PULocationID, DOLocationID (missing: -1), trip_distance, pickup_datetime."""

from __future__ import annotations

import math

import mlflow.pyfunc
import pandas as pd

MODEL_ARTIFACT, SIDECAR_ARTIFACT = "model", "sidecar"
ZONES = ("PULocationID", "DOLocationID")


def rides_of(model_input) -> list[dict]:
    """Rides as the service takes them, from a DataFrame or a list of dicts: zones as ints
    (-1 where missing), distances as floats or None, pickup times as datetimes or None."""
    frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
    columns = {}
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
    """Rides in, minutes out, through the same checks and code as ``load_model``."""

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
                raise ValueError(f"this {self.model.features} model needs {field} for every ride")
        return np.asarray(self.model.predict_rides(rides), dtype=float)
