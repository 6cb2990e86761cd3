"""The README and the environment guide: links resolve, figures regenerate byte for byte."""

import json
import re
import struct

import pytest

from tests.helpers import REPO
from tools import diagrams

DOCS = ["README.md", "env_configuration.md"]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("doc", DOCS)
def test_relative_links_and_images_resolve(doc):
    text = (REPO / doc).read_text()
    anchors = {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}
    targets = LINK.findall(text)
    assert targets
    for target in targets:
        if target.startswith(("http://", "https://")):
            continue
        path, _, fragment = target.partition("#")
        if path:
            assert (REPO / path).exists(), f"{doc}: {target} does not exist"
        elif fragment:
            assert fragment in anchors, f"{doc}: no heading for #{fragment}"


def test_readme_gives_the_two_commands_first():
    text = (REPO / "README.md").read_text()
    quickstart = text.split("## Quickstart", 1)[1].split("##", 1)[0]
    assert "make train" in quickstart and "make test" in quickstart
    assert "make test" in (REPO / ".ci/run").read_text()


def test_devcontainer_parses_and_what_it_names_exists():
    config = json.loads((REPO / ".devcontainer/devcontainer.json").read_text())
    assert re.search(r":\d", config["image"]), "the image must be pinned to a version"
    # Jupyter, the MLflow UI (make mlflow-ui) and the service (ride-duration serve).
    assert {4200, 5000, 8888, 9696} <= set(config["forwardPorts"])
    extensions = config["customizations"]["vscode"]["extensions"]
    assert {"ms-python.python", "ms-toolsai.jupyter"} <= set(extensions)
    makefile = (REPO / "Makefile").read_text()
    for command in (config["updateContentCommand"], config["postCreateCommand"]):
        for word in command.split():
            if word.startswith("make"):
                continue
            if word in re.findall(r"^([\w-]+):", makefile, re.M):
                continue
            if "/" in word or word.endswith((".txt", ".toml", ".py")):
                root = word.split("/", 1)[0]
                assert root == ".venv" or (REPO / word).exists(), word
        if command.startswith("make "):
            target = command.split()[1]
            assert re.search(rf"^{re.escape(target)}:", makefile, re.M), target


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_images_are_byte_for_byte_reproducible(tmp_path):
    first = {p.name: p.read_bytes() for p in diagrams.draw_all(tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in diagrams.draw_all(tmp_path / "b")}
    assert first == second
    expected = {"mlops_pipeline.png", "ride_duration_problem.png", "mlops_maturity_models.png"}
    expected |= {f"mlops_level{n}.png" for n in range(5)}
    assert set(first) == expected
    for name, data in first.items():
        width, _ = png_size(data)
        assert width >= 600, name
        assert b"Software" not in data and b"Creation Time" not in data
        # The committed figures are exactly what `make images` draws.
        assert ((REPO / "images") / name).read_bytes() == data, (
            f"images/{name} is stale: make images"
        )


def test_result_plots_are_committed():
    for name in ("duration_distribution.png", "prediction_vs_actual.png"):
        width, _ = png_size(((REPO / "images") / name).read_bytes())
        assert width >= 600


def test_make_mlflow_ui_serves_the_projects_store_on_loopback():
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("\nmlflow-ui:", 1)[1].split("\n\n", 1)[0]
    assert "mlflow server --backend-store-uri sqlite:///$(CURDIR)/mlflow.db" in recipe
    assert "--host 127.0.0.1 --port 5000" in recipe


def test_the_maturity_section_says_what_each_level_takes():
    text = (REPO / "README.md").read_text()
    stands = text.split("**Where this project stands", 1)[1].split("## Project layout", 1)[0]
    for command in (
        "train --track --register",
        "promote",
        "monitor",
        "retrain --month",
        "loop serve",
        "make orchestrate",
    ):
        assert command in stands, command
    assert stands.count("Missing:") == 2
    assert "images/retrain_backfill.png" in text
