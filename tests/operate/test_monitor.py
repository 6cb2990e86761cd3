"""monitor scores a month against the model's training months: errors overall and per day,
drift, missing shares; an HTML and a JSON report; exit 0, 3 past a threshold, 2 on errors."""

import json

import pytest

from tests.helpers import assert_clean_failure, simple_rides, write_green

# Only the lesson months are copied: CI's newcomer run needs not repeat these.
pytestmark = pytest.mark.lesson_months_only


@pytest.fixture(scope="module")
def lesson(project):
    return project.train("--track", "--register")


def monitor(project, *args):
    return project.cli(
        "monitor",
        "--offline",
        "--quiet",
        "--data-dir",
        str(project.data),
        "--reports-dir",
        str(project.root / "reports"),
        "--model",
        str(project.models / "lin_reg.bin"),
        *args,
    )


def test_the_validation_month_is_within_every_threshold(project, lesson):
    result = monitor(project, "--month", "2021-02", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["status"] == "ok" and answer["crossed"] == []
    # Scored as in training: the same rides and the same RMSE as the validation.
    assert answer["current"]["rides"] == 61_921
    assert answer["current"]["rmse"] == pytest.approx(7.4808, abs=1e-4)
    assert answer["reference"]["months"] == ["2021-01"]
    assert answer["reference"]["rides"] == 73_908
    assert answer["reference"]["rmse"] == pytest.approx(4.6407, abs=1e-4)
    report = json.loads((project.root / "reports" / "monitor_green_2021-02.json").read_text())
    days = report["per_day"]
    assert len(days) == 28 and sum(d["rides"] for d in days) <= 61_921
    assert set(report["drift"]) == {
        "prediction",
        "duration",
        "trip_distance",
        "PULocationID",
        "DOLocationID",
        "hour_of_week",
    }
    assert 0 < report["drift"]["duration"]["wasserstein_normed"] < 0.2
    assert 0 < report["drift"]["PULocationID"]["jensen_shannon"] < 1
    assert set(report["missing"]["current"]) == {
        "PULocationID",
        "DOLocationID",
        "trip_distance",
        "timestamps",
    }
    html = (project.root / "reports" / "monitor_green_2021-02.html").read_text()
    assert html.count('src="data:image/png;base64,') == 4
    assert "within every threshold" in html and "Wasserstein" in html


def test_a_crossed_threshold_exits_3_and_names_it(project, lesson):
    result = monitor(project, "--month", "2021-02", "--rmse-ratio", "0.9")
    assert result.returncode == 3, result.stderr
    assert "thresholds crossed: rmse_ratio: 1.000 > 0.9" in result.stdout
    assert "threshold" in (project.root / "reports" / "monitor_green_2021-02.html").read_text()


def test_tracked_monitoring_goes_to_the_models_run(project, lesson):
    result = monitor(project, "--month", "2021-02", "--track", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["mlflow_run_id"] == lesson["mlflow_run_id"]
    client = project.client()
    history = client.get_metric_history(lesson["mlflow_run_id"], "monitor.rmse")
    # Months since 2009-01: consecutive months are consecutive steps, across years too.
    assert [(m.step, round(m.value, 4)) for m in history] == [(145, 7.4808)]
    names = {a.path for a in client.list_artifacts(lesson["mlflow_run_id"], "monitoring")}
    assert names == {
        "monitoring/monitor_green_2021-02.json",
        "monitoring/monitor_green_2021-02.html",
    }


def test_a_registered_model_is_monitored_by_its_alias(project, lesson):
    result = monitor(
        project, "--month", "2021-02", "--model", "models:/nyc-taxi-regressor@challenger", "--json"
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["model"]["label"] == f"nyc-taxi-regressor version {lesson['version']}"
    assert answer["current"]["rmse"] == pytest.approx(7.4808, abs=1e-4)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--model", "models:/nyc-taxi-regressor@nope"], "has no alias 'nope'"),
        (["--model", "models:/nyc-taxi-regressor"], "write a registered model as models:/"),
        (["--taxi", "yellow"], "is a green taxi model; it cannot be monitored on yellow rides"),
        (["--rmse-ratio", "0"], "--rmse-ratio must be positive"),
        (["--month", "2021-13"], "2021-13"),
    ],
)
def test_bad_requests_are_one_line(project, lesson, args, fragment):
    month = [] if "--month" in args else ["--month", "2021-02"]
    assert_clean_failure(monitor(project, *month, *args), fragment)


def test_a_registered_model_of_another_taxi_type_is_refused(project, lesson):
    result = monitor(
        project,
        "--month",
        "2021-02",
        "--taxi",
        "yellow",
        "--model",
        "models:/nyc-taxi-regressor@challenger",
    )
    assert_clean_failure(result, "is a green taxi model; it cannot be monitored on yellow")


def test_a_month_with_no_ride_of_1_to_60_minutes(project, lesson, tmp_path):
    data = tmp_path / "data"
    for name in ("green_tripdata_2021-01.parquet",):
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_bytes((project.data / name).read_bytes())
    long_rides = [(p, p + (d - p) * 200, pu, do, miles) for p, d, pu, do, miles in simple_rides(3)]
    write_green(data, "2021-03", long_rides)
    result = project.cli(
        "monitor",
        "--offline",
        "--month",
        "2021-03",
        "--data-dir",
        str(data),
        "--model",
        str(project.models / "lin_reg.bin"),
        "--reports-dir",
        str(tmp_path / "reports"),
    )
    assert_clean_failure(result, "lasts 1 to 60 minutes")
    assert not (tmp_path / "reports").exists()


def test_a_statistic_is_one_registry_entry(project, lesson):
    """A statistic registered with its threshold shows in --help, the JSON and HTML reports,
    the crossed thresholds (exit 3) and the model's MLflow metrics, with no other edit."""
    from ride_duration.monitoring.statistics import STATISTICS, Statistic, register

    def measure(comparison):
        return {"": comparison.current.evaluation.rides / comparison.reference.evaluation.rides}

    register(Statistic("ride_ratio", "rides of the month over the reference's", 2.0, measure))
    try:
        assert "--ride-ratio" in project.cli("monitor", "--help").stdout
        result = monitor(project, "--month", "2021-02", "--track", "--json", "--ride-ratio", "0.5")
        assert result.returncode == 3, result.stderr
        answer = json.loads(result.stdout)
        assert answer["crossed"] == ["ride_ratio: 0.838 > 0.5"]
        (toy,) = [s for s in answer["statistics"] if s["statistic"] == "ride_ratio"]
        assert toy["value"] == pytest.approx(61_921 / 73_908) and toy["limit"] == 0.5
        assert answer["thresholds"]["ride_ratio"] == 0.5
        html = (project.root / "reports" / "monitor_green_2021-02.html").read_text()
        assert "ride_ratio" in html and "rides of the month over the reference" in html
        run = project.client().get_run(lesson["mlflow_run_id"])
        assert run.data.metrics["monitor.ride_ratio"] == pytest.approx(61_921 / 73_908)
    finally:
        del STATISTICS["ride_ratio"]
