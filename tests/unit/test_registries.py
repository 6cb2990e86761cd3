"""A feature set or a regressor is one entry in its registry: a feature set registered here,
in the test, trains, scores a month and is served without a change anywhere else."""

import numpy as np
import pytest

from ride_duration.features.registry import FEATURE_SETS, FeatureSet, _zone_ride
from ride_duration.modeling.estimators import REGRESSORS

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def toy_set(monkeypatch):
    toy = FeatureSet(
        "toy",
        "the pickup zone and the distance",
        ("PULocationID",),
        ("trip_distance",),
        ride=_zone_ride(("PULocationID",)),
        name_prefix="toy_",
    )
    monkeypatch.setitem(FEATURE_SETS, "toy", toy)
    return toy


def test_a_feature_set_registered_in_one_place_trains_predicts_and_serves(toy_set, tiny_months):
    from fastapi.testclient import TestClient

    from ride_duration import load_model
    from ride_duration.cli import build_parser
    from ride_duration.modeling.predict import score_month
    from ride_duration.modeling.train import TrainOptions, train
    from ride_duration.serving.service import create_app

    models = tiny_months.parent / "models"
    options = TrainOptions(features="toy", data_dir=tiny_months, model_dir=models, offline=True)
    result = train(options)
    assert result.model_path == models / "toy_lin_reg.bin"
    assert result.metadata["features"]["categorical"] == ["PULocationID"]
    names = load_model(result.model_path)[0].feature_names_
    assert names == sorted(names) and all(
        n.startswith("PULocationID=") or n == "trip_distance" for n in names
    )

    scored = score_month(result.model_path, "green", "2021-02", tiny_months)
    assert scored.evaluation.rmse == pytest.approx(result.metrics.val_rmse, abs=1e-9)

    pipeline = load_model(result.model_path)
    ride = {"PULocationID": 2, "DOLocationID": 5, "trip_distance": 3.3}
    expected = pipeline.predict([{"PULocationID": "2", "trip_distance": 3.3}])[0]
    with TestClient(create_app(result.model_path)) as client:
        answer = client.post("/predict", json=ride)
        assert answer.status_code == 200
        assert answer.json()["duration"] == pytest.approx(expected, abs=1e-9)
        missing = client.post("/predict", json={"PULocationID": 2})
        assert missing.status_code == 422 and "trip_distance" in missing.text
        # Explained with no other edit: a part per column, named as it, adding up.
        explained = client.post("/predict?explain=true", json=[ride, ride | {"PULocationID": 9}])
        assert explained.status_code == 200, explained.text
        body = explained.json()
        for duration, parts in zip(body["durations"], body["explanations"]):
            assert [p["part"] for p in parts] == ["intercept", "PULocationID", "trip_distance"]
            assert sum(p["minutes"] for p in parts) == pytest.approx(duration, abs=1e-9)
        assert body["explanations"][1][1]["unseen"] == ["PULocationID=9"]
        assert body["explanations"][1][1]["minutes"] == 0.0

    parser = build_parser()
    assert parser.parse_args(["train", "--features", "toy"]).features == "toy"


def test_every_regressor_is_in_the_cli_and_has_an_estimator():
    from ride_duration.cli import build_parser

    for name, spec in REGRESSORS.items():
        assert build_parser().parse_args(["train", "--model", name]).model == name
        estimator = spec.estimator(spec.default_alpha)
        assert type(estimator).__name__ == spec.sklearn_class
        assert hasattr(estimator, "fit") and np.isfinite(spec.default_alpha or 0.0)


def test_an_unknown_feature_set_or_model_is_one_line():
    from ride_duration.errors import RideDurationError
    from ride_duration.modeling.train import TrainOptions

    with pytest.raises(RideDurationError, match="unknown feature set 'nope': choose lesson"):
        TrainOptions(features="nope").validated()
    with pytest.raises(RideDurationError, match="unknown model 'nope': choose linear"):
        TrainOptions(model="nope").validated()
