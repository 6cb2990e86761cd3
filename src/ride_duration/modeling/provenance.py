"""Where a trained model comes from: the inputs' sha256, the library versions, and the sidecar
that records them with the model's metrics."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import CHECKOUT, PLAUSIBLE_MILES
from ..data.manifest import MANIFEST_FILE, manifest_sha256
from ..data.months import parse_months
from ..features import feature_set
from ..files import sha256_file
from .estimators import regressor

if TYPE_CHECKING:
    from .model import Model
    from .options import TrainOptions

LIBRARIES = ("numpy", "scipy", "pandas", "pyarrow", "scikit-learn")


def input_record(path: Path, notes: list[str]) -> dict:
    digest = sha256_file(path)
    recorded = manifest_sha256(path)
    if recorded and recorded != digest:
        notes.append(
            f"{path} differs from the file downloaded on record (data/{MANIFEST_FILE}); "
            "check it with `ride-duration download --verify`"
        )
    return {"file": path.name, "size": path.stat().st_size, "sha256": digest}


def library_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def model_metadata(options: TrainOptions, model: Model, metrics, reports, inputs) -> dict:
    """The sidecar of a trained model: what it was trained on, how, and how well it does."""
    spec = regressor(options.model)
    features = {
        "set": options.features,
        "categorical": list(feature_set(options.features).categorical),
        "numerical": model.numerical,
    }
    if model.distance_median is not None:
        features |= {"distance_median": model.distance_median, "distance_cap": PLAUSIBLE_MILES}
    intervals = {"intervals": model.intervals.as_dict()} if model.intervals else {}
    return {
        "format": 1,
        "name": options.name,
        "taxi": options.taxi,
        "train_month": options.train_month,
        "val_month": options.val_month,
        "train_months": parse_months(options.train_month),
        "val_months": parse_months(options.val_month),
        "features": features,
        "model": {
            "kind": options.model,
            "class": spec.sklearn_class,
            "params": {"alpha": options.alpha} if options.alpha is not None else {},
            "solver": spec.solver,
        },
        "metrics": metrics,
        "rows": reports,
        "inputs": inputs,
        "versions": library_versions(),
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
    } | intervals


def git_commit(root: Path | None = CHECKOUT) -> str | None:
    """The checkout's commit (with '-dirty' when files differ from it), or None outside git."""
    if root is None:
        return None
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "") if commit else None
