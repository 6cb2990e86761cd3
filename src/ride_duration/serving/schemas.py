"""What the service takes and answers, as pydantic types and OpenAPI schemas.

Input policy: unknown fields are refused (a misspelt ``PULocationId`` must not pass for a
missing zone); zone IDs are JSON integers from -1 to 1,000,000 (not strings, floats or
booleans; missing: -1, as in training); distances are finite miles from 0 to a billion (TLC
records hold absurd distances, which a model must still answer); a batch holds at most 10,000
rides and a body at most 4 MiB.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from ..config import MAX_MILES, MAX_ZONE_ID

MAX_BATCH = 10_000


MAX_BODY_BYTES = 4 << 20


JSON = "application/json"


@with_config(ConfigDict(extra="forbid"))
class Ride(TypedDict, total=False):
    """One ride, as the course's web service takes it. (A TypedDict: a batch validates into
    dicts several times faster than into model objects.)"""

    PULocationID: Annotated[int, Field(ge=-1, le=MAX_ZONE_ID, strict=True)]
    DOLocationID: Annotated[int, Field(ge=-1, le=MAX_ZONE_ID, strict=True)]
    trip_distance: Annotated[float, Field(ge=0, le=MAX_MILES, allow_inf_nan=False)] | None
    pickup_datetime: dt.datetime | None


RIDE = TypeAdapter(Ride)


RIDES = TypeAdapter(Annotated[list[Ride], Field(max_length=MAX_BATCH)])


ANSWER = TypeAdapter(dict)


RIDE_REF = {"$ref": "#/components/schemas/Ride"}


# One ride or a batch, both referring to the one Ride schema among the document's components
# (a schema pasted in with its own $defs leaves references no OpenAPI viewer resolves).
REQUEST_SCHEMA = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "anyOf": [
                    RIDE_REF,
                    {"type": "array", "items": RIDE_REF, "maxItems": MAX_BATCH, "title": "Rides"},
                ]
            },
            "example": {"PULocationID": 43, "DOLocationID": 151, "trip_distance": 1.8},
        }
    },
}


class Part(BaseModel):
    """One part of a prediction: the parts of a prediction add up to it."""

    part: str = Field(description="intercept, or a feature group (e.g. pickup_dropoff)")
    minutes: float = Field(description="what this part adds to the prediction")
    features: dict[str, str | float] = Field(description="the feature values it used")
    unseen: list[str] = Field(
        description="its values that training never saw: they weigh 0 (name=value)"
    )


class Prediction(BaseModel):
    duration: float
    interval: tuple[float, float] | None = Field(
        None, description="[lower, upper] minutes, when the request asks ?interval=LEVEL"
    )
    explanation: list[Part] | None = Field(
        None, description="the parts that add up to duration, when the request asks ?explain=true"
    )
    model_version: str


class Predictions(BaseModel):
    durations: list[float]
    intervals: list[tuple[float, float]] | None = Field(
        None, description="[lower, upper] per ride, when the request asks ?interval=LEVEL"
    )
    explanations: list[list[Part]] | None = Field(
        None, description="each ride's parts, adding up to its duration (?explain=true)"
    )
    model_version: str


LEVEL_DESCRIPTION = (
    "also answer the central interval of this coverage, e.g. 0.8 (the 10th to the 90th percentile)"
)


LEVEL = TypeAdapter(Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)])


QUERY_PARAMETERS = [
    {
        "name": "interval",
        "in": "query",
        "required": False,
        "description": LEVEL_DESCRIPTION,
        "schema": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    },
    {
        "name": "explain",
        "in": "query",
        "required": False,
        "description": "also answer the parts each prediction is the sum of: the intercept, "
        "then each feature group's minutes and the values it used (an unseen value weighs 0)",
        "schema": {"type": "boolean", "default": False},
    },
]

EXPLAIN = TypeAdapter(bool)


class Refusal(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Invalid(BaseModel):
    detail: list[FieldError]
