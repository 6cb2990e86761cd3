"""Week-1 homework answers for any month pair, and for each cohort's own questions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import DATA_DIR
from ..data.download import ensure_month
from ..data.months import check_taxi, parse_month
from ..data.prepare import duration_minutes, prepare
from ..data.reading import raw_column_count, read_month
from ..errors import DataError

QUESTIONS = {
    "columns": "Q1 columns in the raw training month",
    "duration_std": "Q2 standard deviation of duration (min), before filtering",
    "fraction_kept": "Q3 fraction of records kept by the 1-60 minute rule",
    "n_features": "Q4 columns of the one-hot matrix (PU and DO IDs)",
    "train_rmse": "Q5 train RMSE (min)",
    "val_rmse": "Q6 validation RMSE (min)",
}
QUESTIONS_2022 = {
    "records": "Q1 records in the training month",
    "duration_mean": "Q2 average duration (min), before filtering",
    "fraction_missing_pickup": "Q3 fraction of missing pickup IDs (filled with -1), kept rows",
    "n_features": "Q4 columns of the one-hot matrix (PU and DO IDs)",
    "train_rmse": "Q5 train RMSE (min)",
    "val_rmse": "Q6 validation RMSE (min)",
}


# How close a notebook's own answer must be to the package's: counts exactly, floating-point
# answers to rounding, RMSEs to 1e-4 (LinearRegression's iterative solver stops at a tolerance
# where the package solves exactly).
TOLERANCE = {
    "columns": 0,
    "records": 0,
    "n_features": 0,
    "duration_std": 1e-9,
    "duration_mean": 1e-9,
    "fraction_kept": 1e-12,
    "fraction_missing_pickup": 1e-12,
    "train_rmse": 1e-4,
    "val_rmse": 1e-4,
}


@dataclass(frozen=True)
class Cohort:
    taxi: str
    train_month: str
    val_month: str
    questions: dict


DEFAULT = Cohort("yellow", "2023-01", "2023-02", QUESTIONS)  # without --cohort: 2024 and 2025's
COHORTS = {
    2022: Cohort("fhv", "2021-01", "2021-02", QUESTIONS_2022),
    2023: Cohort("yellow", "2022-01", "2022-02", QUESTIONS),
    2024: Cohort("yellow", "2023-01", "2023-02", QUESTIONS),
    2025: Cohort("yellow", "2023-01", "2023-02", QUESTIONS),
}


def chosen(
    cohort: int | None, taxi: str | None, train_month: str | None, val_month: str | None
) -> Cohort:
    """The data a homework run answers on: the cohort's (or the default's), each part
    overridden where given."""
    base = COHORTS[cohort] if cohort else DEFAULT
    return Cohort(
        taxi or base.taxi,
        train_month or base.train_month,
        val_month or base.val_month,
        base.questions,
    )


def answers(
    taxi: str = DEFAULT.taxi,
    train_month: str = DEFAULT.train_month,
    val_month: str = DEFAULT.val_month,
    data_dir: Path = DATA_DIR,
    *,
    cohort: int | None = None,
    offline: bool = False,
    base_url: str | None = None,
    quiet: bool = False,
) -> dict:
    """The homework's answers, keyed as in ``QUESTIONS`` (or ``QUESTIONS_2022`` for the 2022
    cohort). The model is the homework's: PU and DO one-hot, exact linear regression."""
    return worked(
        taxi,
        train_month,
        val_month,
        data_dir,
        cohort=cohort,
        offline=offline,
        base_url=base_url,
        quiet=quiet,
    )[0]


def worked(
    taxi: str = DEFAULT.taxi,
    train_month: str = DEFAULT.train_month,
    val_month: str = DEFAULT.val_month,
    data_dir: Path = DATA_DIR,
    *,
    cohort: int | None = None,
    offline: bool = False,
    base_url: str | None = None,
    quiet: bool = False,
):
    """``answers``, and the homework's fitted model (a ``Model``) that gave them."""
    from ..modeling.fit import fit
    from ..modeling.model import rmse
    from ..modeling.options import TrainOptions

    questions = COHORTS[cohort].questions if cohort else QUESTIONS
    taxi, train_month, val_month = (
        check_taxi(taxi),
        parse_month(train_month),
        parse_month(val_month),
    )
    for month in dict.fromkeys([train_month, val_month]):
        ensure_month(taxi, month, data_dir, base_url=base_url, offline=offline, quiet=quiet)

    raw = read_month(taxi, train_month, data_dir)
    minutes = duration_minutes(raw)
    train, report = prepare(raw, train_month, timestamps="none")
    del raw
    val, _ = prepare(read_month(taxi, val_month, data_dir), val_month, timestamps="none")
    if train.empty or val.empty:
        raise DataError("no ride lasts 1 to 60 minutes in one of the months")

    fitted = fit(TrainOptions(features="homework"), train, val, intervals=False)
    predict = fitted.model.predict_design
    result = {
        "columns": raw_column_count(taxi, train_month, data_dir),
        "records": report.rows_read,
        # pandas' std (ddof=1), as the course computes it.
        "duration_std": float(np.nanstd(minutes, ddof=1)),
        "duration_mean": float(np.nanmean(minutes)),
        "fraction_kept": report.fraction_kept,
        "fraction_missing_pickup": float((train["PULocationID"] == "-1").mean()),
        "n_features": fitted.design.n_features,
        "train_rmse": rmse(train["duration"].to_numpy(), predict(fitted.design)),
        "val_rmse": rmse(val["duration"].to_numpy(), predict(fitted.val_design)),
    }
    return {key: result[key] for key in questions}, fitted.model


def answer_table(result: dict, cohort: int | None = None):
    """The answers as a small DataFrame: question, answer."""
    import pandas as pd

    questions = COHORTS[cohort].questions if cohort else QUESTIONS
    shown = [f"{v:,}" if isinstance(v, int) else f"{v:.4f}" for v in result.values()]
    return pd.DataFrame(
        {"question": [questions[k] for k in result], "answer": shown},
        index=pd.Index(list(result), name="key"),
    )


def check_table(mine: dict, package: dict, cohort: int | None = None):
    """Each of ``mine`` (answers computed in a notebook) beside the package's: ✓ where they
    agree within ``TOLERANCE``, a loud ✗ DIFFERENT where not."""
    import pandas as pd

    questions = COHORTS[cohort].questions if cohort else QUESTIONS
    rows = []
    for key, reference in package.items():
        value = mine.get(key)
        same = value is not None and abs(float(value) - reference) <= TOLERANCE[key]
        rows.append((questions[key], _shown(key, value), _shown(key, reference)))
        rows[-1] += ("✓" if same else "✗ DIFFERENT",)
    return pd.DataFrame(rows, columns=["question", "notebook", "package", "same"])


def _shown(key: str, value) -> str:
    """A count as a count (20, not 20.000000), any other answer to six decimals."""
    if value is None:
        return "-"
    if TOLERANCE[key] == 0 and float(value).is_integer():
        return f"{int(value):,}"
    return f"{float(value):.6f}"
