"""Builders for tiny hand-made trip frames and files."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import shutil
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from ride_duration.config import SHARED_TLC_ENV

# The checkout the tests run in (not config.PROJECT_ROOT, which RIDE_DURATION_HOME may move).
REPO = Path(__file__).resolve().parents[1]

LESSON_MONTHS = ("green_tripdata_2021-01.parquet", "green_tripdata_2021-02.parquet")


def tlc_candidates() -> list[Path]:
    """Where the real months may be: the folder named by the environment, or else the shared
    folder beside the project and then the project's own data/ (after `make data`)."""
    configured = os.environ.get(SHARED_TLC_ENV)
    names = [configured] if configured else ["../shared/data/tlc", "data"]
    return [p if p.is_absolute() else (REPO / p).resolve() for p in map(Path, names)]


def missing_files_reason(names, folder: Path | None) -> str:
    looked = str(folder) if folder else ", ".join(str(p) for p in tlc_candidates())
    return (
        f"real TLC files not found: {', '.join(names)} (looked in {looked}); "
        f"run `make data` or set {SHARED_TLC_ENV} to their folder"
    )


def require_tlc_files(folder: Path, *names: str) -> Path:
    """Skip, naming every missing file and the folder, unless ``folder`` holds all ``names``."""
    missing = [name for name in names if not (Path(folder) / name).is_file()]
    if missing:
        pytest.skip(missing_files_reason(missing, Path(folder)))
    return Path(folder)


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 1) -> dt.datetime:
    return dt.datetime(2021, month, day, hour, minute, second)


