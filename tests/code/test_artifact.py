"""Model files: the sidecar vouches for the .bin, and no crash leaves a mismatched pair."""

import json
import pickle

import pytest

from ride_duration import load_model, read_metadata
from ride_duration.errors import ModelFileError
from ride_duration.modeling import artifact
from ride_duration.modeling.artifact import save_model
from tests.helpers import leftovers


def test_round_trip(tmp_path):
    path = save_model({"weights": [1, 2]}, {"taxi": "green"}, tmp_path, "m")
    assert path == tmp_path / "m.bin"
    assert load_model(path) == {"weights": [1, 2]}
    meta = read_metadata(path)
    assert meta["taxi"] == "green" and len(meta["bin_sha256"]) == 64
    assert leftovers(tmp_path) == ["m.bin", "m.json"]


def test_tampered_bin_is_refused(tmp_path):
    path = save_model([1], {}, tmp_path, "m")
    path.write_bytes(pickle.dumps([2]))
    with pytest.raises(ModelFileError, match="does not match"):
        load_model(path)


def test_missing_sidecar_is_refused(tmp_path):
    path = save_model([1], {}, tmp_path, "m")
    (tmp_path / "m.json").unlink()
    with pytest.raises(ModelFileError, match="sidecar"):
        load_model(path)


def test_missing_bin_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "nope.bin")


class Crash(Exception):
    pass


@pytest.mark.parametrize("crash_at_call", [1, 2, 3])
def test_a_crash_at_any_step_leaves_a_matching_pair(tmp_path, monkeypatch, crash_at_call):
    """Interrupt save at each rename: the pair on disk must load as the old or the new model."""
    path = save_model("old", {"v": "old"}, tmp_path, "m")
    real_replace = artifact.os.replace
    calls = {"n": 0}

    def crashing_replace(src, dst):
        calls["n"] += 1
        if calls["n"] == crash_at_call:
            raise Crash
        return real_replace(src, dst)

    monkeypatch.setattr(artifact.os, "replace", crashing_replace)
    with pytest.raises(Crash):
        save_model("new", {"v": "new"}, tmp_path, "m")
    monkeypatch.undo()
    loaded = load_model(path)
    assert loaded in ("old", "new")
    assert read_metadata(path)["v"] == loaded
    # The next save cleans up whatever the crash left and works.
    save_model("newer", {"v": "newer"}, tmp_path, "m")
    assert load_model(path) == "newer"
    assert leftovers(tmp_path) == ["m.bin", "m.json"]
    assert "pending" not in json.loads((tmp_path / "m.json").read_text())


def test_files_get_ordinary_permissions(tmp_path):
    path = save_model([1], {}, tmp_path, "m")
    assert path.stat().st_mode & 0o044 == 0o044


def test_unwritable_model_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ModelFileError, match="cannot create"):
        save_model([1], {}, blocker / "models", "m")
