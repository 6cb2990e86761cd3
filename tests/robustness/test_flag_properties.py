"""Arbitrary text in every path, address and number flag of every command: the command works
(exit 0, or 3 for a monitor past a threshold) or refuses in one line (exit 2), never with a
traceback, and no file outside its temporary folder changes. The commands run in-process on
tiny months, so that a value that is valid does real, quick work."""

import hashlib
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import REPO, run_cli, simple_rides, write_green

# What the commands must never touch: the checkout's own folders and store.
GUARDED = [REPO / name for name in ("data", "models", "reports", "images", "mlflow.db")]

NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "-0", "0", "0x10", " 1", "1_000", ""]),
    st.text(max_size=12),
)
PATH = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=24
)
URI = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"(sqlite|file|ftp|models|tcp|tls|databricks):/{0,4}[^\s]{0,20}", fullmatch=True),
    st.from_regex(r"https?://(127\.0\.0\.1|\[::1\]?)?(:[0-9]{0,6})?(/[^\s]{0,5})?", fullmatch=True),
    st.from_regex(r"models:/[A-Za-z@/0-9_-]{0,20}", fullmatch=True),
)


def confined(text: str) -> str:
    """An address as generated, but whatever it names on this machine kept in the working
    directory (a store's file, a file store) and on loopback (a host): a valid one then does
    its work here, not in /etc nor on a host that the closed network makes the test wait on."""
    text = re.sub(r"^(sqlite|file):/+", lambda m: f"{m[1]}:///" if m[1] == "sqlite" else "./", text)
    return re.sub(r"^(tcp|tls|https?)://[^:/\[\]]+", r"\1://127.0.0.1", text)


def snapshot() -> dict:
    out = {}
    for root in GUARDED:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            stat = path.stat()
            out[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """Tiny green months, a trained model, and this module's working directory."""
    root = tmp_path_factory.mktemp("flags")
    data = root / "data"
    for month in (1, 2, 3):
        write_green(data, f"2021-0{month}", simple_rides(month, n=60))
    result = run_cli(
        "train", "--offline", "--quiet", "--data-dir", str(data), "--model-dir", str(root / "m")
    )
    assert result.returncode == 0, result.stderr
    before, cwd = snapshot(), os.getcwd()
    os.chdir(root)  # a relative path in a flag lands here
    try:
        yield root
    finally:
        os.chdir(cwd)
    assert snapshot() == before, "a command changed the checkout's own files"


def check(result, allowed=(0, 2)):
    assert result.returncode in allowed, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    if result.returncode == 2:
        lines = result.stderr.strip().splitlines()
        assert 1 <= len(lines) <= 2, result.stderr


def scratch(place: Path, key: str) -> Path:
    """A folder of its own per example."""
    folder = place / "runs" / hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def inside(folder: Path, text: str) -> Path:
    """The text as a path inside the folder (an absolute one is taken as relative)."""
    return folder / text.lstrip("/") if text.strip("/") else folder / "x"


def common(place: Path) -> list[str]:
    return ["--offline", "--quiet", "--data-dir", str(place / "data")]


SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NUMBER_FLAGS = [
    ("train", "--alpha", ["--model", "ridge"]),
    ("train", "--batch-rows", []),
    ("predict", "--level", ["--pu", "43", "--do", "151", "--distance", "1.8"]),
    ("predict", "--distance", ["--pu", "43", "--do", "151"]),
    ("predict", "--pu", ["--do", "151", "--distance", "1.8"]),
    ("monitor", "--rmse-ratio", ["--month", "2021-03"]),
    ("monitor", "--category-psi", ["--month", "2021-03"]),
    ("retrain", "--window", ["--month", "2021-03"]),
    ("serve", "--poll-seconds", []),
    ("serve", "--port", []),
    ("serve", "--workers", []),
    ("homework", "--cohort", []),
]


def arguments(place: Path, folder: Path, command: str, flag: str, value: str, extra: list[str]):
    model = ["--model", str(place / "m" / "lin_reg.bin")]
    where = {
        "train": [*common(place), "--model-dir", str(folder / "models")],
        "predict": model,
        "monitor": [*common(place), *model, "--reports-dir", str(folder / "reports")],
        "retrain": [
            *common(place),
            "--model-dir",
            str(folder / "models"),
            "--reports-dir",
            str(folder / "reports"),
            "--tracking-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
        ],
        "serve": [*model, "--port", "0"],
        "homework": [*common(place), "--taxi", "green", "--train", "2021-01"],
    }[command]
    return [command, *where, *extra, f"{flag}={value}"]


@pytest.fixture
def no_server(monkeypatch):
    """`serve` with values that are valid would run until stopped: here it returns once its
    model is checked and its port bound and released, the work before any request."""
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)


