"""SIGKILL `train` at every step of saving: the previous model and its sidecar stay a
matching pair that loads, or the new pair is complete. Never a mix, never a partial file."""

import os
import signal
import subprocess
import sys

import pytest

from ride_duration import load_model, read_metadata
from tests.helpers import leftovers, run_cli

# Runs the real CLI, with os.replace wrapped to SIGKILL the process just before or just
# after its Nth call: saving a model renames three times (pending sidecar, .bin, sidecar).
KILLER = """
import os, signal, sys
real_replace = os.replace
calls = 0
target, when = int(sys.argv[1]), sys.argv[2]

def replace(src, dst):
    global calls
    calls += 1
    if calls == target and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)
    if calls == target and when == "after":
        os.kill(os.getpid(), signal.SIGKILL)

os.replace = replace
from ride_duration.cli import main
sys.exit(main(sys.argv[3:]))
"""


@pytest.fixture
def months(tiny_months):
    return tiny_months


def features_of(pipeline) -> str:
    names = pipeline[0].feature_names_
    return "lesson" if any(n.startswith("PU_DO=") for n in names) else "homework"


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("call", [1, 2, 3])
def test_sigkill_during_save_leaves_a_matching_pair(months, tmp_path, call, when):
    models = tmp_path / "models"
    common = [
        "train",
        "--offline",
        "--quiet",
        "--data-dir",
        str(months),
        "--model-dir",
        str(models),
        "--name",
        "m",
    ]
    first = run_cli(*common, "--features", "lesson")
    assert first.returncode == 0, first.stderr
    before = (models / "m.bin").read_bytes()

    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(call), when, *common, "--features", "homework"],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    pipeline = load_model(models / "m.bin")
    metadata = read_metadata(models / "m.bin")
    assert metadata["features"]["set"] == features_of(pipeline)
    if call == 3 and when == "after":
        assert features_of(pipeline) == "homework"
    if call == 1:
        assert (models / "m.bin").read_bytes() == before
    visible = sorted(p.name for p in models.iterdir() if not p.name.startswith("."))
    assert visible == ["m.bin", "m.json"]

    # The next run completes the job and leaves nothing behind.
    again = run_cli(*common, "--features", "homework")
    assert again.returncode == 0, again.stderr
    assert features_of(load_model(models / "m.bin")) == "homework"
    assert leftovers(models) == ["m.bin", "m.json"]
