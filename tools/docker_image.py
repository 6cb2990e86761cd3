"""Build the service's image where a Docker daemon answers, for `make docker-test` and the
image tests (tests/image). Not part of the package.

- The Docker client: $DOCKER if set; else `docker` when it has buildx (BuildKit, which the
  Dockerfile's build secret needs); else Debian's own client, /usr/bin/docker, whose builder
  has BuildKit built in.
- The base: the Dockerfile's default (python:3.11.11-slim-bookworm) when it is present or can
  be pulled; else a local one made from Debian's packages with debootstrap and cached by tag
  (ride-duration-base:bookworm), for machines that reach no image registry.
- pip in the build gets the machine's CA bundle as a build secret (the `cert` that `pip config
  list` names, or $PIP_CERT), for networks behind a TLS-intercepting proxy; no layer keeps it.

    python tools/docker_image.py check    # exit 2, saying how to get a daemon, where none answers
    python tools/docker_image.py base     # the base image's name (made if needed)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCAL_BASE = "ride-duration-base:bookworm"
DEBIAN_MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
BASE_PACKAGES = "python3,python3-venv,python3-pip,ca-certificates"
NO_DAEMON = (
    "no Docker daemon answers (`docker info` fails): install one (Debian: `apt-get install -y "
    "docker.io`, then start `dockerd` as root; elsewhere Docker Desktop or Engine) and retry"
)


def run(*args: str, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)


def docker_client() -> str:
    if os.environ.get("DOCKER"):
        return os.environ["DOCKER"]
    docker = shutil.which("docker") or "docker"
    try:
        if run(docker, "buildx", "version", timeout=20).returncode == 0:
            return docker
    except (OSError, subprocess.TimeoutExpired):
        pass
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else docker


def daemon_problem(docker: str) -> str | None:
    """None when a daemon answers, else what to do."""
    try:
        answered = run(docker, "info", "--format", "{{.ServerVersion}}", timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return NO_DAEMON
    return None if answered.returncode == 0 and answered.stdout.strip() else NO_DAEMON


def default_base() -> str:
    match = re.search(r"^ARG BASE=(\S+)", (ROOT / "Dockerfile").read_text(), re.M)
    return match.group(1)


def has_image(docker: str, name: str) -> bool:
    return run(docker, "image", "inspect", name, timeout=30).returncode == 0


def base_image(docker: str) -> str:
    """The Dockerfile's default base if it is here or can be pulled, else the local one."""
    default = default_base()
    if has_image(docker, default):
        return default
    try:
        if run(docker, "pull", default, timeout=60).returncode == 0:
            return default
    except subprocess.TimeoutExpired:
        pass
    if not has_image(docker, LOCAL_BASE):
        make_local_base(docker)
    return LOCAL_BASE


def make_local_base(docker: str) -> None:
    """Debian bookworm from Debian's own packages (debootstrap, as root), imported as an image."""
    if not shutil.which("debootstrap"):
        raise RuntimeError(
            f"{default_base()} cannot be pulled and debootstrap is missing: apt-get install -y "
            "debootstrap (as root), or pull the base image on a networked machine"
        )
    with tempfile.TemporaryDirectory(prefix="ride-duration-base-") as folder:
        root = Path(folder) / "root"
        made = run(
            "debootstrap",
            "--variant=minbase",
            f"--include={BASE_PACKAGES}",
            "bookworm",
            str(root),
            DEBIAN_MIRROR,
            timeout=900,
        )
        if made.returncode != 0:
            raise RuntimeError(f"debootstrap failed: {made.stdout[-500:]}{made.stderr[-500:]}")
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [docker, "import", "-", LOCAL_BASE], stdin=tar.stdout, capture_output=True, timeout=600
        )
        tar.wait()
        if imported.returncode != 0:
            raise RuntimeError(f"docker import failed: {imported.stderr.decode()[-500:]}")


def pip_cert() -> str | None:
    """The CA bundle pip uses on this machine, if any."""
    if os.environ.get("PIP_CERT"):
        return os.environ["PIP_CERT"]
    listed = run(sys.executable, "-m", "pip", "config", "list", timeout=60).stdout
    match = re.search(r"^(?:global|install|:env:)\.cert='([^']+)'", listed, re.M)
    return match.group(1) if match and Path(match.group(1)).is_file() else None


def build(docker: str, context: Path, tag: str, base: str) -> subprocess.CompletedProcess:
    """docker build of ``context`` (a folder holding the Dockerfile and what it copies)."""
    cert = pip_cert()
    command = [docker, "build", "--network", "host", "--build-arg", f"BASE={base}", "-t", tag]
    if cert:
        command += ["--secret", f"id=ca,src={cert}"]
    return run(*command, str(context), timeout=1200, env=os.environ | {"DOCKER_BUILDKIT": "1"})


def main(argv: list[str]) -> int:
    docker = docker_client()
    if problem := daemon_problem(docker):
        print(f"docker-test: {problem}", file=sys.stderr)
        return 2
    if argv[1:] == ["base"]:
        print(base_image(docker))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
