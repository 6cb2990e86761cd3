"""The Dask engine pointed at wrong, empty or dying clusters: one line and exit 2, bounded in
time, never a hang. Schedulers and workers bind 127.0.0.1 and are always stopped."""

import subprocess
import sys
import time

import pytest

from tests.helpers import assert_clean_failure, run_cli
from tests.serve.test_service import free_port

pytest.importorskip("distributed", reason="the [dask] extra is not installed")


def train_on(scheduler: str, data, tmp_path, **env):
    return run_cli(
        "train",
        "--offline",
        "--quiet",
        "--engine",
        "dask",
        "--scheduler",
        scheduler,
        "--data-dir",
        str(data),
        "--model-dir",
        str(tmp_path / "models"),
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize(
    "address", ["garbage", "tcp://[::1", "inproc://x", "", "tcp://127.0.0.1:0", "http://h:1"]
)
def test_a_malformed_scheduler_address_is_refused_before_any_work(tiny_months, tmp_path, address):
    result = train_on(address, tiny_months, tmp_path)
    assert_clean_failure(result, "write a Dask scheduler's address as tcp://host:8786")
    assert not (tmp_path / "models").exists()


def test_an_unreachable_scheduler_is_one_line(tiny_months, tmp_path):
    started = time.monotonic()
    # Two seconds to connect, not ten: what is tested is the line, not the patience.
    patience = {"RIDE_DURATION_DASK_CONNECT_SECONDS": "2"}
    result = train_on(f"tcp://127.0.0.1:{free_port()}", tiny_months, tmp_path, **patience)
    assert_clean_failure(result, "cannot reach the Dask scheduler")
    assert time.monotonic() - started < 30


@pytest.fixture
def scheduler():
    """A real dask scheduler on a free loopback port, without workers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1"]
        + ["--port", str(port), "--no-dashboard"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    address = f"tcp://127.0.0.1:{port}"
    try:
        give_up = time.monotonic() + 60
        while subprocess.run(
            [
                sys.executable,
                "-c",
                f"import socket; socket.create_connection(('127.0.0.1', {port}), 1)",
            ],
            capture_output=True,
        ).returncode:
            assert time.monotonic() < give_up and process.poll() is None, "no scheduler"
            time.sleep(0.2)
        yield process, address
    finally:
        process.kill()
        process.wait(timeout=20)


def test_a_cluster_with_no_workers_stops_with_a_clear_line(scheduler, tiny_months, tmp_path):
    _, address = scheduler
    started = time.monotonic()
    result = train_on(address, tiny_months, tmp_path, RIDE_DURATION_DASK_NO_WORKERS_SECONDS="2")
    assert_clean_failure(result, "has had no workers for 2 s", f"dask worker {address}")
    assert time.monotonic() - started < 60
    assert not (tmp_path / "models" / "lin_reg.bin").exists()


def test_a_scheduler_that_dies_mid_run_is_one_line(scheduler, tiny_months, tmp_path):
    process, address = scheduler
    run = subprocess.Popen(
        [sys.executable, "-m", "ride_duration", "train", "--offline", "--quiet"]
        + ["--engine", "dask", "--scheduler", address, "--data-dir", str(tiny_months)]
        + ["--model-dir", str(tmp_path / "models")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**__import__("os").environ, "RIDE_DURATION_DASK_NO_WORKERS_SECONDS": "30"},
    )
    time.sleep(6)  # connected, waiting for a worker that never comes
    process.kill()
    try:
        _, err = run.communicate(timeout=90)
    finally:
        run.kill()
    assert run.returncode == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err
    assert "Dask scheduler" in err
    assert not (tmp_path / "models" / "lin_reg.bin").exists()
