"""What a learner opens while operating the model, in a real browser: MLflow's UI after a
tracked, registered and promoted run (the link the project prints opens on the runs, the
model's page shows @champion), the monitor report with its four figures, and Prometheus'
alerts page with the drift alert firing (its screenshot is the README's)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import assert_no_console_errors
from tests.helpers import LESSON_MONTHS, copy_months, run_cli
from tests.serve.test_service import Service, free_port

# What MLflow's own UI logs as an error on a server without authentication, and why it is
# not ours: it asks who the user is, and the server (no auth app) answers 404.
MLFLOW_ALLOWED = {"/ajax-api/2.0/mlflow/users/current": "MLflow's UI asks for a user; no auth"}

# Debian's Prometheus loads its packaged popper.js, an ES module, as a classic script: the
# page logs a SyntaxError at each load (the alerts table does not use it). Debian's, not ours.
PROMETHEUS_ALLOWED = {"popper.min.js": "Debian's popper.js is an ES module loaded as a script"}


@pytest.fixture(scope="module")
def mlflow_server(tlc_dir, tmp_path_factory):
    pytest.importorskip("mlflow")
    from tests.operate.test_server import mlflow_server as started

    root = tmp_path_factory.mktemp("mlflow-ui")
    with started(root) as uri:
        data = copy_months(tlc_dir, root / "data", *LESSON_MONTHS)
        env = {"MLFLOW_TRACKING_URI": uri}
        trained = run_cli(
            "train", "--offline", "--quiet", "--track", "--register",
            "--data-dir", str(data), "--model-dir", str(root / "models"), env=env,
        )  # fmt: skip
        assert trained.returncode == 0, trained.stderr
        assert run_cli("promote", env=env).returncode == 0
        (link,) = re.findall(r"shown at (\S+)", trained.stdout)
        yield uri, link


def body_text(browser) -> str:
    return browser.driver.find_element(By.TAG_NAME, "body").text


def wait_for_text(browser, text: str, seconds: float = 60) -> None:
    from selenium.common.exceptions import TimeoutException

    try:
        browser.wait(lambda d: text in body_text(browser), seconds)
    except TimeoutException:
        raise AssertionError(
            f"{text!r} not shown at {browser.driver.current_url}: {body_text(browser)[:1500]}"
        ) from None


@pytest.mark.lesson_months_only  # reads no real file but the lesson months
def test_the_link_train_prints_opens_mlflow_on_the_run_and_the_model_shows_its_champion(
    browser, mlflow_server
):
    uri, link = mlflow_server
    assert link.startswith(uri) and "workflowType=machine_learning" in link
    browser.open(link)
    wait_for_text(browser, "lin_reg green 2021-01 -> 2021-02")
    text = body_text(browser)
    assert "Token Usage" not in text and "Traces\n0" not in text  # not the GenAI dashboard
    assert "/experiments/" in browser.driver.current_url and "/runs/" in browser.driver.current_url
    browser.open(f"{uri}/#/models/nyc-taxi-regressor")
    wait_for_text(browser, "Version 1")
    aliases = re.sub(r"\s+", " ", body_text(browser))
    assert "@ champion" in aliases and "@ challenger" in aliases
    errors, _ = browser.collect()
    assert_no_console_errors(errors, MLFLOW_ALLOWED)


@pytest.mark.lesson_months_only  # reads no real file but the lesson months
def test_the_monitor_report_shows_its_four_figures(browser, tlc_dir, tmp_path):
    data = copy_months(tlc_dir, tmp_path / "data", *LESSON_MONTHS)
    trained = run_cli("train", "--offline", "--quiet", "--data-dir", str(data),
                      "--model-dir", str(tmp_path / "models"))  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    watched = run_cli(
        "monitor", "--month", "2021-02", "--offline", "--data-dir", str(data),
        "--model", str(tmp_path / "models" / "lin_reg.bin"),
        "--reports-dir", str(tmp_path / "reports"),
    )  # fmt: skip
    assert watched.returncode in (0, 3), watched.stderr
    page = tmp_path / "reports" / "monitor_green_2021-02.html"
    browser.open(page.as_uri())
    images = browser.wait(lambda d: d.find_elements(By.TAG_NAME, "img"))
    assert len(images) == 4
    for image in images:
        width = browser.driver.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", image
        )
        assert width and width > 300, image.get_attribute("alt")
        assert image.get_attribute("alt")
    errors, urls = browser.collect()
    assert_no_console_errors(errors)
    assert all(u.startswith(("file:", "data:")) for u in urls), urls


@pytest.mark.tlc_files("green_tripdata_2023-01.parquet")
def test_prometheus_alerts_page_shows_the_drift_alert_firing(
    browser, live_models, tlc_dir, tmp_path
):
    from tests.live.conftest import month_rides
    from tests.live.stack import Stack
    from tests.live.test_prometheus import DRIFT, send

    service = Service(
        live_models / "models" / "lin_reg.bin",
        free_port(),
        workers=2,
        args=("--log-dir", str(tmp_path / "logs"), "--no-access-log"),
    )
    stack = None
    try:
        stack = Stack(tmp_path / "stack", f"127.0.0.1:{service.port}")
        send(service, month_rides(tlc_dir, "2021-02", 3_000, pickups=False), seconds=3)
        shifted = month_rides(tlc_dir, "2023-01", 3_000, pickups=False)
        send(service, shifted, seconds=60, until=lambda: stack.alert_state(DRIFT) == "firing")
        assert stack.alert_state(DRIFT) == "firing"
        # Debian's Prometheus serves its classic pages (/classic/alerts); upstream's, React
        # pages (/alerts): the root redirects to the one this build has.
        browser.open(stack.url)
        browser.wait(lambda d: d.current_url.rstrip("/") != stack.url)
        classic = "/classic/" in browser.driver.current_url
        browser.open(f"{stack.url}/classic/alerts" if classic else f"{stack.url}/alerts")
        name = f"//*[(self::a or self::b) and normalize-space(text())='{DRIFT}']"
        browser.wait(lambda d: d.find_element(By.XPATH, name)).click()  # unfold it
        if classic:
            browser.driver.find_element(By.CSS_SELECTOR, "button.show-annotations").click()
        browser.wait(lambda d: "severity" in body_text(browser) and "moved" in body_text(browser))
        text = body_text(browser)
        assert "firing" in text.lower() and "moved" in text
        browser.screenshot(tmp_path / "prometheus_alerts.png")
        errors, urls = browser.collect()
    finally:
        if stack is not None:
            stack.stop()
        service.stop()
    assert_no_console_errors(errors, PROMETHEUS_ALLOWED)
    assert Path(tmp_path / "prometheus_alerts.png").stat().st_size > 10_000
    assert all("127.0.0.1" in u or u.startswith("data:") for u in urls), urls
