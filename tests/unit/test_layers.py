"""The import layers of pyproject.toml's import-linter contract hold, and the contract really
catches a lower layer importing a higher one."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), str(root / "pyproject.toml")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(root / "src")},
    )


def test_the_layers_hold():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_a_lower_layer_importing_a_higher_one_breaks_the_contract(tmp_path):
    shutil.copytree(REPO / "src" / "ride_duration", tmp_path / "src" / "ride_duration")
    shutil.copyfile(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    dataset = tmp_path / "src" / "ride_duration" / "data" / "dataset.py"
    dataset.write_text(dataset.read_text() + "\nfrom ..modeling import train  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "ride_duration.data is not allowed to import ride_duration.modeling" in result.stdout
    assert "ride_duration.data.dataset -> ride_duration.modeling.train" in result.stdout
