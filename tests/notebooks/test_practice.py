"""The practice notebook, run three ways with papermill: as shipped (every check waits for an
answer), with the right answers (every check says correct), and with the known mistakes a
learner makes, written as a learner would (each is named). No run shows an error, and the
reference answers appear in no output of the first and the third."""

from __future__ import annotations

import re

import nbformat
import pytest

from ride_duration.reports import homework
from ride_duration.reports.practice_guides import GUIDES
from tests.helpers import LESSON_MONTHS, REPO, copy_months
from tests.notebooks.test_notebooks import text_outputs

# Reads no real file but the lesson months: CI's newcomer run with them skips these.
pytestmark = pytest.mark.lesson_months_only

PRACTICE = REPO / "notebooks" / "Homework_week1_practice.ipynb"
KEYS = list(homework.QUESTIONS)

# Each known mistake as a learner would make it, in their own code, and the words its check
# must say. (Missing IDs dropped instead of -1 changes nothing on green 2021-01, which has no
# missing ID: its check is not listed for these months, and says nothing of it.)
MISTAKES = {
    1: [
        (
            "df = pd.read_parquet(month_path(taxi, train_month, DATA))\n"
            "df['duration'] = (df[DROPOFF] - df[PICKUP]).dt.total_seconds() / 60\n"
            "q1 = len(df.columns)",
            "counts the duration column",
        )
    ],
    2: [
        (
            "df = pd.read_parquet(month_path(taxi, train_month, DATA))\n"
            "q2 = (df[DROPOFF] - df[PICKUP]).dt.total_seconds().std()",
            "in seconds",
        ),
        (
            "d = (df[DROPOFF] - df[PICKUP]).dt.total_seconds() / 60\n"
            "q2 = d[(d >= 1) & (d <= 60)].std()",
            "after dropping outliers",
        ),
    ],
    3: [
        ("q3 = ((d > 1) & (d < 60)).mean()", "exclusive"),
        ("q3 = 1 - ((d >= 1) & (d <= 60)).mean()", "fraction dropped"),
        ("q3 = ((d >= 1) & (d <= 60)).sum()", "counts rides"),
        ("q3 = len(df) / len(df)", "rule is not applied"),
    ],
    4: [
        (
            "df['duration'] = d\n"
            "kept = df[(d >= 1) & (d <= 60)].copy()\n"
            "ids = kept[['PULocationID', 'DOLocationID']].fillna(-1).astype(int)\n"
            "q4 = DictVectorizer().fit_transform(ids.to_dict(orient='records')).shape[1]",
            "as numbers",
        ),
        (
            "everything = df[['PULocationID', 'DOLocationID']].fillna(-1).astype(int).astype(str)\n"
            "q4 = DictVectorizer().fit(everything.to_dict(orient='records')).vocabulary_.__len__()",
            "fitted before dropping outliers",
        ),
        (
            "pairs = ids.astype(str).agg('_'.join, axis=1).to_frame('PU_DO')\n"
            "q4 = DictVectorizer().fit_transform(pairs.to_dict(orient='records')).shape[1]",
            "pickup-dropoff pair",
        ),
    ],
    5: [
        (
            "strings = ids.astype(str)\n"
            "dv = DictVectorizer()\n"
            "X_train = dv.fit_transform(strings.to_dict(orient='records'))\n"
            "y_train = kept['duration'].to_numpy()\n"
            "lr = LinearRegression().fit(X_train, y_train)\n"
            "q5 = mean_squared_error(y_train, lr.predict(X_train))",
            "mean squared error",
        ),
        (
            "as_numbers = LinearRegression().fit(ids.to_numpy(), y_train)\n"
            "q5 = root_mean_squared_error(y_train, as_numbers.predict(ids.to_numpy()))",
            "IDs as numbers",
        ),
    ],
    6: [
        (
            "val = pd.read_parquet(month_path(taxi, val_month, DATA))\n"
            "val['duration'] = (val[DROPOFF] - val[PICKUP]).dt.total_seconds() / 60\n"
            "every = val.copy()\n"
            "val = val[(val['duration'] >= 1) & (val['duration'] <= 60)].copy()\n"
            "cols = ['PULocationID', 'DOLocationID']\n"
            "X_val = dv.transform(val[cols].fillna(-1).astype(int).astype(str)"
            ".to_dict(orient='records'))\n"
            "q6 = mean_squared_error(val['duration'], lr.predict(X_val))",
            "mean squared error",
        ),
        ("q6 = root_mean_squared_error(y_train, lr.predict(X_train))", "training month's RMSE"),
        (
            "every = every[every['duration'].notna()]\n"
            "X_all = dv.transform(every[cols].fillna(-1).astype(int).astype(str)"
            ".to_dict(orient='records'))\n"
            "q6 = root_mean_squared_error(every['duration'], lr.predict(X_all))",
            "outliers are kept",
        ),
        (
            "val_ids = val[cols].fillna(-1).astype(int).to_numpy()\n"
            "q6 = root_mean_squared_error(val['duration'], as_numbers.predict(val_ids))",
            "IDs as numbers",
        ),
    ],
}


