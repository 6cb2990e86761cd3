"""Practise the week-1 homework: a check per question that says **correct** or **not yet**,
names a known mistake when the answer is one (without giving the answer), a hint on request,
and the solution only when asked.

    check = Practice("green", "2021-01", "2021-02")   # or a cohort: Practice(cohort=2025)
    check.q2(my_answer)      # Q2: not yet: that is the standard deviation in seconds ...
    check.q2.hint()          # a nudge; called again, the next one
    check.q2.solution()      # the code, and the package's answer

The answers are the package's own (``homework.answers``, behind ``ride-duration homework``),
computed for the months and cohort chosen; so is each known mistake's value, from the same
rides done the wrong way. Nothing prints an answer but ``solution()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import DATA_DIR, MAX_DURATION_MINUTES, MIN_DURATION_MINUTES
from ..data.months import check_taxi, parse_month
from ..data.prepare import duration_minutes
from ..data.reading import read_month
from ..data.zones import location_ids
from . import homework
from .practice_guides import GUIDES, Guide


@dataclass(frozen=True)
class Mistake:
    """A known wrong way to a question, and the value it gives on these months."""

    says: str  # what went wrong, told to the learner; never the answer
    value: float


# Floating-point answers agree to five significant digits (finer than the course's choices,
# looser than a learner's choice of ddof or solver changes); counts exactly; RMSEs to 1e-4,
# as LinearRegression's iterative solver stops at a tolerance.
RELATIVE = 1e-5
ABSOLUTE = {"train_rmse": 1e-4, "val_rmse": 1e-4}
COUNTS = ("columns", "records", "n_features")


def agrees(key: str, value: float, reference: float) -> bool:
    if key in COUNTS:
        return float(value) == float(reference)
    if key in ABSOLUTE:
        return abs(value - reference) <= ABSOLUTE[key]
    return math.isclose(value, reference, rel_tol=RELATIVE, abs_tol=1e-12)


class Question:
    """One homework question: call it with an answer to check it; ``hint()``, ``solution()``."""

    def __init__(self, number: int, key: str, text: str, answer, mistakes, guide: Guide):
        self.number, self.key, self.text = number, key, text
        self._answer, self._mistakes, self._guide = answer, mistakes, guide
        self._hints_given = 0

    def __repr__(self) -> str:
        return f"Q{self.number}: {self.text}. check.q{self.number}(answer), .hint(), .solution()"

    def verdict(self, value) -> str:
        """What ``check.qN(value)`` says, as a line."""
        name = f"Q{self.number}"
        if value is None:
            return f"{name}: not answered yet: compute it in the cell above (a nudge: .hint())"
        try:
            number = float(value)
        except (TypeError, ValueError):
            return f"{name}: not yet: the answer is a number, not {type(value).__name__}"
        if not math.isfinite(number):
            return f"{name}: not yet: {number} is not a number of this question"
        if agrees(self.key, number, self._answer):
            return f"{name}: correct."
        for mistake in self._mistakes:
            if agrees(self.key, number, mistake.value):
                return f"{name}: not yet: {mistake.says}."
        return f"{name}: not yet. check.q{self.number}.hint() gives a nudge."

    def __call__(self, value) -> None:
        print(self.verdict(value))

    def hint(self) -> None:
        """The next nudge (the last one again once all were given)."""
        hints = self._guide.hints
        shown = hints[min(self._hints_given, len(hints) - 1)]
        self._hints_given += 1
        print(f"Q{self.number} hint {min(self._hints_given, len(hints))}/{len(hints)}: {shown}")

    def solution(self) -> None:
        """The code that answers it, and the package's answer."""
        answer = self._answer
        shown = f"{answer:,}" if self.key in COUNTS else f"{answer:.6f}"
        print(f"Q{self.number} solution:\n{self._guide.solution.strip()}\n# answer: {shown}")


