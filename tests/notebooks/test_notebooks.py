"""The notebooks run top to bottom on real months, twice over, and agree with the CLI."""

import copy
import json
import pickle
import re

import nbformat
import pytest

from tests.helpers import REPO, copy_months, run_cli

LESSON = (REPO / "notebooks") / "duration_prediction.ipynb"
HOMEWORK = (REPO / "notebooks") / "Homework_week1.ipynb"
OPERATE = (REPO / "notebooks") / "operate.ipynb"
PRACTICE = (REPO / "notebooks") / "Homework_week1_practice.ipynb"
HOMEWORK_MONTHS = ("green_tripdata_2023-01.parquet", "green_tripdata_2023-02.parquet")


@pytest.mark.parametrize("path", [LESSON, HOMEWORK, OPERATE, PRACTICE], ids=lambda p: p.name)
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("path", [LESSON, HOMEWORK, OPERATE, PRACTICE], ids=lambda p: p.name)
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
    """A cell's text outputs; consecutive stream chunks are joined, as the kernel may split
    one print into several."""
    texts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            if texts and texts[-1].startswith("STREAM "):
                texts[-1] += output.text
            else:
                texts.append(f"STREAM {output.text}")
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


def source(path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in notebook.cells if c.cell_type == "code")


def outputs_of(notebook) -> str:
    return "\n".join("\n".join(text_outputs(c)) for c in notebook.cells)


# The week-1 steps a learner is meant to see and change, in plain pandas and scikit-learn.
LESSON_STEPS = [
    "pd.read_parquet(",
    ".dt.total_seconds() / 60",
    '(df["duration"] >= 1) & (df["duration"] <= 60)',
    ".fillna(-1)",
    ".astype(str)",
    '["PU_DO"] = ',
    'to_dict(orient="records")',
    "DictVectorizer()",
    ".fit_transform(",
    ".transform(",
    "LinearRegression()",
    ".fit(",
    "root_mean_squared_error(",
    "Lasso(",
    "Ridge(",
    "pickle.dump(",
    "pickle.load(",
]
README_NUMBERS = [
    "73,908",  # training rides kept
    "61,921",  # validation rides kept
    "4.6407",  # exact fit, train RMSE
    "7.4808",  # exact fit, validation RMSE
    "5.6996",  # default solver, train RMSE
    "7.7587",  # default solver, validation RMSE
    "12.2131",  # predicting the training mean
    "0.00003",  # the lesson model's weight of a mile
    "5,257",  # validation rides on pairs never seen in training
    "62 training rides",  # rides of 1-60 minutes that claim over 100 miles
    "6.0638",  # rich, validation RMSE
]
HOMEWORK_STEPS = [
    "pd.read_parquet(",
    "len(df.columns)",
    ".std()",
    ".dt.total_seconds() / 60",
    ".mean()",
    "DictVectorizer()",
    "X_train.shape[1]",
    "LinearRegression()",
    "root_mean_squared_error(",
]


@pytest.mark.parametrize(
    ("path", "steps"),
    [(LESSON, LESSON_STEPS), (HOMEWORK, HOMEWORK_STEPS)],
    ids=["lesson", "homework"],
)
def test_the_plain_steps_are_in_view(path, steps):
    code = source(path)
    missing = [step for step in steps if step not in code]
    assert not missing, f"{path.name} does not show {missing}"


@pytest.fixture(scope="module")
def lesson_run(lesson_dirs):
    """The lesson notebook executed once with papermill, for the tests that read it."""
    return run_with_papermill(LESSON, lesson_parameters(lesson_dirs), lesson_dirs)


@pytest.fixture(scope="module")
def homework_run(homework_dirs):
    return run_with_papermill(HOMEWORK, homework_parameters(homework_dirs), homework_dirs)


