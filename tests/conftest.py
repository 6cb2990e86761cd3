"""Shared fixtures. Real TLC files come from RIDE_DURATION_TLC_DIR (default ../shared/data/tlc,
relative to the project root); tests that need them skip, saying why, where it is absent."""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

import pytest

from ride_duration.config import BASE_URL_ENV, LOG_DIR_ENV
from ride_duration.data.download import BACKOFF_ENV
from tests.helpers import (
    LESSON_MONTHS,
    copy_months,
    missing_files_reason,
    require_tlc_files,
    simple_rides,
    tlc_candidates,
    write_green,
)


@pytest.fixture(autouse=True, scope="session")
def _no_internet():
    """Point every download (in this process and in CLI subprocesses) at a closed loopback
    port unless a test names its own server: tests never reach the TLC CDN."""
    saved = {key: os.environ.get(key) for key in (BASE_URL_ENV, BACKOFF_ENV)}
    os.environ[BASE_URL_ENV] = "http://127.0.0.1:9"
    os.environ[BACKOFF_ENV] = "0.05"
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True, scope="session")
def _prediction_logs_elsewhere(tmp_path_factory):
    """`serve` records its predictions by default under the project's logs/: in the tests
    (in this process and in subprocesses) a folder of their own, unless a test names one."""
    saved = os.environ.get(LOG_DIR_ENV)
    os.environ[LOG_DIR_ENV] = str(tmp_path_factory.mktemp("prediction-logs"))
    yield
    if saved is None:
        os.environ.pop(LOG_DIR_ENV, None)
    else:
        os.environ[LOG_DIR_ENV] = saved


def pytest_configure(config):
    # xdist hands out test files (--dist loadfile) in the collection's order, which
    # ``slowest_first`` sets; its own order, by number of tests, ran the schedule's one
    # test of over a minute last, on one worker while the other had nothing left to run.
    if config.pluginmanager.hasplugin("xdist"):
        config.option.loadscopereorder = False
    config.addinivalue_line(
        "markers", "tlc_files(*names): real TLC files the test needs beside the lesson months"
    )
    config.addinivalue_line(
        "markers",
        "lesson_months_only: reads no real file but the lesson months, so it behaves alike in "
        "every state that has them",
    )


@pytest.fixture(scope="session")
def tlc_dir() -> Path:
    for path in tlc_candidates():
        if (path / LESSON_MONTHS[0]).is_file():
            return path
    pytest.skip(missing_files_reason([LESSON_MONTHS[0]], None))


@pytest.fixture(autouse=True)
def _needed_tlc_files(request):
    """A test marked ``tlc_files(...)`` skips unless the real-files folder holds them all."""
    marker = request.node.get_closest_marker("tlc_files")
    if marker:
        require_tlc_files(request.getfixturevalue("tlc_dir"), *marker.args)


@pytest.fixture
def lesson_data(tlc_dir: Path, tmp_path: Path) -> Path:
    """A writable data dir holding copies of the lesson months."""
    return copy_months(tlc_dir, tmp_path / "data", *LESSON_MONTHS)


@pytest.fixture
def tiny_months(tmp_path: Path) -> Path:
    """A data dir with two small hand-made green months, 2021-01 and 2021-02."""
    data = tmp_path / "data"
    write_green(data, "2021-01", simple_rides(1))
    write_green(data, "2021-02", simple_rides(2))
    return data


ONLY_REAL_FILE_TESTS_ENV = "RIDE_DURATION_ONLY_REAL_FILE_TESTS"


DURATIONS = Path(__file__).with_name("durations.json")  # `make test-durations` writes it


def slowest_first(items) -> None:
    """The test files in the order of their measured seconds, slowest first (each file's
    tests keep their order): the workers start on the long ones and finish together. A file
    not measured yet counts as the median file."""
    try:
        seconds = json.loads(DURATIONS.read_text())
    except (OSError, ValueError):
        return
    typical = statistics.median(seconds.values()) if seconds else 0.0
    items.sort(key=lambda item: -seconds.get(item.nodeid.split("::")[0], typical))


def pytest_collection_modifyitems(config, items):
    """The slowest files first (``slowest_first``). With RIDE_DURATION_ONLY_REAL_FILE_TESTS=1
    (CI's newcomer states), keep only the tests whose outcome can depend on which real files
    exist: those that use the real-files folder or name files they need. The others behave
    alike in every state and ran already; so does the image tier, which needs only the lesson
    months, and so do the tests marked ``lesson_months_only`` wherever the lesson months are
    (without them, they run to skip)."""
    slowest_first(items)
    if os.environ.get(ONLY_REAL_FILE_TESTS_ENV) != "1":
        return
    lesson_months = any((path / LESSON_MONTHS[0]).is_file() for path in tlc_candidates())
    kept, dropped = [], []
    for item in items:
        uses = "tlc_dir" in getattr(item, "fixturenames", ()) or item.get_closest_marker(
            "tlc_files"
        )
        same = item.get_closest_marker("image") or (
            lesson_months and item.get_closest_marker("lesson_months_only")
        )
        (kept if uses and not same else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_terminal_summary(terminalreporter):
    """The image tier's measurements, when it ran: size, build and start-up times."""
    from tests.image.test_container import REPORT

    if "size_mb" in REPORT:
        healthy = ", ".join(f"{k} {v:.1f} s" for k, v in REPORT.get("healthy_s", {}).items())
        terminalreporter.write_line(
            f"image ride-duration:test on {REPORT['base']}: {REPORT['size_mb']:.0f} MB, built in "
            f"{REPORT['build_s']:.0f} s; docker run to healthy: {healthy}; docker stop: "
            f"{REPORT.get('stop_s', float('nan')):.1f} s"
        )
