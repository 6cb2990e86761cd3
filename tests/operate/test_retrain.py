"""retrain: one locked step of the loop (monitor the champion, train a challenger on the months
before, promote only if better), and --backfill over the shared months with its figure."""

import json
import subprocess
import sys

import pytest

from tests.helpers import REPO, assert_clean_failure
from tests.operate.conftest import new_project

MARCH = "green_tripdata_2021-03.parquet"
SHARED = [
    f"green_tripdata_{m}.parquet"
    for m in (
        "2021-03",
        "2021-04",
        "2021-05",
        "2022-01",
        "2022-02",
        "2022-03",
        "2023-01",
        "2023-02",
        "2023-03",
        "2023-04",
    )
]


# What the loop decides over the shared months (README, Operate), whichever way it runs.
BACKFILL_ACTIONS = [
    "first champion",
    "within thresholds",
    "within thresholds",
    "promoted",
    "promoted",
    "promoted",
    "promoted",
    "kept",
    "promoted",
    "within thresholds",
    "within thresholds",
]


def retrain_args(project, *args):
    return [
        "retrain",
        "--offline",
        "--quiet",
        "--json",
        "--data-dir",
        str(project.data),
        "--model-dir",
        str(project.models),
        "--reports-dir",
        str(project.root / "reports"),
        *args,
    ]


def retrain(project, *args) -> dict:
    result = project.cli(*retrain_args(project, *args))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.tlc_files(MARCH)
def test_a_month_is_decided_once_even_by_two_retrains_at_once(tlc_dir, tmp_path):
    project = new_project(tmp_path, tlc_dir, MARCH)
    first = retrain(project, "--month", "2021-02", "--window", "1")["decisions"][0]
    assert first["action"] == "first champion" and first["window"] == ["2021-01"]
    assert first["champion"] == "1"
    html = (project.root / "reports" / "monitor_green_2021-02.html").read_text()
    assert "retraining:</b> 2021-02: first champion" in html

    # Two retrains of March at once, each with a challenger on two months: the lock makes
    # them take turns; the first decides (its challenger does better than the champion),
    # the second finds March decided and changes nothing.
    command = [sys.executable, "-m", "ride_duration"]
    runs = [
        subprocess.Popen(
            [*command, *retrain_args(project, "--month", "2021-03", "--always", "--window", "2")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**__import__("os").environ, "MLFLOW_TRACKING_URI": project.uri},
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outputs]
    decisions = [json.loads(out)["decisions"][0] for out, _ in outputs]
    assert sorted(d["resumed"] for d in decisions) == [False, True]
    taken = next(d for d in decisions if not d["resumed"])
    assert taken["action"] == "promoted"
    assert taken["challenger_rmse"] < taken["champion_rmse"]
    assert [{**d, "resumed": None} for d in decisions][0] == {
        **decisions[1],
        "resumed": None,
    }
    client = project.client()
    champion = client.get_model_version_by_alias("nyc-taxi-regressor", "champion")
    assert str(champion.version) == taken["challenger"]
    run = client.get_run(champion.run_id)
    assert run.data.tags["retrain.decision"] == "promoted"
    assert run.data.tags["retrain.month"] == "2021-03"
    assert run.data.params["train_month"] == "2021-01..2021-02"
    versions = client.search_model_versions("name='nyc-taxi-regressor'")
    assert len(versions) == 2  # the first champion and March's one challenger
    tags = [dict(v.tags) for v in versions]
    assert sum(t.get("retrain.decision") == "promoted" for t in tags) == 1
    # Asked again, with other options even, the decided month changes nothing.
    again = retrain(project, "--month", "2021-03", "--always", "--window", "1")["decisions"][0]
    assert again["resumed"] and again["action"] == "promoted"
    assert len(client.search_model_versions("name='nyc-taxi-regressor'")) == 2


@pytest.mark.lesson_months_only
def test_refusals_are_one_line(tlc_dir, tmp_path):
    project = new_project(tmp_path, tlc_dir)
    assert_clean_failure(project.cli(*retrain_args(project)), "give --month YYYY-MM")
    assert_clean_failure(
        project.cli(*retrain_args(project, "--month", "2021-01")),
        "no green month before 2021-01",
    )
    assert_clean_failure(
        project.cli(*retrain_args(project, "--month", "2021-02", "--window", "0")),
        "--window must be 1 to 120",
    )
    assert_clean_failure(
        project.cli(*retrain_args(project, "--backfill", "2021-06..2021-08")),
        "no month of 2021-06..2021-08 could be retrained on",
    )


@pytest.mark.tlc_files(*SHARED)
def test_backfill_over_the_shared_months(tlc_dir, tmp_path):
    project = new_project(tmp_path, tlc_dir, *SHARED)
    figure = tmp_path / "backfill.png"
    answer = retrain(project, "--backfill", "2021-02..2023-04", "--figure", str(figure))
    assert answer["skipped"] == ["2021-06..2021-12 (no file)", "2022-04..2022-12 (no file)"]
    decisions = answer["decisions"]
    assert [d["month"] for d in decisions] == ["2021-02", *(name[15:22] for name in SHARED)]
    # The decisions the README's figure shows.
    assert [d["action"] for d in decisions] == BACKFILL_ACTIONS
    # The first champion is the lesson model: trained on January, scored on February.
    assert decisions[0]["action"] == "first champion"
    assert decisions[0]["champion_rmse"] == pytest.approx(7.4808, abs=1e-4)
    # A year's gap moves the rides: the champion crosses a threshold and is replaced.
    assert decisions[4]["action"] == "promoted" and decisions[4]["crossed"]
    for decision in decisions:
        if decision["action"] == "promoted":
            assert decision["challenger_rmse"] < decision["champion_rmse"]
        if decision["action"] == "within thresholds":
            assert decision["crossed"] == [] and decision["challenger"] is None
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    committed = (REPO / "images") / "retrain_backfill.png"
    assert figure.read_bytes() == committed.read_bytes(), (
        "images/retrain_backfill.png is stale: rerun the backfill with --figure "
        "images/retrain_backfill.png (README, Operate)"
    )
    assert (project.root / "reports" / "backfill_green_2021-02_2023-04.png").is_file()
    assert len(list((project.root / "reports").glob("monitor_green_*.html"))) == 11