@pytest.fixture(scope="module")
def practice_dirs(tlc_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("practice")
    copy_months(tlc_dir, root / "data", *LESSON_MONTHS)
    return root


def parameters(root) -> dict:
    return {
        "cohort": None,
        "taxi": "green",
        "train_month": "2021-01",
        "val_month": "2021-02",
        "data_dir": str(root / "data"),
        "offline": True,
    }


def run(root, name: str, answers: dict[int, str] | None = None):
    """The notebook with each answer cell's code replaced, executed with papermill."""
    import papermill

    notebook = nbformat.read(PRACTICE, as_version=4)
    for cell in notebook.cells:
        for n, code in (answers or {}).items():
            if f"answer-q{n}" in cell.metadata.get("tags", []):
                cell.source = code
    source = root / f"{name}.ipynb"
    nbformat.write(notebook, source)
    return papermill.execute_notebook(
        str(source),
        str(root / f"executed-{name}.ipynb"),
        parameters=parameters(root),
        kernel_name="python3",
        cwd=str(root),
        progress_bar=False,
    )


def checks(executed) -> dict[int, str]:
    """What each check cell printed."""
    out = {}
    for cell in executed.cells:
        for tag in cell.metadata.get("tags", []):
            if tag.startswith("check-q"):
                out[int(tag[len("check-q") :])] = "\n".join(text_outputs(cell))
    return out


def outputs(executed) -> str:
    return "\n".join(t for cell in executed.cells for t in text_outputs(cell))


def assert_no_errors(executed):
    for cell in executed.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", (cell.source, output)


def assert_answers_absent(text: str, reference: dict):
    for key, value in reference.items():
        if isinstance(value, int):
            forms = [rf"(?<![\d.,]){value}(?![\d.,]*\d)", re.escape(f"{value:,}")]
        else:
            forms = [re.escape(f"{value:.{d}f}") for d in (3, 4, 6)] + [re.escape(repr(value))]
        for form in forms:
            assert not re.search(form, text), (key, value, form)


@pytest.fixture(scope="module")
def reference(practice_dirs):
    return homework.answers("green", "2021-01", "2021-02", practice_dirs / "data", offline=True)


def test_as_shipped_every_check_waits_for_an_answer_and_shows_none(practice_dirs, reference):
    executed = run(practice_dirs, "shipped")
    assert_no_errors(executed)
    said = checks(executed)
    assert sorted(said) == [1, 2, 3, 4, 5, 6]
    assert all("not answered yet" in text for text in said.values()), said
    assert "Q1 hint 1/1" in outputs(executed)
    assert_answers_absent(outputs(executed), reference)


def test_the_right_answers_are_each_correct(practice_dirs):
    """The solutions ``solution()`` shows, typed into the answer cells."""
    answers = {}
    for n, key in enumerate(KEYS, 1):
        *steps, last = GUIDES[key].solution.strip().splitlines()
        answers[n] = "\n".join([*steps, f"q{n} = {last}"])
    executed = run(practice_dirs, "right", answers)
    assert_no_errors(executed)
    said = checks(executed)
    assert all(text.strip() == f"STREAM Q{n}: correct." for n, text in said.items()), said


def test_each_known_mistake_is_named_and_no_answer_is_shown(practice_dirs, reference):
    answers = {}
    for n, attempts in MISTAKES.items():
        lines = []
        for code, _ in attempts:
            lines += [code, f"check.q{n}(q{n})"]
        answers[n] = "\n".join(lines[:-1])  # the check cell checks the last attempt
    executed = run(practice_dirs, "mistakes", answers)
    assert_no_errors(executed)
    for cell in executed.cells:
        tags = cell.metadata.get("tags", [])
        numbers = [int(t[len("answer-q") :]) for t in tags if t.startswith("answer-q")]
        if not numbers:
            continue
        n = numbers[0]
        said = "\n".join(text_outputs(cell)) + checks(executed)[n]
        lines = [line for line in said.replace("STREAM ", "").splitlines() if line]
        assert len(lines) == len(MISTAKES[n]), lines
        for line, (_, words) in zip(lines, MISTAKES[n]):
            assert line.startswith(f"Q{n}: not yet: ") and words in line, (line, words)
    assert_answers_absent(outputs(executed), reference)
