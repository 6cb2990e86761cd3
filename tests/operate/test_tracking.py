"""train --track logs one MLflow run per model, --register adds a registry version, promote
moves the champion alias; the logged model loads with mlflow.pyfunc and predicts what
load_model predicts. Failures are one line, before any work."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ride_duration import load_model
from ride_duration.data.dataset import load_prepared, zone_ids
from ride_duration.features import FEATURE_SETS, feature_set
from tests.helpers import assert_clean_failure, leftovers, run_cli
from tests.operate.conftest import new_project

# Only the lesson months are copied: CI's newcomer run needs not repeat these.
pytestmark = pytest.mark.lesson_months_only


@pytest.fixture(scope="module")
def tracked(project):
    return project.train("--track", "--register")


def test_one_run_with_params_metrics_tags_files_and_plots(project, tracked):
    client = project.client()
    run = client.get_run(tracked["mlflow_run_id"])
    assert run.data.params == {
        "taxi": "green",
        "train_month": "2021-01",
        "val_month": "2021-02",
        "features": "lesson",
        "model": "linear",
        "alpha": "none",
        "engine": "local",
        "batch_rows": "whole months",
    }
    metrics = run.data.metrics
    assert metrics["train_rmse"] == pytest.approx(4.6407, abs=1e-4)
    assert metrics["val_rmse"] == pytest.approx(7.4808, abs=1e-4)
    assert metrics["train.rows_kept"] == 73_908 and metrics["val.rows_kept"] == 61_921
    assert metrics["train.dropped_too_short"] == 1_448 and metrics["seconds"] > 0
    tags = run.data.tags
    meta = json.loads((project.models / "lin_reg.json").read_text())
    assert tags["ride_duration.bin_sha256"] == meta["bin_sha256"]
    for entry in meta["inputs"]:
        assert tags[f"input.{entry['file']}.sha256"] == entry["sha256"]
    assert tags["version.scikit-learn"] == meta["versions"]["scikit-learn"]
    assert len(tags["git_commit"].removesuffix("-dirty")) == 40  # the project is a checkout
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "nyc-taxi-experiment"
    files = {
        a.path
        for folder in ("model_files", "plots")
        for a in client.list_artifacts(run.info.run_id, folder)
    }
    assert files == {
        "model_files/lin_reg.bin",
        "model_files/lin_reg.json",
        "plots/duration_distribution.png",
        "plots/prediction_vs_actual.png",
    }


def test_register_adds_a_challenger_and_promote_moves_the_champion(project, tracked):
    client = project.client()
    assert tracked["registered_model"] == "nyc-taxi-regressor"
    challenger = client.get_model_version_by_alias("nyc-taxi-regressor", "challenger")
    assert (
        str(challenger.version) == tracked["version"]
        and challenger.run_id == tracked["mlflow_run_id"]
    )
    result = project.cli("promote")
    assert result.returncode == 0, result.stderr
    assert f"version {tracked['version']} is now the champion" in result.stdout
    champion = client.get_model_version_by_alias("nyc-taxi-regressor", "champion")
    assert str(champion.version) == tracked["version"]
    assert_clean_failure(project.cli("promote", "99"), "has no version 99")
    # The versions as the operate notebook lists them carry their aliases (MLflow's search of
    # versions leaves them out), and the logged model names the version made from it (what
    # MLflow's own registration records: without it its page reads "Not registered").
    from ride_duration.tracking.registry import MODEL_VERSIONS_TAG, versions
    from ride_duration.tracking.store import connect

    (listed,) = [v for v in versions(connect(project.uri)) if v.version == tracked["version"]]
    assert set(listed.aliases) == {"challenger", "champion"}
    run = client.get_run(tracked["mlflow_run_id"])
    (logged,) = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id='{run.info.run_id}'"
    )
    made = json.loads(logged.tags[MODEL_VERSIONS_TAG])
    assert {"name": "nyc-taxi-regressor", "version": tracked["version"]} in made


def test_the_run_and_the_command_give_the_champions_card(project, tracked, tmp_path):
    """The card logged with the run, and `ride-duration card models:/...@champion`, checked
    field by field against the sidecar and the registry."""
    import mlflow.artifacts

    client = project.client()
    assert project.cli("promote").returncode == 0  # (again: the tests may run in any order)
    meta = json.loads((project.models / "lin_reg.json").read_text())
    logged = mlflow.artifacts.download_artifacts(
        run_id=tracked["mlflow_run_id"], artifact_path="model_card.md",
        dst_path=str(tmp_path), tracking_uri=project.uri,
    )  # fmt: skip
    logged = Path(logged).read_text()
    assert f"# Model card: nyc-taxi-regressor version {tracked['version']}" in logged
    out = tmp_path / "champion.md"
    made = project.cli("card", "models:/nyc-taxi-regressor@champion", "--output", str(out))
    assert made.returncode == 0, made.stderr
    card = out.read_text()
    assert_card_holds(card, meta)
    version = client.get_model_version("nyc-taxi-regressor", tracked["version"])
    assert "aliases: @challenger, @champion" in card or "aliases: @champion" in card
    assert (
        f"Promoted to champion by {version.tags['promoted_by']} at "
        f"{version.tags['promoted_at']}." in card
    )
    assert f"MLflow run `{tracked['mlflow_run_id']}`" in card
    assert len(meta["git_commit"].removesuffix("-dirty")) == 40
    assert f"git commit `{meta['git_commit']}`" in card and meta["git_commit"] in logged


def assert_card_holds(card: str, meta: dict) -> None:
    """Each field of a card, as the sidecar has it."""
    assert f"**{meta['taxi']} taxi**" in card
    assert f"Feature set `{meta['features']['set']}`" in card
    for entry in meta["inputs"]:
        assert f"| {entry['file']} | {entry['size']:,} | `{entry['sha256']}` |" in card
    for which, column in (("train", 1), ("val", 2)):
        rows = meta["rows"][which]
        for key, label in (("rows_read", "read"), ("rows_kept", "kept"),
                           ("dropped_too_short", "dropped: under 1 minute"),
                           ("dropped_too_long", "dropped: over 60 minutes")):  # fmt: skip
            line = next(x for x in card.splitlines() if x.startswith(f"| {label} |"))
            assert line.split("|")[1 + column].strip() == f"{rows[key]:,}", (label, line)
    metrics = meta["metrics"]
    assert f"| RMSE, validation (min) | {metrics['val_rmse']:.4f} |" in card
    assert f"| RMSE, training (min) | {metrics['train_rmse']:.4f} |" in card
    assert f"| 80% interval coverage, validation | {metrics['val_coverage']:.3f} |" in card
    assert f"| 80% interval mean width (min) | {metrics['val_interval_width']:.2f} |" in card
    for column in meta["features"]["categorical"] + meta["features"]["numerical"]:
        assert f"`{column}`" in card
    for library, version in meta["versions"].items():
        assert f"{library} {version}" in card
    assert "1 to 60 minutes" in card and "never saw has no weight" in card
    assert f"{meta['taxi']} {meta['train_months'][0]}" in card


@pytest.mark.parametrize("name", ["lin_reg", "rich_ridge"])
def test_a_card_for_a_saved_model_file(project, name, tmp_path):
    path = project.models / f"{name}.bin"
    if not path.exists():
        features = "rich" if name == "rich_ridge" else "lesson"
        project.train("--features", features)
    made = project.cli("card", str(path))
    assert made.returncode == 0, made.stderr
    meta = json.loads(path.with_suffix(".json").read_text())
    assert_card_holds(made.stdout, meta)
    assert f"# Model card: {path}" in made.stdout and "## Registry" not in made.stdout
    assert_clean_failure(
        project.cli("card", str(path), "--output", str(path.with_suffix(".json"))),
        "--output",
    )


def rides_frame(tlc_dir, n=400):
    frame = load_prepared("green", "2021-02", tlc_dir)[0].iloc[:n]
    rides = pd.DataFrame(
        {
            "PULocationID": zone_ids(frame["PULocationID"]),
            "DOLocationID": zone_ids(frame["DOLocationID"]),
            "trip_distance": frame["trip_distance"].to_numpy(),
            "pickup_datetime": frame["pickup_datetime"].to_numpy(),
        }
    )
    return frame, rides


@pytest.mark.parametrize("name", list(FEATURE_SETS))
def test_the_logged_model_predicts_what_load_model_predicts(project, tlc_dir, name):
    import mlflow

    from ride_duration.modeling.train import TrainOptions
    from ride_duration.operate.training import train_tracked
    from ride_duration.tracking.store import connect

    options = TrainOptions(
        features=name,
        name=f"pyfunc_{name}",
        data_dir=project.data,
        model_dir=project.models,
        offline=True,
        quiet=True,
    )
    tracked = train_tracked(options, connect(project.uri))
    # As a user would: MLflow's own functions find the store through its process-wide URI.
    saved = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(project.uri)
    try:
        pyfunc = mlflow.pyfunc.load_model(tracked.run.model_uri)
    finally:
        mlflow.set_tracking_uri(saved)
    frame, rides = rides_frame(tlc_dir)
    pipeline = load_model(project.models / f"pyfunc_{name}.bin")
    features = feature_set(name)
    expected_input = [
        features.ride(int(pu), int(do), miles, when.to_pydatetime(), pipeline_median(pipeline))
        for pu, do, miles, when in zip(
            rides["PULocationID"],
            rides["DOLocationID"],
            rides["trip_distance"],
            frame["pickup_datetime"],
        )
    ]
    expected = pipeline.predict(frame if name == "rich" else expected_input)
    np.testing.assert_allclose(pyfunc.predict(rides), expected, atol=1e-9, rtol=0)
    # Asked, it explains every validation ride: parts that add up to its duration.
    _, every = rides_frame(tlc_dir, n=None)
    explained = pyfunc.predict(every, params={"explain": True})
    plain = pyfunc.predict(every)
    np.testing.assert_array_equal(explained["duration"].to_numpy(), plain)
    sums = [sum(part["minutes"] for part in parts) for parts in explained["explanation"]]
    np.testing.assert_allclose(sums, plain, atol=1e-9, rtol=0)
    if name == "rich":  # the feature dicts, made with the pipeline's own median, agree too
        np.testing.assert_allclose(pipeline[1:].predict(expected_input), expected, atol=1e-9)


def pipeline_median(pipeline):
    from ride_duration.modeling.estimators import RIDES_STEP

    step = pipeline.named_steps.get(RIDES_STEP)
    return getattr(step, "distance_median_", None)


def tracked_train(project, models) -> list[str]:
    """train --track on the project's lesson months, saving into ``models``."""
    return [
        "train",
        "--track",
        "--offline",
        "--data-dir",
        str(project.data),
        "--model-dir",
        str(models),
    ]


