"""Save and load a model as a pair: ``<name>.bin`` (the pickled Pipeline) and
``<name>.json`` (its sidecar: what it was trained on, how well it does, the .bin's sha256).

Unpickling runs code, so ``load_model`` unpickles only a file whose sha256 its sidecar
vouches for. A crash at any instant leaves a pair that belongs together:

1. the new .bin is written to a temporary file beside it and flushed to disk;
2. the sidecar is replaced by the old sidecar plus a ``pending`` entry for the new .bin;
3. the new .bin is renamed over the old one (atomic);
4. the sidecar is replaced by the new one.

Each step is atomic, and after each one the sidecar describes the .bin on disk (after 3,
through its ``pending`` entry), so the pair on disk is always the old model or the new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import stat
from pathlib import Path

from ..errors import ModelFileError
from ..files import (
    atomic_write,
    file_lock,
    fsync_dir,
    remove_stale_temps,
    sha256_file,
    write_temp,
)

PENDING = "pending"


def sidecar_path(bin_path: Path) -> Path:
    return Path(bin_path).with_suffix(".json")


def _json_bytes(document: dict) -> bytes:
    # allow_nan=False: NaN and Infinity are not JSON; a metric that is one is a bug upstream.
    return (json.dumps(document, indent=2, allow_nan=False) + "\n").encode()


MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# The longest file made for a name: .<name>.json.XXXXXXXX.tmp (a temporary sidecar).
NAME_OVERHEAD = len("..json.XXXXXXXX.tmp")


def check_model_name(folder: Path, name: str) -> None:
    """Refuse a model name that is not a plain file name or that the folder's file system
    cannot hold (with the suffixes of its temporary files), before any work is done."""
    if not MODEL_NAME.fullmatch(name):
        raise ModelFileError(
            f"--name {name!r}: use letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    if len(name.encode()) + NAME_OVERHEAD > limit:
        raise ModelFileError(
            f"--name is {len(name)} characters long; {folder} holds file names of at most "
            f"{limit - NAME_OVERHEAD} characters here"
        )


def check_model_dir(folder: Path) -> None:
    """Say now why the model folder could not be made or written, without making it (a run
    refused later leaves nothing behind)."""
    above = Path(folder).absolute()
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise ModelFileError(f"{folder}: cannot create the model directory ({above} is a file)")
    if not os.access(above, os.W_OK | os.X_OK):
        what = "model directory" if above == Path(folder).absolute() else f"folder {above}"
        raise ModelFileError(f"{folder}: the {what} is not writable")


def prepare_model_dir(folder: Path) -> None:
    """Create the model folder, or say why it cannot be used."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelFileError(
            f"{folder}: cannot create the model directory ({exc.strerror})"
        ) from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ModelFileError(f"{folder}: the model directory is not writable")


def save_model(model, metadata: dict, model_dir: Path, name: str) -> Path:
    """Pickle ``model`` to ``<model_dir>/<name>.bin`` with its sidecar; return the .bin path."""
    data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    return save_bytes(data, metadata, model_dir, name)


def save_bytes(data: bytes, metadata: dict, model_dir: Path, name: str) -> Path:
    """Write an already pickled model as ``<model_dir>/<name>.bin`` with its sidecar."""
    folder = Path(model_dir)
    prepare_model_dir(folder)
    check_model_name(folder, name)
    bin_path = folder / f"{name}.bin"
    metadata = {**metadata, "bin_sha256": hashlib.sha256(data).hexdigest(), "bin_size": len(data)}
    try:
        # Concurrent saves of one name queue here: each one's steps run whole, so the pair on
        # disk is always one model and the sidecar that vouches for it.
        with file_lock(bin_path):
            _save_locked(data, metadata, folder, bin_path)
    except OSError as exc:
        raise ModelFileError(f"{folder}: cannot write the model ({exc.strerror or exc})") from exc
    return bin_path


def _save_locked(data: bytes, metadata: dict, folder: Path, bin_path: Path) -> None:
    side_path = sidecar_path(bin_path)
    remove_stale_temps(folder, bin_path.name)
    remove_stale_temps(folder, side_path.name)
    temp_bin = write_temp(folder, bin_path.name, data)
    try:
        old = _read_sidecar(side_path) if bin_path.exists() and side_path.exists() else None
        if old is not None:
            old.pop(PENDING, None)
            atomic_write(side_path, _json_bytes({**old, PENDING: metadata}))
        os.replace(temp_bin, bin_path)
    except BaseException:
        temp_bin.unlink(missing_ok=True)
        raise
    fsync_dir(folder)
    atomic_write(side_path, _json_bytes(metadata))


