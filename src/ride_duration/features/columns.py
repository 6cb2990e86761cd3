"""Rides given as dicts (the service's shape: ``PULocationID``, ``DOLocationID``,
``trip_distance``, ``pickup_datetime``) as arrays, read once: a batch's scorer and the
service's prediction log both take them, so that no ride is read twice."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass, fields

import numpy as np

NAT = np.iinfo(np.int64).min  # a missing pickup time (NumPy's NaT)
ZONE_BITS = 21  # zone IDs are at most 1,000,000 < 2**20; with the -1 of a missing one, +1
_EPOCH = dt.datetime(1970, 1, 1)
_repeat = itertools.repeat


def pickup_micros(value) -> int:
    """A pickup time as a model reads it (wall-clock time, any offset dropped), in
    microseconds since 1970; NAT when there is none."""
    if not isinstance(value, dt.datetime):
        return NAT
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class RideColumns:
    """Zones (-1 where missing), distances (NaN where missing) and pickup times
    (microseconds, wall-clock; NAT where missing) of rides, in their order."""

    pu: np.ndarray
    do: np.ndarray
    distance: np.ndarray
    pickup: np.ndarray

    def __len__(self) -> int:
        return len(self.pu)

    def take(self, rows) -> RideColumns:
        """Some of the rides (a mask, indices or a slice), in their order."""
        return RideColumns(*(column[rows] for column in self.columns()))

    @classmethod
    def concatenate(cls, parts: list[RideColumns]) -> RideColumns:
        """The rides of these parts, one part after another."""
        return cls(*(np.concatenate(same) for same in zip(*(p.columns() for p in parts))))

    def columns(self) -> tuple[np.ndarray, ...]:
        """The arrays, in the fields' order (not ``astuple``, which copies them)."""
        return tuple(getattr(self, f.name) for f in fields(self))

    @classmethod
    def of(cls, rides: list[dict], pickups: bool = True) -> RideColumns:
        """Read rides whose values are already checked (the service's schema): each input by
        ``dict.get`` mapped in C, with no Python frame per ride, but where a distance is
        missing or pickup times are read (``pickups``: False when none can be there).
        Pickup times given as datetimes are read; strings are not (the service parses
        them)."""
        n = len(rides)

        def read(key, dtype, default=None):
            return np.fromiter(map(dict.get, rides, _repeat(key), _repeat(default)), dtype, n)

        try:
            distance = read("trip_distance", np.float64)
        except TypeError:  # a ride without a distance
            distance = np.array(
                [math.nan if (d := ride.get("trip_distance")) is None else d for ride in rides]
            )
        pickup = (
            np.fromiter((pickup_micros(ride.get("pickup_datetime")) for ride in rides), np.int64, n)
            if pickups
            else np.full(n, NAT, np.int64)
        )
        return cls(
            read("PULocationID", np.int32, -1), read("DOLocationID", np.int32, -1), distance, pickup
        )


def frame_columns(frame) -> RideColumns:
    """The rides of a prepared frame (``dataset.prepare``'s) as arrays: its zones, its
    distances where the frame has them and its pickup times where it keeps them."""
    from ..data.zones import zone_ids

    n = len(frame)
    distance = (
        frame["trip_distance"].to_numpy("float64", na_value=np.nan)
        if "trip_distance" in frame
        else np.full(n, np.nan)
    )
    pickup = (
        frame["pickup_datetime"].to_numpy("datetime64[us]").astype(np.int64)
        if "pickup_datetime" in frame
        else np.full(n, NAT, np.int64)
    )
    return RideColumns(
        zone_ids(frame["PULocationID"]), zone_ids(frame["DOLocationID"]), distance, pickup
    )


def zone_keys(zones: np.ndarray) -> np.ndarray:
    """One zone (or -1) as a non-negative integer key."""
    return zones.astype(np.int64) + 1


def pair_keys(pickup: np.ndarray, dropoff: np.ndarray) -> np.ndarray:
    """A (pickup, dropoff) pair as one integer key (any pair of small integers: a zone and
    an hour too)."""
    return (zone_keys(pickup) << ZONE_BITS) | zone_keys(dropoff)


def integer_key(key) -> int:
    """A weight's label read as integers, as the key ``zone_keys`` or ``pair_keys`` gives a
    ride: one integer, or a pair of them."""
    if isinstance(key, tuple):
        return ((key[0] + 1) << ZONE_BITS) | (key[1] + 1)
    return key + 1


class KeyedWeights:
    """Weights keyed by integers, looked up for many keys at once (0 for a key without one:
    a category the model never saw)."""

    def __init__(self, table: dict[int, float]):
        keys = np.fromiter(table, np.int64, len(table))
        order = np.argsort(keys)
        self.keys = keys[order]
        self.weights = np.fromiter(table.values(), np.float64, len(table))[order]

    def __call__(self, queries: np.ndarray) -> np.ndarray:
        return self.find(queries)[0]

    def find(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each key's weight (0 where it has none) and whether it has one."""
        if not len(self.keys):
            return np.zeros(len(queries)), np.zeros(len(queries), bool)
        at = np.searchsorted(self.keys, queries)
        at[at == len(self.keys)] = 0
        seen = self.keys[at] == queries
        return np.where(seen, self.weights[at], 0.0), seen


@dataclass(frozen=True)
class Term:
    """One feature column's share of each ride's prediction, for rides read into arrays:
    its minutes, the value each ride gave it, and whether training saw that value (a
    categorical value it never saw weighs 0). The value is ``value`` (its JSON, with
    printf-style fields) filled from ``args``, one array per field: ``'"%d_%d"'`` and
    (pickup, dropoff) for a zone pair, ``'%s'`` and (distance,) for a number."""

    column: str
    minutes: np.ndarray
    value: str
    args: tuple[np.ndarray, ...]
    seen: np.ndarray | None = None  # None: a number, whose weight training always learns
