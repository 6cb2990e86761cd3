"""A tracking store per module: a SQLite file in a temp folder (MLflow's embedded default),
with the lesson months copied beside it."""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import LESSON_MONTHS, copy_months, run_cli

pytest.importorskip("mlflow", reason="MLflow is not installed: pip install -e '.[mlflow]'")


@dataclass
class Project:
    root: Path
    data: Path
    models: Path
    uri: str

    def cli(self, *args: str, timeout: float = 600):
        """The real CLI, with this project's folders and tracking store."""
        return run_cli(*args, env={"MLFLOW_TRACKING_URI": self.uri}, timeout=timeout)

    def train(self, *args: str) -> dict:
        result = self.cli(
            "train",
            "--offline",
            "--quiet",
            "--json",
            "--data-dir",
            str(self.data),
            "--model-dir",
            str(self.models),
            *args,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)


def new_project(root: Path, tlc_dir: Path, *files: str) -> Project:
    data = copy_months(tlc_dir, root / "data", *LESSON_MONTHS, *files)
    return Project(root, data, root / "models", f"sqlite:///{root / 'mlflow.db'}")


@pytest.fixture(scope="module")
def project(tlc_dir, tmp_path_factory) -> Project:
    return new_project(tmp_path_factory.mktemp("operate"), tlc_dir)