@pytest.mark.lesson_months_only  # reads no real file but the lesson months
def test_lesson_notebook_teaches_and_checks(lesson_dirs, lesson_run):
    notebook = lesson_run
    outputs = outputs_of(notebook)
    assert "ERROR" not in outputs
    assert "7.7587" in outputs  # LinearRegression's default solver, computed in view
    assert "7.4808" in outputs and "4.6407" in outputs  # the exact fit
    assert "✗" not in outputs and outputs.count("✓") == 3  # the package agrees
    assert "73,908" in outputs and "73908.0" not in outputs  # counts as integers
    # The band's diagnosis: the weight of a mile and the rides of absurd distance.
    assert "weight of a mile: 0.00003 minutes" in outputs
    assert "62 training rides of 1-60 minutes claim more than 100 miles" in outputs
    # Why 26 minutes: the unseen pair's part weighs 0, its total is the intercept's and a
    # distance term (the seen ride's pair has a weight).
    assert re.search(r"unseen pair \S+, [\d.]+ mi: unseen, so weighing 0: PU_DO=\S+", outputs)
    assert re.search(r"seen pair \S+, [\d.]+ mi: unseen, so weighing 0: nothing", outputs)
    saved = lesson_dirs / "models/lin_reg_green_2021-01_2021-02.bin"
    assert f"saved {saved}" in outputs
    with open(saved, "rb") as handle:
        assert pickle.load(handle).predict([{"PU_DO": "43_151", "trip_distance": 1.8}])[0] > 1
    assert (lesson_dirs / "models/rich_green_2021-01_2021-02.bin").is_file()
    assert "6.0638" in outputs  # rich's validation RMSE
    # The README shows these numbers too: they must be the ones the notebook computes.
    readme = (REPO / "README.md").read_text()
    for number in README_NUMBERS:
        assert number in readme and number in outputs, number
    assert any(
        "image/png" in o.get("data", {}) for c in notebook.cells for o in c.get("outputs", [])
    )


@pytest.fixture(scope="module")
def range_run(tlc_dir, tmp_path_factory):
    """The lesson notebook on other months than the lesson's, a range of two training months,
    with a models/lin_reg.bin of the user's already there."""
    root = tmp_path_factory.mktemp("lesson-range")
    copy_months(tlc_dir, root / "data", *(f"green_tripdata_2021-0{m}.parquet" for m in (1, 2, 3)))
    models = root / "models"
    models.mkdir()
    (models / "lin_reg.bin").write_bytes(b"the lesson model, untouched")
    parameters = lesson_parameters(root) | {
        "train_month": "2021-01..2021-02",
        "val_month": "2021-03",
    }
    return root, run_with_papermill(LESSON, parameters, root)


def test_lesson_notebook_on_other_months_leaves_the_lesson_model_alone(range_run):
    root, notebook = range_run
    assert "ERROR" not in outputs_of(notebook)
    assert (root / "models/lin_reg.bin").read_bytes() == b"the lesson model, untouched"
    assert (root / "models/lin_reg_green_2021-01..2021-02_2021-03.bin").is_file()


@pytest.mark.parametrize(
    "months",
    [
        ("2023-01", "2023-02"),
        pytest.param(("2021-01", "2021-02"), marks=pytest.mark.lesson_months_only),
    ],
    ids="->".join,
)
def test_homework_notebook_equals_the_cli(tlc_dir, tmp_path, months):
    copy_months(tlc_dir, tmp_path / "data", *(f"green_tripdata_{m}.parquet" for m in months))
    parameters = homework_parameters(tmp_path) | dict(zip(("train_month", "val_month"), months))
    notebook = run_with_papermill(HOMEWORK, parameters, tmp_path)
    outputs = outputs_of(notebook)
    assert "ERROR" not in outputs and "DIFFERENT" not in outputs
    assert outputs.count("✓") == 6  # each question, computed in view, agrees with the package
    cli = run_cli(
        "homework",
        "--json",
        "--offline",
        "--taxi",
        "green",
        "--train",
        months[0],
        "--val",
        months[1],
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert cli.returncode == 0, cli.stderr
    assert answers_of(notebook) == json.loads(cli.stdout)
    assert answers_of(notebook)["columns"] == 20


@pytest.mark.parametrize(
    ("path", "dirs", "parameters", "run"),
    [
        pytest.param(
            LESSON,
            "lesson_dirs",
            lesson_parameters,
            "lesson_run",
            marks=pytest.mark.lesson_months_only,
        ),
        (HOMEWORK, "homework_dirs", homework_parameters, "homework_run"),
    ],
    ids=["lesson", "homework"],
)
def test_every_cell_can_be_rerun(request, path, dirs, parameters, run):
    root = request.getfixturevalue(dirs)
    notebook = parameterize(path, parameters(root))
    once = request.getfixturevalue(run)  # executed top to bottom once, as papermill runs it
    twice, pairs = run_twice_per_cell(notebook, root)
    for first, second in pairs:
        assert not any(t.startswith("ERROR") for t in first + second), first + second
        assert first == second
    once_texts = [text_outputs(c) for c in once.cells if c.cell_type == "code"]
    assert once_texts == [second for _, second in pairs]
    if path == HOMEWORK:
        assert answers_of(once) == answers_of(twice)


def test_lesson_notebook_takes_a_range_of_months(range_run):
    root, notebook = range_run
    outputs = outputs_of(notebook)
    assert "ERROR" not in outputs and "✗" not in outputs
    assert "135,829" in outputs  # the rides kept in both training months together
    assert (root / "models/lin_reg_green_2021-01..2021-02_2021-03.bin").is_file()


def test_homework_notebook_says_what_it_needs_and_answers_after_the_learner():
    notebook = nbformat.read(HOMEWORK, as_version=4)
    cells = [c.source for c in notebook.cells]
    parameters = next(
        i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])
    )
    before = "\n".join(cells[:parameters])
    for needed in ("yellow_tripdata_2023-01.parquet", "data/", 'taxi = "green"', '"2021-01"'):
        assert needed in before, needed
    answers = next(
        i for i, c in enumerate(notebook.cells) if "answers" in c.metadata.get("tags", [])
    )
    last_question = max(i for i, c in enumerate(cells) if 'mine["' in c and "=" in c)
    assert last_question < answers


