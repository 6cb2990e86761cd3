"""Concurrent runs with real processes: downloads of one month, of different months, and
saves of one model name. Every exit is 0 or 2, and what is left on disk is whole and agrees
with its record."""

import json
import subprocess
import sys

import pytest

from ride_duration import load_model, read_metadata
from ride_duration.files import sha256_file
from tests.helpers import leftovers, simple_rides, write_green

MONTH = "green_tripdata_2021-01.parquet"
CLI = [sys.executable, "-m", "ride_duration"]


def run_together(commands, timeout=120):
    """Start every command at once; wait for all; return (exit code, stderr) per command."""
    processes = [
        subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    results = []
    try:
        for process in processes:
            _, err = process.communicate(timeout=timeout)
            results.append((process.returncode, err))
    finally:
        for process in processes:
            process.kill()
    return results


def test_ten_downloads_of_one_month_at_once(mirror, tlc_dir, tmp_path):
    mirror.modes[MONTH] = "slow"  # about a second: the ten overlap
    command = [
        *CLI,
        "download",
        "--quiet",
        "--taxi",
        "green",
        "--month",
        "2021-01",
        "--base-url",
        mirror.url,
        "--data-dir",
        str(tmp_path),
    ]
    results = run_together([command] * 10)
    assert all(code == 0 for code, _ in results), results
    assert mirror.hits[MONTH] == 1  # the other nine waited, then found it done
    assert sha256_file(tmp_path / MONTH) == sha256_file(tlc_dir / MONTH)
    manifest = json.loads((tmp_path / "MANIFEST.json").read_text())
    assert manifest["files"][MONTH]["sha256"] == sha256_file(tmp_path / MONTH)
    assert leftovers(tmp_path) == ["MANIFEST.json", MONTH]


@pytest.mark.tlc_files(
    *(
        f"green_tripdata_{m}.parquet"
        for m in ("2021-03", "2021-04", "2021-05", "2022-01", "2022-02")
    )
)
def test_downloads_of_different_months_at_once_all_reach_the_manifest(mirror, tlc_dir, tmp_path):
    months = ["2021-01", "2021-02", "2021-03", "2021-04", "2021-05", "2022-01", "2022-02"]
    commands = [
        [
            *CLI,
            "download",
            "--quiet",
            "--taxi",
            "green",
            "--month",
            month,
            "--base-url",
            mirror.url,
            "--data-dir",
            str(tmp_path),
        ]
        for month in months
    ]
    results = run_together(commands)
    assert all(code == 0 for code, _ in results), results
    recorded = json.loads((tmp_path / "MANIFEST.json").read_text())["files"]
    for month in months:
        name = f"green_tripdata_{month}.parquet"
        assert (
            recorded[name]["sha256"] == sha256_file(tlc_dir / name) == sha256_file(tmp_path / name)
        )


@pytest.fixture
def tiny_data(tmp_path):
    data = tmp_path / "data"
    write_green(data, "2021-01", simple_rides(1, n=400))
    write_green(data, "2021-02", simple_rides(2, n=400))
    return data


ROUNDS = 30


def _save_in_rounds(barrier, answers, argv: list[str]) -> None:
    """A writer process: on a slow disk (each rename and fsync takes 20 ms, so two saves that
    start together overlap, as they do on real disks with real model sizes), train and save
    once per round, starting with the other writer, and report each exit and stderr."""
    import contextlib
    import io
    import os
    import time

    from ride_duration.cli import main

    def slowed(real):
        def slow(*args):
            time.sleep(0.02)
            return real(*args)

        return slow

    for name in ("replace", "fsync"):
        setattr(os, name, slowed(getattr(os, name)))
    for _ in range(ROUNDS):
        barrier.wait(timeout=60)  # both writers start the round together
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(argv)
        answers.put((code, err.getvalue()))
        barrier.wait(timeout=60)  # the test checks the pair before the next round


def test_thirty_rounds_of_two_trains_saving_one_name(tiny_data, tmp_path):
    """Two processes train different models under one name at the same instant, thirty
    times: after each round the pair on disk is one model and the sidecar that vouches for
    it (a mixed-up pair could not pass load_model), and nothing else is left."""
    import multiprocessing

    models = tmp_path / "models"
    base = ["train", "--offline", "--quiet", "--data-dir", str(tiny_data)]
    base += ["--model-dir", str(models), "--name", "m"]
    spawn = multiprocessing.get_context("spawn")
    barrier, answers = spawn.Barrier(3), spawn.Queue()
    writers = [
        spawn.Process(target=_save_in_rounds, args=(barrier, answers, argv))
        for argv in (base, [*base, "--model", "ridge"])
    ]
    for writer in writers:
        writer.start()
    try:
        for _ in range(ROUNDS):
            barrier.wait(timeout=120)
            results = [answers.get(timeout=120) for _ in writers]
            assert all(code in (0, 2) for code, _ in results), results
            assert all("Traceback" not in err for _, err in results), results
            model = load_model(models / "m.bin")
            meta = read_metadata(models / "m.bin")
            assert type(model[-1]).__name__ == meta["model"]["class"]
            assert leftovers(models) == ["m.bin", "m.json"]
            barrier.wait(timeout=120)
        assert all(code == 0 for code, _ in results)
    finally:
        for writer in writers:
            writer.join(timeout=30)
            if writer.is_alive():
                writer.kill()
