"""The Dockerfile, read as text (the image itself is built and run in tests/image): what it
copies exists (or is what `make train` writes), its port and command match the CLI, it runs
as a non-root user with a health check on /health, and its base is a build argument."""

import re
import shlex

from ride_duration.cli import build_parser
from ride_duration.serving.options import DEFAULT_PORT, PORT_ENV, ServeOptions
from tests.helpers import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_a_pinned_slim_python_base_by_default():
    (kind, argument), (kind_from, image), *_ = instructions()
    assert kind == "ARG" and kind_from == "FROM" and image == "${BASE}"
    name, default = argument.split("=", 1)
    assert name == "BASE" and re.fullmatch(r"python:3\.\d+\.\d+-slim(-\w+)?", default), default


def test_what_it_copies_exists_or_is_made_by_make_train():
    made_by_train = {"models/lin_reg.bin", "models/lin_reg.json"}
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    for kind, rest in instructions():
        if kind != "COPY":
            continue
        *sources, _ = shlex.split(rest)
        for source in sources:
            assert source in made_by_train or (REPO / source).exists(), source
            assert f"!{source.rstrip('/')}" in [line.rstrip("/") for line in ignored], source


def test_port_and_command_match_the_cli():
    steps = dict(instructions())
    serve_defaults = build_parser().parse_args(["serve"])
    port = ServeOptions(port=serve_defaults.port).validated().port
    assert steps["EXPOSE"] == str(port) == "9696"
    command = shlex.split(steps["CMD"].replace('"', "").strip("[]").replace(",", " "))
    assert command[:2] == ["ride-duration", "serve"]
    args = build_parser().parse_args(command[1:])
    assert args.host == "0.0.0.0" and ServeOptions(port=args.port).validated().port == 9696
    assert str(args.model) == "models/lin_reg.bin"
    check = steps["HEALTHCHECK"]
    assert "/health" in check and PORT_ENV in check and f"'{DEFAULT_PORT}'" in check


def test_runs_as_a_non_root_user_with_pinned_requirements():
    steps = instructions()
    users = [rest for kind, rest in steps if kind == "USER"]
    assert users and users[-1] not in ("root", "0")
    installs = [rest for kind, rest in steps if kind == "RUN" and "pip install" in rest]
    assert any("-r requirements-runtime.txt" in rest for rest in installs)
    pins = (REPO / "requirements-runtime.txt").read_text().splitlines()
    for line in pins:
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[\w.-]+==[\w.]+(; .+)?", line), line
    assert any(line.startswith(("fastapi==", "uvicorn==")) for line in pins)


def test_make_docker_builds_this_dockerfile():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^docker:.*\n\tdocker build -t ride-duration", makefile, re.M)