@dataclass
class Practice:
    """The week-1 homework to practise, for a taxi type and months (a cohort's by default)."""

    taxi: str | None = None
    train_month: str | None = None
    val_month: str | None = None
    data_dir: Path | str | None = None
    cohort: int | None = None
    offline: bool = False
    questions: list[Question] = field(init=False, repr=False)

    def __post_init__(self):
        chosen = homework.chosen(self.cohort, self.taxi, self.train_month, self.val_month)
        self.taxi = check_taxi(chosen.taxi)
        self.train_month, self.val_month = (
            parse_month(chosen.train_month),
            parse_month(chosen.val_month),
        )
        self.data_dir = Path(self.data_dir or DATA_DIR)
        answers, model = homework.worked(
            self.taxi,
            self.train_month,
            self.val_month,
            self.data_dir,
            cohort=self.cohort,
            offline=self.offline,
            quiet=True,
        )
        wrong = _mistakes(
            self.taxi, self.train_month, self.val_month, self.data_dir, answers, model
        )
        self.questions = [
            Question(
                number,
                key,
                chosen.questions[key].split(" ", 1)[1],
                answers[key],
                [m for m in wrong.get(key, []) if not agrees(key, m.value, answers[key])],
                GUIDES[key],
            )
            for number, key in enumerate(answers, 1)
        ]
        for question in self.questions:
            setattr(self, f"q{question.number}", question)

    def __repr__(self) -> str:
        return (
            f"Practice({self.taxi} {self.train_month} -> {self.val_month}: "
            f"{len(self.questions)} questions, check.q1(answer) to check.q{len(self.questions)})"
        )

    def hint(self, number: int) -> None:
        self.questions[number - 1].hint()

    def solution(self, number: int) -> None:
        self.questions[number - 1].solution()


@dataclass(frozen=True)
class _Month:
    minutes: np.ndarray  # NaN where a timestamp is missing
    pu: np.ndarray  # -1 where missing
    do: np.ndarray
    columns: int

    @property
    def kept(self) -> np.ndarray:
        return (self.minutes >= MIN_DURATION_MINUTES) & (self.minutes <= MAX_DURATION_MINUTES)


def _month(taxi: str, month: str, data_dir: Path) -> _Month:
    raw = read_month(taxi, month, data_dir)
    return _Month(
        duration_minutes(raw),
        location_ids(raw["PULocationID"]),
        location_ids(raw["DOLocationID"]),
        raw.shape[1],
    )