def error_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    return [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]


def test_a_missing_month_is_one_line_in_the_notebook(tmp_path):
    """A package error renders as its CLI line with the fix, without the package's frames."""
    import re

    from papermill.exceptions import PapermillExecutionError

    (tmp_path / "data").mkdir()
    with pytest.raises(PapermillExecutionError):
        run_with_papermill(HOMEWORK, homework_parameters(tmp_path), tmp_path)
    (error,) = error_outputs(tmp_path / f"executed-{HOMEWORK.name}")
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in error.traceback]
    text = "\n".join(lines)
    assert len(text.splitlines()) == 2, text
    assert lines[0].startswith("DownloadError: ") and "file not found (--offline)" in lines[0]
    assert "ride-duration download --taxi green --month 2023-01" in lines[0]
    assert "File " not in text and ".py" not in text


def test_the_traceback_stays_reachable(tmp_path, monkeypatch):
    from papermill.exceptions import PapermillExecutionError

    monkeypatch.setenv("RIDE_DURATION_DEBUG", "1")
    (tmp_path / "data").mkdir()
    with pytest.raises(PapermillExecutionError):
        run_with_papermill(HOMEWORK, homework_parameters(tmp_path), tmp_path)
    (error,) = error_outputs(tmp_path / f"executed-{HOMEWORK.name}")
    assert "download.py" in "\n".join(error.traceback)


SPRING = ("green_tripdata_2021-03.parquet", "green_tripdata_2021-04.parquet")


@pytest.mark.tlc_files(*SPRING)
def test_operate_notebook_climbs_the_levels(tlc_dir, tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="MLflow is not installed: pip install -e '.[mlflow]'")
    pytest.importorskip(
        "prefect", reason="Prefect is not installed: pip install -e '.[orchestrate]'"
    )
    # The kernel's Prefect keeps its ephemeral server's database here, its analytics off.
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Its ephemeral server gets as long to start as `ride-duration loop` gives it (20 s by
    # default: a CI run beside other work timed out).
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    copy_months(
        tlc_dir,
        tmp_path / "data",
        "green_tripdata_2021-01.parquet",
        "green_tripdata_2021-02.parquet",
        *SPRING,
    )
    parameters = {
        "data_dir": str(tmp_path / "data"),
        "model_dir": str(tmp_path / "models"),
        "reports_dir": str(tmp_path / "reports"),
        "tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    notebook = run_with_papermill(OPERATE, parameters, tmp_path)
    outputs = outputs_of(notebook)
    assert "ERROR" not in outputs
    assert "-> version 1 (challenger)" in outputs
    # The champion's model card, rendered: its registry facts and its data.
    (card,) = [
        o["data"]["text/markdown"]
        for c in notebook.cells
        for o in c.get("outputs", [])
        if "text/markdown" in o.get("data", {})
    ]
    assert "# Model card: nyc-taxi-regressor version 1" in card
    assert "aliases: @challenger, @champion" in card and "Promoted to champion by" in card
    assert "| green_tripdata_2021-01.parquet |" in card and "| kept | 73,908 | 61,921 |" in card
    assert "2021-03: RMSE 7.4552 (validation 7.4808); within thresholds" in outputs
    # The spring loop with a tighter threshold: April's errors bring a better challenger,
    # decided by a Prefect flow run whose artifacts are read back.
    assert "2021-03: within thresholds (champion v1" in outputs
    assert "COMPLETED | 2021-04: promoted (challenger v2" in outputs
    assert "# 2021-04: promoted" in outputs and "interval_coverage" in outputs
    assert "new months in data/: ['2021-03', '2021-04'] | skipped: ['2021-05']" in outputs
    images = [
        o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(images) == 3
    assert (tmp_path / "reports" / "monitor_green_2021-04.html").is_file()