def _read_sidecar(path: Path) -> dict | None:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def read_metadata(bin_path: Path, data: bytes | None = None) -> dict:
    """The sidecar entry that vouches for this .bin (whose bytes are ``data`` if given);
    refuses a .bin that no sidecar vouches for."""
    bin_path = Path(bin_path)
    if bin_path.is_dir():
        raise ModelFileError(f"{bin_path}: is a folder, not a model file")
    if bin_path.exists() and not bin_path.is_file():
        raise ModelFileError(f"{bin_path}: is not a regular file, not a model file")
    if not bin_path.is_file():
        raise ModelFileError(f"{bin_path}: model file not found")
    side_path = sidecar_path(bin_path)
    if not side_path.is_file():
        raise ModelFileError(
            f"{bin_path}: its sidecar {side_path.name} is missing, so the file cannot be "
            "verified; retrain with `ride-duration train`"
        )
    document = _read_sidecar(side_path)
    if document is None:
        raise ModelFileError(f"{side_path}: the sidecar is not valid JSON")
    actual = hashlib.sha256(data).hexdigest() if data is not None else sha256_file(bin_path)
    for entry in (document, document.get(PENDING)):
        if isinstance(entry, dict) and entry.get("bin_sha256") == actual:
            return {k: v for k, v in entry.items() if k != PENDING}
    raise ModelFileError(
        f"{bin_path}: sha256 {actual[:12]}… does not match its sidecar "
        f"({str(document.get('bin_sha256'))[:12]}…); the file was changed or corrupted, "
        "retrain with `ride-duration train`"
    )


def model_version(metadata: dict, bin_path: Path) -> str:
    """A saved model's version, as the service and batch predictions report it: its name and
    the first 12 hex digits of the .bin's sha256."""
    return f"{metadata.get('name', Path(bin_path).stem)}-{metadata['bin_sha256'][:12]}"


def load_model(bin_path: Path | str):
    """Unpickle a model written by ``save_model``, after checking it against its sidecar.
    Only the classes a saved pipeline is made of are unpickled (``ModelUnpickler``), so even
    a file its sidecar vouches for cannot run other code."""
    bin_path = Path(bin_path)
    data = read_model_bytes(bin_path)
    read_metadata(bin_path, data)
    return unpickle_model(data, bin_path)


def read_model_bytes(bin_path: Path) -> bytes:
    """The bytes of a model file; a folder, a FIFO or a device is refused without waiting on
    it (opened non-blocking, checked to be a regular file before reading)."""
    try:
        fd = os.open(bin_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ModelFileError(f"{bin_path}: model file not found") from None
    except IsADirectoryError:
        raise ModelFileError(f"{bin_path}: is a folder, not a model file") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise ModelFileError(f"{bin_path}: is {kind}, not a model file")
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


# What the pickle of a saved pipeline refers to besides estimator classes: NumPy's array and
# scalar reconstruction.
NUMPY_GLOBALS = {
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
}


class ModelUnpickler(pickle.Unpickler):
    """Unpickles scikit-learn estimators (and this package's), NumPy arrays, dtypes and
    scalars; refuses every other global, so a pickle that calls anything else never runs."""

    def find_class(self, module: str, name: str):
        import numpy as np

        if (module, name) in NUMPY_GLOBALS:
            return super().find_class(module, name)
        if module.split(".")[0] in ("sklearn", "ride_duration", "numpy"):
            found = super().find_class(module, name)
            if isinstance(found, type) and _is_model_class(found, np):
                return found
        raise pickle.UnpicklingError(
            f"it refers to {module}.{name}, which a ride-duration model never holds"
        )


def _is_model_class(cls: type, np) -> bool:
    from sklearn.base import BaseEstimator

    return issubclass(cls, (BaseEstimator, np.generic)) or cls.__module__ == "numpy.dtypes"


def unpickle_model(data: bytes, bin_path: Path):
    """The Pipeline in ``data``; anything else (a truncated or foreign pickle) is refused."""
    import io

    from sklearn.pipeline import Pipeline

    try:
        model = ModelUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # truncated or corrupt pickles raise many types
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelFileError(
            f"{bin_path}: not a loadable ride-duration model ({detail}); retrain with "
            "`ride-duration train`"
        ) from None
    if not isinstance(model, Pipeline) or not hasattr(model[-1], "predict"):
        raise ModelFileError(
            f"{bin_path}: holds a {type(model).__name__}, not a ride-duration model pipeline; "
            "retrain with `ride-duration train`"
        )
    return model
