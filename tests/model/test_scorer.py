"""The service's per-ride scorer equals the saved pipeline, for every feature set, on every
validation ride of the lesson months: its fast lookups and its generic path alike."""

import numpy as np
import pytest

from ride_duration import load_model, read_metadata
from ride_duration.dataset import load_prepared, zone_ids
from ride_duration.modeling.predict import RideScorer
from ride_duration.rich import RAW_COLUMNS
from tests.helpers import copy_months, train_with_cli


@pytest.fixture(scope="module")
def models(tlc_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("scorer")
    data = copy_months(
        tlc_dir, root / "data", "green_tripdata_2021-01.parquet", "green_tripdata_2021-02.parquet"
    )
    train_with_cli(data, root / "models", "lesson", "homework", "rich", named=True)
    frame = load_prepared("green", "2021-02", data)[0]
    return root / "models", frame


@pytest.mark.parametrize("features", ["lesson", "homework", "rich"])
def test_scorer_equals_the_pipeline(models, features):
    folder, frame = models
    pipeline = load_model(folder / f"{features}.bin")
    scorer = RideScorer(pipeline, read_metadata(folder / f"{features}.bin"))
    pu, do = zone_ids(frame["PULocationID"]), zone_ids(frame["DOLocationID"])
    miles, when = frame["trip_distance"].to_numpy(), list(frame["pickup_datetime"])
    rides = list(zip(pu.tolist(), do.tolist(), miles.tolist(), when))
    if features == "rich":
        expected = pipeline.predict(frame[list(RAW_COLUMNS)])
    elif features == "lesson":
        expected = pipeline.predict(
            [{"PU_DO": f"{p}_{d}", "trip_distance": t} for p, d, t, _ in rides]
        )
    else:
        expected = pipeline.predict(
            [{"PULocationID": str(p), "DOLocationID": str(d)} for p, d, _, _ in rides]
        )
    fast = np.array([scorer.score_one(*ride) for ride in rides])
    generic = np.array([scorer._generic(*ride) for ride in rides])
    np.testing.assert_allclose(fast, expected, atol=1e-9, rtol=0)
    np.testing.assert_allclose(generic, expected, atol=1e-9, rtol=0)
    assert (scorer.score_one == scorer._generic) == (features == "rich")