def test_without_mlflow_track_stops_at_once_naming_the_extra(project, tmp_path):
    code = (
        "import sys; sys.modules['mlflow'] = None\n"
        "from ride_duration.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))"
    )
    models = tmp_path / "models"
    result = subprocess.run(
        [sys.executable, "-c", code, *tracked_train(project, models)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_clean_failure(result, "--track needs MLflow", "pip install -e '.[mlflow]'")
    assert not models.exists()


def test_an_unreachable_server_stops_before_any_work(project, tmp_path):
    models = tmp_path / "models"
    result = run_cli(
        *tracked_train(project, models),
        "--tracking-uri",
        "http://127.0.0.1:9",
    )
    assert_clean_failure(result, "cannot reach the MLflow tracking server at http://127.0.0.1:9")
    assert not models.exists()


def test_a_registry_of_another_taxi_type_is_refused_before_any_work(project, tracked, tmp_path):
    models = tmp_path / "models"
    result = project.cli(
        "train",
        "--track",
        "--register",
        "--taxi",
        "yellow",
        "--train",
        "2023-01",
        "--val",
        "2023-02",
        "--offline",
        "--data-dir",
        str(tmp_path),
        "--model-dir",
        str(models),
    )
    assert_clean_failure(result, "nyc-taxi-regressor holds green taxi models, not yellow")
    assert not models.exists()


def test_register_without_track_and_a_bad_uri_are_refused(project):
    assert_clean_failure(project.cli("train", "--register"), "--register goes with --track")
    assert_clean_failure(
        project.cli("promote", "--tracking-uri", "ftp://example"), "write it as sqlite:///"
    )


def test_nothing_is_registered_half_way(project, tracked, monkeypatch):
    from ride_duration.tracking import registry
    from ride_duration.tracking.runs import TrackedRun
    from ride_duration.tracking.store import connect

    store = connect(project.uri)
    before = len(store.client.search_model_versions("name='nyc-taxi-regressor'"))

    def broken(*args, **kwargs):
        raise RuntimeError("the registry went away")

    monkeypatch.setattr(store.client, "set_registered_model_alias", broken)
    run = TrackedRun(
        tracked["mlflow_run_id"],
        tracked["mlflow_model_uri"],
        model_id=tracked["mlflow_model_uri"].removeprefix("models:/"),
    )
    with pytest.raises(RuntimeError):
        registry.register(store, run, "green")
    assert len(store.client.search_model_versions("name='nyc-taxi-regressor'")) == before


def test_compare_tracks_one_run_per_model(tlc_dir, tmp_path):
    project = new_project(tmp_path, tlc_dir)
    result = project.cli(
        "compare", "--offline", "--quiet", "--data-dir", str(project.data), "--track"
    )
    assert result.returncode == 0, result.stderr
    client = project.client()
    experiment = client.get_experiment_by_name("nyc-taxi-experiment")
    runs = client.search_runs([experiment.experiment_id])
    by_model = {r.data.tags["mlflow.runName"]: r.data.metrics for r in runs}
    assert len(runs) == 6, sorted(by_model)
    exact = next(m for name, m in by_model.items() if name.startswith("linear, exact"))
    assert exact["train_rmse"] == pytest.approx(4.6407, abs=1e-4)
    assert exact["val_rmse"] == pytest.approx(7.4808, abs=1e-4)


def run_files(client, run_id) -> set[str]:
    return {
        a.path for folder in ("model_files", "plots") for a in client.list_artifacts(run_id, folder)
    }


@pytest.mark.parametrize("worker", [True, False], ids=["beside-a-worker", "one-after-another"])
def test_a_tracked_training_logs_the_same_run_either_way(project, tmp_path, worker, monkeypatch):
    """The command line trains in a forked worker while MLflow starts (a process of its own
    here, as a user runs it); a threaded caller (a notebook) trains first, then logs. Both
    leave the same run: the metrics, the files, the plots."""
    models = tmp_path / "models"
    args = ["train", "--track", "--offline", "--quiet", "--json", "--data-dir", str(project.data)]
    args += ["--model-dir", str(models)]
    if worker:
        result = run_cli(*args, env={"MLFLOW_TRACKING_URI": project.uri}, process=True)
    else:
        from ride_duration.operate import training

        monkeypatch.setattr(training, "_can_fork", lambda: False)
        result = project.cli(*args)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    client = project.client()
    run = client.get_run(answer["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.metrics["val_rmse"] == pytest.approx(7.4808, abs=1e-4)
    assert run_files(client, run.info.run_id) == {
        "model_files/lin_reg.bin",
        "model_files/lin_reg.json",
        "plots/duration_distribution.png",
        "plots/prediction_vs_actual.png",
    }
    assert sorted(p.name for p in models.iterdir() if not p.name.startswith(".")) == [
        "lin_reg.bin",
        "lin_reg.json",
    ]


@pytest.mark.parametrize("worker", [True, False], ids=["beside-a-worker", "one-after-another"])
def test_a_deleted_experiment_stops_before_any_model_is_saved(
    tlc_dir, tmp_path, worker, monkeypatch
):
    """The experiment deleted in MLflow's UI: one line saying how to restore it, and no model
    file written (the worker trains, but saves only once the store is found usable)."""
    project = new_project(tmp_path, tlc_dir)
    client = project.client()
    client.delete_experiment(client.create_experiment("nyc-taxi-experiment"))
    args = ["train", "--track", "--offline", "--quiet", "--data-dir", str(project.data)]
    args += ["--model-dir", str(project.models)]
    env = {"MLFLOW_TRACKING_URI": project.uri}
    if worker:
        result = run_cli(*args, env=env, process=True)
    else:
        from ride_duration.operate import training

        monkeypatch.setattr(training, "_can_fork", lambda: False)
        result = run_cli(*args, env=env)
    assert_clean_failure(result, "was deleted", "mlflow experiments restore")
    assert not project.models.exists() or leftovers(project.models) == []
