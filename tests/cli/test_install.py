"""The package installed as a user installs it (`pip install .`, not editable): its default
folders are the working directory's (or RIDE_DURATION_HOME's), never the virtual
environment's."""

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.helpers import LESSON_MONTHS, REPO, copy_months


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A new virtual environment with this package installed from a wheel (built from a copy
    of the sources, so the checkout gets no build/ folder); its dependencies are this
    environment's, reached through a .pth file, so nothing is downloaded."""
    root = tmp_path_factory.mktemp("installed")
    sources = root / "sources"
    shutil.copytree(REPO / "src", sources / "src", ignore=shutil.ignore_patterns("*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, sources / name)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*build, "-w", str(root / "dist"), str(sources)], check=True, timeout=300)
    (wheel,) = (root / "dist").glob("ride_duration-*.whl")
    environment = root / "venv"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "-q"]
    subprocess.run([*install, "--target", str(site), str(wheel)], check=True, timeout=300)
    # This environment's packages, but not its editable checkout (a .pth file's own .pth
    # lines are not read, so the checkout's src/ stays off the path).
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return environment


def run_installed(environment: Path, cwd: Path, *args: str, **env: str):
    variables = {k: v for k, v in os.environ.items() if k != "RIDE_DURATION_HOME"} | env
    return subprocess.run(
        [str(environment / "bin" / "python"), "-m", "ride_duration", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=variables,
        timeout=300,
    )


def where_it_puts(environment: Path, cwd: Path, **env: str) -> dict:
    code = (
        "import json, ride_duration, ride_duration.config as c; print(json.dumps({'package': "
        "ride_duration.__file__, 'models': str(c.MODELS_DIR), 'data': str(c.DATA_DIR), "
        "'reports': str(c.REPORTS_DIR), 'checkout': str(c.CHECKOUT)}))"
    )
    variables = {k: v for k, v in os.environ.items() if k != "RIDE_DURATION_HOME"} | env
    answer = subprocess.run(
        [str(environment / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=variables,
        check=True,
        timeout=120,
    )
    import json

    return json.loads(answer.stdout)


@pytest.mark.lesson_months_only  # reads no real file but the lesson months
def test_an_installed_package_trains_into_the_working_directory(installed, tlc_dir, tmp_path):
    data = copy_months(tlc_dir, tmp_path / "data", *LESSON_MONTHS)
    work = tmp_path / "work"
    work.mkdir()
    places = where_it_puts(installed, work)
    assert places["package"].startswith(str(installed)), places  # not the checkout's src/
    assert places["checkout"] == "None"
    assert places["models"] == str(work / "models") and places["reports"] == str(work / "reports")
    result = run_installed(
        installed, work, "train", "--offline", "--quiet", "--data-dir", str(data)
    )
    assert result.returncode == 0, result.stderr
    assert (work / "models" / "lin_reg.bin").is_file()
    assert [p for p in installed.rglob("*") if p.name in ("models", "lin_reg.bin")] == []


def test_ride_duration_home_names_the_folders(installed, tmp_path):
    home = tmp_path / "home"
    places = where_it_puts(installed, tmp_path, RIDE_DURATION_HOME=str(home))
    assert places["models"] == str(home / "models") and places["data"] == str(home / "data")