@pytest.mark.parametrize(("command", "flag", "extra"), NUMBER_FLAGS, ids=lambda v: str(v))
@SETTINGS
@given(value=NUMBER)
def test_any_number_works_or_is_one_line(place, no_server, command, flag, extra, value):
    folder = scratch(place, f"{command}{flag}{value}")
    pytest.importorskip("mlflow") if command == "retrain" else None
    result = run_cli(*arguments(place, folder, command, flag, value, extra))
    check(result, (0, 2, 3) if command == "monitor" else (0, 2))


PATH_FLAGS = [
    ("train", "--model-dir", []),
    ("predict", "--output", ["--month", "2021-03", "--offline", "--data-dir"]),
    ("monitor", "--reports-dir", ["--month", "2021-03"]),
    ("plots", "--out", []),
    ("predict", "--model", ["--pu", "43", "--do", "151", "--distance", "1.8"]),
    ("train", "--data-dir", []),
]


@pytest.mark.parametrize(("command", "flag", "extra"), PATH_FLAGS, ids=lambda v: str(v))
@settings(SETTINGS, max_examples=12)  # a valid folder gets a report of four figures
@given(text=PATH)
def test_any_path_works_or_is_one_line(place, command, flag, extra, text):
    folder = scratch(place, f"{command}{flag}{text}")
    target = str(inside(folder, text))
    model = ["--model", str(place / "m" / "lin_reg.bin")]
    data = ["--data-dir", str(place / "data")]
    argv = {
        "train": ["train", "--offline", "--quiet", *data, "--model-dir", str(folder / "models")],
        "predict": ["predict", *model],
        "monitor": ["monitor", "--offline", *data, *model],
        "plots": ["plots", *model, *data],
    }[command]
    if extra and extra[-1] == "--data-dir":
        extra = [*extra, str(place / "data")]
    result = run_cli(*argv, *extra, f"{flag}={target}")
    check(result, (0, 2, 3))


ADDRESS_FLAGS = [
    ("train", "--tracking-uri", ["--track"]),
    ("monitor", "--tracking-uri", ["--month", "2021-03", "--track"]),
    ("monitor", "--model", ["--month", "2021-03"]),
    ("promote", "--tracking-uri", []),
    ("train", "--scheduler", ["--engine", "dask"]),
]


@pytest.mark.parametrize(("command", "flag", "extra"), ADDRESS_FLAGS, ids=lambda v: str(v))
@SETTINGS
@given(text=URI)
def test_any_address_works_or_is_one_line(place, command, flag, extra, text):
    pytest.importorskip("mlflow")
    if flag == "--scheduler":
        pytest.importorskip("distributed")
    folder = scratch(place, f"{command}{flag}{text}")
    data = ["--offline", "--quiet", "--data-dir", str(place / "data")]
    store = ["--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}"]
    argv = {
        "train": ["train", *data, "--model-dir", str(folder / "models")],
        "monitor": [
            "monitor",
            *data,
            "--reports-dir",
            str(folder / "reports"),
            "--model",
            str(place / "m" / "lin_reg.bin"),
        ],
        "promote": ["promote"],
    }[command]
    if flag == "--model":
        argv = [*argv, *store]
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'env.db'}"}
    env |= {"RIDE_DURATION_DASK_CONNECT_SECONDS": "0.5"}
    result = run_cli(*argv, *extra, f"{flag}={confined(text)}", env=env)
    check(result, (0, 2, 3))
