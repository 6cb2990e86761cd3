"""The notebooks run top to bottom on real months, twice over, and agree with the CLI."""

import copy
import json

import nbformat
import pytest

from ride_duration.config import NOTEBOOKS_DIR
from tests.helpers import copy_months, run_cli

LESSON = NOTEBOOKS_DIR / "duration_prediction.ipynb"
HOMEWORK = NOTEBOOKS_DIR / "Homework_week1.ipynb"
HOMEWORK_MONTHS = ("green_tripdata_2023-01.parquet", "green_tripdata_2023-02.parquet")


@pytest.mark.parametrize("path", [LESSON, HOMEWORK], ids=lambda p: p.name)
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("path", [LESSON, HOMEWORK], ids=lambda p: p.name)
def test_has_a_parameters_cell(path):
    notebook = nbformat.read(path, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "data_dir" in tagged[0].source


def parameterize(path, parameters):
    import papermill

    return papermill.execute_notebook(
        str(path),
        None,
        parameters=parameters,
        prepare_only=True,
        kernel_name="python3",
        progress_bar=False,
    )


def run_with_papermill(path, parameters, root):
    """Execute a notebook the way users and CI do: papermill, with its parameters injected."""
    import papermill

    return papermill.execute_notebook(
        str(path),
        str(root / f"executed-{path.name}"),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(root),
        progress_bar=False,
    )


def execute(notebook, cwd):
    from nbclient import NotebookClient

    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return notebook


def text_outputs(cell) -> list[str]:
    texts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            texts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            texts.append(output.get("data", {}).get("text/plain", ""))
        elif output.output_type == "error":
            texts.append(f"ERROR {output.ename}: {output.evalue}")
    return texts


def answers_of(notebook) -> dict:
    cell = next(c for c in notebook.cells if "answers" in c.metadata.get("tags", []))
    return json.loads("".join(o.text for o in cell.outputs if o.output_type == "stream"))


def run_twice_per_cell(notebook, cwd):
    """Execute every code cell twice in a row; return (first, second) output pairs."""
    doubled = copy.deepcopy(notebook)
    cells = []
    for cell in notebook.cells:
        cells.append(copy.deepcopy(cell))
        if cell.cell_type == "code":
            cells.append(copy.deepcopy(cell))
    doubled.cells = cells
    execute(doubled, cwd)
    pairs, index = [], 0
    while index < len(doubled.cells):
        cell = doubled.cells[index]
        if cell.cell_type == "code":
            pairs.append((text_outputs(cell), text_outputs(doubled.cells[index + 1])))
            index += 2
        else:
            index += 1
    return doubled, pairs


@pytest.fixture(scope="module")
def lesson_dirs(tlc_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("lesson-nb")
    copy_months(
        tlc_dir, root / "data", "green_tripdata_2021-01.parquet", "green_tripdata_2021-02.parquet"
    )
    return root


@pytest.fixture(scope="module")
def homework_dirs(tlc_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("homework-nb")
    copy_months(tlc_dir, root / "data", *HOMEWORK_MONTHS)
    return root


def lesson_parameters(root):
    return {"data_dir": str(root / "data"), "model_dir": str(root / "models"), "offline": True}


def homework_parameters(root):
    return {
        "taxi": "green",
        "train_month": "2023-01",
        "val_month": "2023-02",
        "data_dir": str(root / "data"),
        "offline": True,
    }


def test_lesson_notebook_runs_and_saves_a_model(lesson_dirs):
    notebook = run_with_papermill(LESSON, lesson_parameters(lesson_dirs), lesson_dirs)
    outputs = "\n".join("\n".join(text_outputs(c)) for c in notebook.cells)
    assert "ERROR" not in outputs
    assert (lesson_dirs / "models/lin_reg.bin").is_file()
    assert "4.6407" in outputs and "7.4808" in outputs  # exact fit's train/val RMSE
    assert any(
        "image/png" in o.get("data", {}) for c in notebook.cells for o in c.get("outputs", [])
    )


def test_homework_notebook_equals_the_cli(homework_dirs):
    notebook = run_with_papermill(HOMEWORK, homework_parameters(homework_dirs), homework_dirs)
    from_notebook = answers_of(notebook)
    cli = run_cli(
        "homework",
        "--json",
        "--offline",
        "--taxi",
        "green",
        "--train",
        "2023-01",
        "--val",
        "2023-02",
        "--data-dir",
        str(homework_dirs / "data"),
    )
    assert cli.returncode == 0, cli.stderr
    assert from_notebook == json.loads(cli.stdout)
    assert from_notebook["columns"] == 20


@pytest.mark.parametrize(
    ("path", "dirs", "parameters"),
    [(LESSON, "lesson_dirs", lesson_parameters), (HOMEWORK, "homework_dirs", homework_parameters)],
    ids=["lesson", "homework"],
)
def test_every_cell_can_be_rerun(request, path, dirs, parameters):
    root = request.getfixturevalue(dirs)
    notebook = parameterize(path, parameters(root))
    once = execute(copy.deepcopy(notebook), root)
    twice, pairs = run_twice_per_cell(notebook, root)
    for first, second in pairs:
        assert not any(t.startswith("ERROR") for t in first + second), first + second
        assert first == second
    once_texts = [text_outputs(c) for c in once.cells if c.cell_type == "code"]
    assert once_texts == [second for _, second in pairs]
    if path == HOMEWORK:
        assert answers_of(once) == answers_of(twice)
