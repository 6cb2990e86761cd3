"""``data/MANIFEST.json``: what was downloaded, from where and when, with each file's sha256,
so that ``download --verify`` can recheck the folder and training can notice a changed file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from ..errors import DataError
from ..files import atomic_write, file_lock, sha256_file
from .months import month_of_file
from .reading import validate_month_file
from .zones import validate_zones_file

MANIFEST_FILE = "MANIFEST.json"
ZONES_FILE = "taxi_zone_lookup.csv"


class ManifestError(DataError):
    """The manifest cannot be read, or the record of a download cannot be written."""


def read_manifest(data_dir: Path) -> dict:
    path = Path(data_dir) / MANIFEST_FILE
    if not path.is_file():
        return {"files": {}}
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    files = document.setdefault("files", {}) if isinstance(document, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        raise DataError(
            f'{path}: not a download manifest (it should be {{"files": {{name: {{...}}}}}}); '
            "fix it, or delete it to start a new record"
        )
    return document


def record_download(path: Path, url: str) -> None:
    """Note a downloaded file's sha256, size, URL and time in ``data/MANIFEST.json``, under
    the manifest's lock, so that concurrent downloads do not lose each other's entries."""
    entry = {
        "sha256": sha256_file(path),
        "size": path.stat().st_size,
        "url": url,
        "downloaded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    manifest_path = path.parent / MANIFEST_FILE
    with file_lock(manifest_path):
        manifest = read_manifest(path.parent)
        manifest["files"][path.name] = entry
        try:
            atomic_write(manifest_path, (json.dumps(manifest, indent=2) + "\n").encode())
        except OSError as exc:
            raise ManifestError(
                f"{manifest_path}: cannot record the download ({exc.strerror}); {path} is "
                "complete, rerun to record it"
            ) from None


def verify(data_dir: Path) -> list[tuple[str, str]]:
    """Recheck every file the manifest lists: (name, "ok" | "missing" | "changed" | "corrupt")."""
    results = []
    for name, entry in sorted(read_manifest(data_dir)["files"].items()):
        path = Path(data_dir) / name
        if not path.is_file():
            status = "missing"
        elif path.stat().st_size != entry.get("size") or sha256_file(path) != entry.get("sha256"):
            status = "changed"
        else:
            status = "ok"
            try:
                if name == ZONES_FILE:
                    validate_zones_file(path)
                elif found := month_of_file(name):
                    validate_month_file(path, found[0])
            except DataError:
                status = "corrupt"
        results.append((name, status))
    return results


def manifest_sha256(path: Path) -> str | None:
    """The sha256 the manifest recorded for a downloaded file, if any."""
    return read_manifest(Path(path).parent)["files"].get(Path(path).name, {}).get("sha256")
