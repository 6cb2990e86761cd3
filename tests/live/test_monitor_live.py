"""monitor --live: the rides the service recorded against the model's training months, with
the month's statistics, thresholds, exit codes and report, but no errors (no outcomes yet)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import assert_clean_failure, run_cli


def live(live_models, folder, *more, model="lin_reg.bin"):
    return run_cli(
        "monitor",
        "--live",
        str(folder),
        "--model",
        str(live_models / "models" / model),
        "--data-dir",
        str(live_models / "data"),
        "--offline",
        *more,
    )


@pytest.mark.tlc_files("green_tripdata_2023-01.parquet")
def test_the_next_months_rides_pass_and_rides_two_years_on_are_an_alert(
    live_models, recorded_logs, tmp_path
):
    normal = live(live_models, recorded_logs["2021-02"], "--reports-dir", str(tmp_path / "a"))
    assert normal.returncode == 0, normal.stderr
    assert "20,000 rides in 40 requests" in normal.stdout
    assert "within every threshold" in normal.stdout
    shifted = live(live_models, recorded_logs["2023-01"], "--reports-dir", str(tmp_path / "b"))
    assert shifted.returncode == 3, shifted.stderr
    assert "prediction_drift (prediction)" in shifted.stdout
    document = json.loads((tmp_path / "b" / "monitor_green_live.json").read_text())
    assert document["live"] is True and document["status"] == "alert"
    assert document["current"] == {"rides": 20_000}  # no RMSE, MAE nor coverage: no outcomes
    statistics = {s["statistic"] for s in document["statistics"]}
    assert "rmse_ratio" not in statistics and "interval_coverage" not in statistics
    assert {"prediction_drift", "input_drift", "category_psi"} <= statistics
    assert document["window"]["requests"] == 40
    page = (tmp_path / "b" / "monitor_green_live.html").read_text()
    assert "live traffic" in page and page.count("<img alt=") == 3  # no errors per day


def test_json_output_and_since(live_models, recorded_logs, tmp_path):
    folder = recorded_logs["2021-02"]
    result = live(live_models, folder, "--json", "--reports-dir", str(tmp_path))
    document = json.loads(result.stdout)
    assert result.returncode == 0 and document["live"] and document["current"]["rides"] == 20_000
    later = live(live_models, folder, "--since", "2999-01-01", "--reports-dir", str(tmp_path))
    assert_clean_failure(later, "no rides recorded since 2999-01-01 00:00 UTC")


def test_rides_answered_by_another_model_are_named_not_watched(
    live_models, recorded_logs, tmp_path
):
    folder = recorded_logs["2021-02"]
    result = live(live_models, folder, "--reports-dir", str(tmp_path), model="rich_ridge.bin")
    assert_clean_failure(result, "none of the 20,000 rides", "lin_reg-", "--model")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "1h"], "--since reads the live traffic"),
        (["--live", "{tmp}/nowhere"], "no prediction log here"),
        (["--live", "{tmp}", "--since", "soon"], "--since 'soon': give a time ago"),
        (["--live", "{tmp}", "--month", "2021-02"], "not allowed with argument"),
    ],
)
def test_a_live_monitor_asked_wrongly_is_one_line(live_models, tmp_path, args, says):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--live" not in args and "--month" not in args:
        args = ["--month", "2021-02", *args]
    result = run_cli(
        "monitor",
        *args,
        "--model",
        str(live_models / "models" / "lin_reg.bin"),
        "--data-dir",
        str(live_models / "data"),
        "--offline",
    )
    assert_clean_failure(result, says)
