"""What the live tests share: a lesson model (and a rich one) trained once on the lesson
months, real rides of a month in the service's request shape, and the service's prediction
log produced in this process (FastAPI's TestClient), for the tests that read it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ride_duration.data.dataset import load_prepared, zone_ids
from tests.helpers import LESSON_MONTHS, copy_months, train_with_cli


@pytest.fixture(scope="session")
def live_models(tlc_dir, tmp_path_factory) -> Path:
    """models/ with lin_reg.bin (lesson) and rich_ridge.bin, and data/ with the lesson
    months, trained once per test process."""
    root = tmp_path_factory.mktemp("live")
    data = copy_months(tlc_dir, root / "data", *LESSON_MONTHS)
    train_with_cli(data, root / "models", "lesson", "rich")
    return root


def month_rides(tlc_dir, month: str, n: int, seed: int = 1, pickups: bool = True) -> list[dict]:
    """``n`` rides of a real green month, drawn at random, as POST /predict takes them."""
    frame = load_prepared("green", month, tlc_dir)[0].sample(n, random_state=seed)
    rides = []
    for pu, do, miles, when in zip(
        zone_ids(frame["PULocationID"]),
        zone_ids(frame["DOLocationID"]),
        frame["trip_distance"],
        frame["pickup_datetime"],
    ):
        ride = {"PULocationID": int(pu), "DOLocationID": int(do), "trip_distance": float(miles)}
        if pickups:
            ride["pickup_datetime"] = when.isoformat()
        rides.append(ride)
    return rides


def record(model: Path, folder: Path, rides: list[dict], batch: int = 500) -> None:
    """Send rides to the service in this process, in batches, with its log under ``folder``."""
    from fastapi.testclient import TestClient

    from ride_duration.serving.service import create_app

    with TestClient(create_app(model, folder)) as client:
        for start in range(0, len(rides), batch):
            answer = client.post("/predict", json=rides[start : start + batch])
            assert answer.status_code == 200, answer.text


@pytest.fixture(scope="session")
def recorded_logs(live_models, tlc_dir, tmp_path_factory):
    """Prediction logs of 20,000 rides each, answered by the lesson model: of February 2021
    (the month after its training month: no drift) and, where the file is here, of January
    2023 (shorter rides two years on)."""
    root = tmp_path_factory.mktemp("recorded")
    model = live_models / "models" / "lin_reg.bin"
    logs = {}
    for month in ("2021-02", "2023-01"):
        if not (tlc_dir / f"green_tripdata_{month}.parquet").is_file():
            continue
        record(model, root / month, month_rides(tlc_dir, month, 20_000))
        logs[month] = root / month
    yield logs
    shutil.rmtree(root, ignore_errors=True)