def trips(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (pickup, dropoff, PU, DO, distance) as a normalised month frame."""
    frame = pd.DataFrame(
        rows,
        columns=[
            "pickup_datetime",
            "dropoff_datetime",
            "PULocationID",
            "DOLocationID",
            "trip_distance",
        ],
    )
    for column in ("pickup_datetime", "dropoff_datetime"):
        frame[column] = frame[column].astype("datetime64[us]")
    return frame


def copy_months(source: Path, target: Path, *names: str) -> Path:
    require_tlc_files(source, *names)
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(source / name, target / name)
    return target


def assert_clean_failure(result, *fragments):
    """Exit code 2, one or two lines on stderr holding each fragment, no traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, lines
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def leftovers(folder: Path) -> list[str]:
    """What a run left in a folder, hidden temporary files included; lock files (which stay,
    by design: removing one while another process waits on it would break the lock) aside."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


@dataclass
class Ran:
    """What a command left: its exit code and what it printed (as subprocess.run's result)."""

    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def environment(changes: dict | None):
    """``os.environ`` with ``changes`` (a value of None removes the variable), restored after."""
    saved = dict(os.environ)
    for key, value in (changes or {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_cli(*args: str, env: dict | None = None, timeout: float = 300, process: bool = False):
    """Run the real CLI as a user would: ``main(argv)`` in this process (its exit code, stdout
    and stderr captured; an uncaught exception is exit 1 with its traceback on stderr, as the
    console script would print it), or with ``process=True`` as ``python -m ride_duration`` in
    a subprocess, for what only a process shows (signals, exit codes of the interpreter, locks
    between processes, libraries' own logging)."""
    if process:
        return subprocess.run(
            [sys.executable, "-m", "ride_duration", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **{k: v for k, v in (env or {}).items() if v is not None}},
        )
    from ride_duration.cli import main

    out, err = io.StringIO(), io.StringIO()
    with environment(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's --help and usage errors
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception:
            traceback.print_exc()
            code = 1
    return Ran(code, out.getvalue(), err.getvalue())


def train_with_cli(data: Path, models: Path, *feature_sets: str, named: bool = False) -> None:
    """Train one model per feature set through the real CLI, under its default name (or
    named after its feature set)."""
    for feature_set in feature_sets:
        name = ["--name", feature_set] if named else []
        result = run_cli(
            "train",
            "--offline",
            "--quiet",
            "--features",
            feature_set,
            *name,
            "--data-dir",
            str(data),
            "--model-dir",
            str(models),
        )
        assert result.returncode == 0, result.stderr


def write_green(folder: Path, month: str, rides: list[tuple], **overrides) -> Path:
    """A tiny green-taxi parquet file: rides are (pickup, dropoff, PU, DO, distance)."""
    return write_month(folder, "green", month, rides, **overrides)


def write_month(folder: Path, taxi: str, month: str, rides: list[tuple], **overrides) -> Path:
    """A tiny parquet file of a green or yellow month (their timestamps are lpep_* and
    tpep_*): rides are (pickup, dropoff, PU, DO, distance)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    prefix = {"green": "lpep", "yellow": "tpep"}[taxi]
    columns = {
        "VendorID": [2] * len(rides),
        f"{prefix}_pickup_datetime": pa.array([r[0] for r in rides], pa.timestamp("us")),
        f"{prefix}_dropoff_datetime": pa.array([r[1] for r in rides], pa.timestamp("us")),
        "PULocationID": pa.array([r[2] for r in rides], pa.int64()),
        "DOLocationID": pa.array([r[3] for r in rides], pa.int64()),
        "trip_distance": pa.array([r[4] for r in rides], pa.float64()),
    }
    columns.update(overrides)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{taxi}_tripdata_{month}.parquet"
    pq.write_table(pa.table(columns), path)
    return path


def simple_rides(month: int = 1, n: int = 40) -> list[tuple]:
    """n valid rides between a few zones, durations growing with distance."""
    rides = []
    for i in range(n):
        start = dt.datetime(2021, month, 1 + i % 27, 8 + i % 10)
        minutes = 3 + (i % 7) * 4
        rides.append(
            (
                start,
                start + dt.timedelta(minutes=minutes),
                1 + i % 3,
                4 + i % 2,
                0.5 + (i % 7) * 1.1,
            )
        )
    return rides


def to_dicts(frame: pd.DataFrame, categorical: list[str], numerical: list[str]) -> list[dict]:
    """The course's representation: one dict per ride (slow; for small inputs and checks)."""
    columns = {c: frame[c].astype(object).tolist() for c in categorical}
    columns |= {c: frame[c].astype("float64").tolist() for c in numerical}
    names = list(columns)
    return [dict(zip(names, row)) for row in zip(*columns.values())]


def fit_vectorizer(frame: pd.DataFrame, categorical: list[str], numerical: list[str]):
    """Our DictVectorizer for these columns, fitted from integer codes (the package's way)."""
    from ride_duration.features import fit_feature_names
    from ride_duration.modeling.estimators import fitted_vectorizer

    return fitted_vectorizer(fit_feature_names(frame, categorical, numerical))


def fit_exact(design, y):
    """A LinearRegression holding the exact minimum-norm least-squares solution."""
    from ride_duration.modeling.estimators import fitted_regressor
    from ride_duration.modeling.solver import solve_exact

    return fitted_regressor("linear", *solve_exact(design, y), None)


def assert_matches_dictvectorizer(train, val, feature_set: str):
    """Our featurisation of train and val is DictVectorizer's, entry for entry; returns the
    (train, val) matrices."""
    import numpy as np
    from sklearn.feature_extraction import DictVectorizer

    from ride_duration.features import feature_columns, transform

    categorical, numerical = feature_columns(feature_set, train)
    reference = DictVectorizer()
    expected = reference.fit_transform(to_dicts(train, categorical, numerical))
    expected_val = reference.transform(to_dicts(val, categorical, numerical))
    ours = fit_vectorizer(train, categorical, numerical)
    assert ours.feature_names_ == reference.feature_names_
    assert ours.vocabulary_ == reference.vocabulary_
    matrices = (
        transform(ours, train, categorical, numerical).matrix,
        transform(ours, val, categorical, numerical).matrix,
    )
    for got, want in zip(matrices, (expected, expected_val)):
        assert got.shape == want.shape
        assert got.indices.dtype == np.int32  # what Lasso needs
        np.testing.assert_array_equal(got.indptr, want.indptr)
        np.testing.assert_array_equal(got.indices, want.indices)
        np.testing.assert_array_equal(got.data, want.data)
    # The fitted vectorizer works on dicts, as the saved pipeline will call it.
    assert (ours.transform(to_dicts(val, categorical, numerical)) != matrices[1]).nnz == 0
    return matrices


def without_overriding_file_modes(command: list[str]) -> list[str]:
    """``command`` run without the capabilities that let root write (or read) what a file's
    mode forbids: a read-only file or folder is then read-only for root's process too. Needs
    capsh (Debian's libcap2-bin); for another user, the command as it is."""
    if os.geteuid() != 0:
        return command
    drop = "cap_dac_override,cap_dac_read_search"
    return ["capsh", f"--drop={drop}", "--", "-c", 'exec "$0" "$@"', *command]


needs_capsh_as_root = pytest.mark.skipif(
    os.geteuid() == 0 and shutil.which("capsh") is None,
    reason="as root, a read-only file is tested by dropping capabilities with capsh (Debian's "
    "libcap2-bin), which is absent",
)
