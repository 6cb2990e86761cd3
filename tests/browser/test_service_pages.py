"""The service's pages in a real browser: /docs expands POST /predict with no resolver error
and "Try it out" answers 200; /redoc renders the batch body's rides from this machine alone."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import assert_no_console_errors
from tests.helpers import LESSON_MONTHS, copy_months, train_with_cli
from tests.serve.test_service import Service, free_port

# Reads no real file but the lesson months: CI's newcomer run with them skips these.
pytestmark = pytest.mark.lesson_months_only


@pytest.fixture(scope="module")
def service(tlc_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("pages")
    train_with_cli(copy_months(tlc_dir, root / "data", *LESSON_MONTHS), root / "models", "lesson")
    running = Service(root / "models" / "lin_reg.bin", free_port(), args=("--no-log",))
    yield running
    running.stop()


def local(urls: list[str], port: int) -> list[str]:
    """The URLs that would leave the machine."""
    away = []
    for url in urls:
        parsed = urlparse(url)
        if parsed.scheme in ("data", "blob", "about", "chrome-extension"):
            continue
        if parsed.hostname != "127.0.0.1" or parsed.port != port:
            away.append(url)
    return away


def test_swagger_expands_predict_without_an_error_and_try_it_out_answers(browser, service):
    base = f"http://127.0.0.1:{service.port}"
    browser.open(f"{base}/docs")
    driver = browser.driver
    block = browser.wait(lambda d: d.find_element(By.ID, "operations-default-predict_predict_post"))
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    browser.wait(lambda d: block.find_element(By.CSS_SELECTOR, ".try-out__btn"))
    assert not driver.find_elements(By.CSS_SELECTOR, ".errors-wrapper"), "a resolver error"
    assert "Resolver error" not in block.text and "Could not resolve" not in block.text
    block.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    body = browser.wait(lambda d: block.find_element(By.CSS_SELECTOR, "textarea.body-param__text"))
    body.clear()
    body.send_keys('{"PULocationID": 43, "DOLocationID": 151, "trip_distance": 1.8}')
    block.find_element(By.CSS_SELECTOR, ".execute").click()
    status = browser.wait(
        lambda d: block.find_element(
            By.CSS_SELECTOR, ".live-responses-table tbody td.response-col_status"
        )
    )
    assert status.text.strip().startswith("200"), status.text
    assert '"duration"' in block.find_element(By.CSS_SELECTOR, ".live-responses-table").text
    errors, urls = browser.collect()
    assert_no_console_errors(errors)
    assert not local(urls, service.port), local(urls, service.port)


def test_redoc_shows_the_batch_of_rides_and_loads_nothing_from_elsewhere(browser, service):
    base = f"http://127.0.0.1:{service.port}"
    browser.open(f"{base}/redoc")
    browser.wait(lambda d: "predict" in d.find_element(By.TAG_NAME, "body").text.lower())
    browser.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-section-id]"))
    text = browser.driver.find_element(By.TAG_NAME, "body").text
    assert "Array of any" not in text
    errors, urls = browser.collect()
    assert_no_console_errors(errors)
    assert not local(urls, service.port), local(urls, service.port)
