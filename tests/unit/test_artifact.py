"""Model files: the sidecar vouches for the .bin, and no crash leaves a mismatched pair."""

import json
import pickle

import pytest

from ride_duration import load_model, read_metadata
from ride_duration.errors import ModelFileError
from ride_duration.modeling import artifact
from ride_duration.modeling.artifact import save_model
from tests.helpers import leftovers


def model(weight: float):
    """A tiny real pipeline whose one prediction, for {"x": 1}, is ``weight``."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(DictVectorizer(), LinearRegression()).fit(
        [{"x": 0.0}, {"x": 1.0}], [0.0, weight]
    )


def answer(pipeline) -> float:
    return round(float(pipeline.predict([{"x": 1.0}])[0]), 6)


def test_round_trip(tmp_path):
    path = save_model(model(2.0), {"taxi": "green"}, tmp_path, "m")
    assert path == tmp_path / "m.bin"
    assert answer(load_model(path)) == 2.0
    meta = read_metadata(path)
    assert meta["taxi"] == "green" and len(meta["bin_sha256"]) == 64
    assert leftovers(tmp_path) == ["m.bin", "m.json"]


def test_tampered_bin_is_refused(tmp_path):
    path = save_model(model(1.0), {}, tmp_path, "m")
    path.write_bytes(pickle.dumps(model(2.0)))
    with pytest.raises(ModelFileError, match="does not match"):
        load_model(path)


def test_missing_sidecar_is_refused(tmp_path):
    path = save_model(model(1.0), {}, tmp_path, "m")
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
    path = save_model(model(1.0), {"v": 1.0}, tmp_path, "m")
    real_replace = artifact.os.replace
    calls = {"n": 0}

    def crashing_replace(src, dst):
        calls["n"] += 1
        if calls["n"] == crash_at_call:
            raise Crash
        return real_replace(src, dst)

    monkeypatch.setattr(artifact.os, "replace", crashing_replace)
    with pytest.raises(Crash):
        save_model(model(2.0), {"v": 2.0}, tmp_path, "m")
    monkeypatch.undo()
    loaded = answer(load_model(path))
    assert loaded in (1.0, 2.0)
    assert read_metadata(path)["v"] == loaded
    # The next save cleans up whatever the crash left and works.
    save_model(model(3.0), {"v": 3.0}, tmp_path, "m")
    assert answer(load_model(path)) == 3.0
    assert leftovers(tmp_path) == ["m.bin", "m.json"]
    assert "pending" not in json.loads((tmp_path / "m.json").read_text())


def test_files_get_ordinary_permissions(tmp_path):
    path = save_model(model(1.0), {}, tmp_path, "m")
    assert path.stat().st_mode & 0o044 == 0o044


def test_unwritable_model_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ModelFileError, match="cannot create"):
        save_model(model(1.0), {}, blocker / "models", "m")


class Runs:
    """A pickle that would run a command when loaded."""

    def __reduce__(self):
        import os

        return os.system, ("touch ran",)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (pickle.dumps(Runs()), "posix.system"),
        (pickle.dumps({"weights": [1, 2]}), "holds a dict"),
        (b"", "not a loadable"),
    ],
    ids=["a pickle that runs code", "a foreign object", "empty"],
)
def test_a_pickle_its_sidecar_vouches_for_is_still_checked(tmp_path, monkeypatch, data, fragment):
    """The sidecar vouches for the bytes, not for what they do: only the classes a pipeline
    is made of are unpickled, and only a pipeline is accepted."""
    import hashlib

    monkeypatch.chdir(tmp_path)
    path = save_model(model(1.0), {}, tmp_path, "m")
    side = json.loads((tmp_path / "m.json").read_text())
    side["bin_sha256"] = hashlib.sha256(data).hexdigest()
    path.write_bytes(data)
    (tmp_path / "m.json").write_text(json.dumps(side))
    with pytest.raises(ModelFileError, match=fragment):
        load_model(path)
    assert not (tmp_path / "ran").exists()


def test_a_truncated_pickle_is_refused(tmp_path):
    import hashlib

    path = save_model(model(1.0), {}, tmp_path, "m")
    data = path.read_bytes()[:200]
    side = json.loads((tmp_path / "m.json").read_text()) | {
        "bin_sha256": hashlib.sha256(data).hexdigest()
    }
    path.write_bytes(data)
    (tmp_path / "m.json").write_text(json.dumps(side))
    with pytest.raises(ModelFileError, match="not a loadable ride-duration model"):
        load_model(path)


def test_a_fifo_or_a_folder_is_refused_without_waiting(tmp_path):
    import os

    fifo = tmp_path / "fifo.bin"
    os.mkfifo(fifo)
    (tmp_path / "fifo.json").write_text("{}")
    with pytest.raises(ModelFileError, match="not a regular file"):
        load_model(fifo)
    (tmp_path / "dir.bin").mkdir()
    with pytest.raises(ModelFileError, match="is a folder"):
        load_model(tmp_path / "dir.bin")