def _mistakes(taxi, train_month, val_month, data_dir, answers, model) -> dict[str, list]:
    """Each question's known mistakes and the values they give on these months (``model``:
    the homework's, fitted the right way)."""
    train, val = _month(taxi, train_month, data_dir), _month(taxi, val_month, data_dir)
    kept, minutes = train.kept, train.minutes
    out: dict[str, list[Mistake]] = {}

    def add(key, says, value: Callable[[], float]):
        if key in answers:
            out.setdefault(key, []).append(Mistake(says, float(value())))

    before, after = minutes[np.isfinite(minutes)], minutes[kept]
    add(
        "columns",
        "that counts the duration column you added: count the columns as read",
        lambda: answers["columns"] + 1,
    )
    add(
        "records",
        "that counts the rides left after dropping outliers: count every record",
        kept.sum,
    )
    add(
        "duration_std",
        "that is the standard deviation in seconds; the question asks minutes",
        lambda: np.std(before, ddof=1) * 60,
    )
    add(
        "duration_std",
        "that is computed after dropping outliers; the question asks before",
        lambda: np.std(after, ddof=1),
    )
    add(
        "duration_mean",
        "that is the mean in seconds; the question asks minutes",
        lambda: before.mean() * 60,
    )
    add(
        "duration_mean",
        "that is computed after dropping outliers; the question asks before",
        after.mean,
    )
    exclusive = (minutes > MIN_DURATION_MINUTES) & (minutes < MAX_DURATION_MINUTES)
    add(
        "fraction_kept",
        "the bounds are exclusive there: 1 and 60 minutes are both kept",
        exclusive.mean,
    )
    add(
        "fraction_kept",
        "that is the fraction dropped, not the fraction kept",
        lambda: 1 - kept.mean(),
    )
    add("fraction_kept", "that counts rides; the question asks a fraction of the records", kept.sum)
    add("fraction_kept", "the 1-60 minute rule is not applied", lambda: 1.0)
    missing = train.pu[kept] == -1
    add("fraction_missing_pickup", "that counts rides; the question asks a fraction", missing.sum)
    add(
        "fraction_missing_pickup",
        "that is the fraction present, not missing",
        lambda: 1 - missing.mean(),
    )
    add(
        "fraction_missing_pickup",
        "that is over every record; the question asks the kept ones",
        lambda: (train.pu == -1).mean(),
    )
    pu, do = train.pu[kept], train.do[kept]
    add("n_features", "the IDs are one-hot encoded as numbers: make them strings", lambda: 2)
    complete = (pu != -1) & (do != -1)
    add(
        "n_features",
        "rides with a missing ID are dropped: fill them with -1 instead",
        lambda: np.unique(pu[complete]).size + np.unique(do[complete]).size,
    )
    add(
        "n_features",
        "the vectorizer is fitted before dropping outliers",
        lambda: np.unique(train.pu).size + np.unique(train.do).size,
    )
    add(
        "n_features",
        "that encodes the pickup-dropoff pair (the lesson's PU_DO); the homework one-hot "
        "encodes each ID on its own",
        lambda: np.unique(pu * 1_000_003 + do).size,
    )
    for key in ("train_rmse", "val_rmse"):
        add(key, "that is the mean squared error: take its root", lambda k=key: answers[k] ** 2)
    numeric_train, numeric_val = _numeric_rmse(train, val)
    add(
        "train_rmse",
        "that model reads the IDs as numbers: one-hot encode them as strings",
        lambda: numeric_train,
    )
    add(
        "val_rmse",
        "that model reads the IDs as numbers: one-hot encode them as strings",
        lambda: numeric_val,
    )
    if "train_rmse" in answers:
        add(
            "val_rmse",
            "that is the training month's RMSE: score the validation month",
            lambda: answers["train_rmse"],
        )
    add(
        "val_rmse",
        "the validation month's outliers are kept: drop them as in training",
        lambda: _unfiltered_rmse(model, val),
    )
    return out


def _unfiltered_rmse(model, month: _Month) -> float:
    """The homework model's RMSE on every ride of a month with both timestamps, the 1-60
    minute rule not applied."""
    from ..features.columns import NAT, RideColumns

    timed = np.isfinite(month.minutes)
    n = int(timed.sum())
    rides = RideColumns(
        month.pu[timed].astype(np.int32),
        month.do[timed].astype(np.int32),
        np.full(n, np.nan),
        np.full(n, NAT, np.int64),
    )
    predicted = model.predict_columns(rides)
    return float(np.sqrt(np.mean((predicted - month.minutes[timed]) ** 2)))


def _numeric_rmse(train: _Month, val: _Month) -> tuple[float, float]:
    """The RMSEs of a linear regression on the two IDs read as numbers (the mistake of Q4-Q6
    where they are not made strings)."""

    def design(month: _Month) -> tuple[np.ndarray, np.ndarray]:
        kept = month.kept
        X = np.column_stack([np.ones(kept.sum()), month.pu[kept], month.do[kept]]).astype(float)
        return X, month.minutes[kept]

    X, y = design(train)
    coef = np.linalg.lstsq(X, y, rcond=None)[0]
    X_val, y_val = design(val)
    return (
        float(np.sqrt(np.mean((X @ coef - y) ** 2))),
        float(np.sqrt(np.mean((X_val @ coef - y_val) ** 2))),
    )
