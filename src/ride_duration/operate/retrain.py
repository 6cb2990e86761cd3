"""Continuous training, one month at a time: watch the champion on a new month; when a
threshold is crossed (or always, if asked), train a challenger on the months before it, score
both on the new month, and promote the challenger only if it does better. Each step holds a
lock, so that two retrains at once promote at most once."""

from __future__ import annotations

import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import MODELS_DIR, REPORTS_DIR
from ..data.dataset import check_taxi, month_path, parse_months
from ..errors import DataError, RideDurationError
from ..files import file_lock
from ..modeling.train import TrainOptions
from ..tracking.registry import CHAMPION, has_alias, promote, registered_taxi
from ..tracking.store import REGISTERED_MODEL, Store, TrackingError, mlflow_errors, sqlite_path
from .models import open_model
from .monitor import Thresholds, monitor
from .tracked import file_report
from .training import train_tracked

PROMOTED, FIRST, KEPT, CALM = "promoted", "first champion", "kept", "within thresholds"


@dataclass
class Retrain:
    taxi: str = "green"
    data_dir: Path = Path("data")
    model_dir: Path = MODELS_DIR
    reports_dir: Path = REPORTS_DIR
    window: int = 3
    always: bool = False
    limits: Thresholds = field(default_factory=Thresholds)
    registered_model: str = REGISTERED_MODEL
    features: str = "lesson"  # the first champion's; later challengers take the champion's


@dataclass
class Decision:
    month: str
    action: str
    window: list[str]
    champion: str | None = None  # the version in force when the month was watched
    challenger: str | None = None
    champion_rmse: float | None = None
    challenger_rmse: float | None = None
    crossed: list[str] = field(default_factory=list)
    prediction_drift: float | None = None
    report: str | None = None

    def line(self) -> str:
        text = f"{self.month}: {self.action}"
        if self.challenger_rmse is not None and self.champion_rmse is not None:
            text += (
                f" (challenger v{self.challenger} RMSE {self.challenger_rmse:.4f} vs champion "
                f"v{self.champion} {self.champion_rmse:.4f}"
            )
            text += f", trained on {', '.join(self.window)})"
        elif self.champion_rmse is not None:
            text += f" (champion v{self.champion} RMSE {self.champion_rmse:.4f})"
        return text

    def as_dict(self) -> dict:
        return asdict(self)


MONTH_FILE = re.compile(r"(?P<taxi>[a-z]+)_tripdata_(?P<month>\d{4}-\d{2})\.parquet")


def months_present(taxi: str, data_dir: Path) -> list[str]:
    """The months of this taxi type with a file in the data folder, in order."""
    folder = Path(data_dir)
    if not folder.is_dir():
        return []
    found = (MONTH_FILE.fullmatch(p.name) for p in folder.iterdir())
    return sorted(m["month"] for m in found if m and m["taxi"] == taxi)


def window_before(taxi: str, month: str, data_dir: Path, size: int) -> list[str]:
    """The last ``size`` months before ``month`` that are present."""
    return [m for m in months_present(taxi, data_dir) if m < month][-size:]


def lock_path(store: Store, options: Retrain) -> Path:
    """One lock per registry: beside a SQLite store's file, else in the model folder."""
    if store.uri.startswith("sqlite:"):
        return sqlite_path(store.uri)
    return Path(options.model_dir) / f"retrain-{options.registered_model}"


def retrain(store: Store, month: str, options: Retrain) -> Decision:
    """One step of the loop for ``month`` (whose file must be present)."""
    taxi, month = check_taxi(options.taxi), parse_months(month)[0]
    if not month_path(taxi, month, options.data_dir).is_file():
        raise DataError(f"{month_path(taxi, month, options.data_dir)}: file not found")
    window = window_before(taxi, month, options.data_dir, options.window)
    if not window:
        raise DataError(
            f"no {taxi} month before {month} in {options.data_dir} to train a challenger on"
        )
    with mlflow_errors(store.uri):
        held = registered_taxi(store, options.registered_model)
    if held not in (None, taxi):
        raise TrackingError(
            f"the registered model {options.registered_model} holds {held} taxi models, not {taxi}"
        )
    Path(options.model_dir).mkdir(parents=True, exist_ok=True)
    with file_lock(lock_path(store, options)), tempfile.TemporaryDirectory() as folder:
        return _step(store, month, window, options, Path(folder))


def _champion(store: Store, options: Retrain, folder: Path):
    """The champion, downloaded and checked; None before the first one is crowned."""
    if not has_alias(store, CHAMPION, options.registered_model):
        return None
    return open_model(f"models:/{options.registered_model}@{CHAMPION}", folder, store=store)


def _step(store, month, window, options: Retrain, folder: Path) -> Decision:
    champion = _champion(store, options, folder)
    if champion is None:
        tracked = _challenger(store, month, window, options, None)
        promote(store, tracked.version.version, options.registered_model)
        champion = _champion(store, options, folder)
        decision = Decision(month, FIRST, window, champion.version.version)
        return _record(store, champion, month, options, decision, tracked)
    result = monitor(champion.path, month, options.data_dir, options.taxi, options.limits)
    decision = Decision(
        month,
        CALM,
        window,
        champion.version.version,
        champion_rmse=result["current"]["rmse"],
        crossed=result["crossed"],
        prediction_drift=result["drift"]["prediction"]["wasserstein_normed"],
    )
    tracked = None
    if result["crossed"] or options.always:
        tracked = _challenger(store, month, window, options, champion.metadata)
        decision.challenger = tracked.version.version
        decision.challenger_rmse = tracked.result.metrics["val_rmse"]
        better = decision.challenger_rmse < decision.champion_rmse
        decision.action = PROMOTED if better else KEPT
        if better:
            promote(store, decision.challenger, options.registered_model)
    return _record(store, champion, month, options, decision, tracked, result)


def _challenger(store, month, window, options: Retrain, champion_metadata: dict | None):
    """Train and register a challenger on the window, validated on the month (alias
    challenger); the champion's recipe if there is one, else the options' feature set."""
    recipe = {"features": options.features}
    if champion_metadata:
        recipe = {
            "features": champion_metadata["features"]["set"],
            "model": champion_metadata["model"]["kind"],
            "alpha": champion_metadata["model"]["params"].get("alpha"),
        }
    train_options = TrainOptions(
        taxi=options.taxi,
        train_month=",".join(window),
        val_month=month,
        data_dir=options.data_dir,
        model_dir=options.model_dir,
        name=f"{options.registered_model}_{options.taxi}_{month}",
        offline=True,
        quiet=True,
        **recipe,
    )
    return train_tracked(
        train_options,
        store,
        register_as=options.registered_model,
        version_tags={"retrain.month": month},
    )


def _record(store, champion, month, options: Retrain, decision: Decision, tracked, result=None):
    """The decision as MLflow tags (on the challenger's run and version) and as a line in the
    month's monitoring report."""
    if result is None:
        result = monitor(champion.path, month, options.data_dir, options.taxi, options.limits)
        decision.champion_rmse = result["current"]["rmse"]
        decision.prediction_drift = result["drift"]["prediction"]["wasserstein_normed"]
    result["decision"] = decision.line()
    files, _ = file_report(result, champion, options.reports_dir, store)
    decision.report = str(files[1])
    if tracked is not None:
        tags = {"retrain.month": month, "retrain.decision": decision.action}
        with mlflow_errors(store.uri):
            for key, value in tags.items():
                store.client.set_tag(tracked.run.run_id, key, value)
                store.client.set_model_version_tag(
                    options.registered_model, tracked.version.version, key, value
                )
    return decision


def backfill(store: Store, spec: str, options: Retrain) -> tuple[list[Decision], list[str]]:
    """The loop over every month of ``spec`` that is present, in order; returns the decisions
    and the months skipped (with why)."""
    taxi = check_taxi(options.taxi)
    present = set(months_present(taxi, options.data_dir))
    decisions, absent, first = [], [], []
    for month in parse_months(spec):
        if month not in present:
            absent.append(month)
        elif not window_before(taxi, month, options.data_dir, options.window):
            first.append(month)
        else:
            decisions.append(retrain(store, month, options))
    skipped = [f"{span} (no file)" for span in month_spans(absent)]
    skipped += [f"{span} (no earlier month to train on)" for span in month_spans(first)]
    if not decisions:
        raise RideDurationError(f"no month of {spec} could be retrained on: {', '.join(skipped)}")
    return decisions, skipped


def month_spans(months: list[str]) -> list[str]:
    """Months written as spans of consecutive ones: 2021-06..2021-12, 2022-04."""
    import numpy as np

    spans: list[list[str]] = []
    for month in months:
        following = spans and np.datetime64(spans[-1][-1]) + 1 == np.datetime64(month)
        spans[-1:] = [[spans[-1][0], month]] if following else [*spans[-1:], [month]]
    return [span[0] if len(span) == 1 else f"{span[0]}..{span[-1]}" for span in spans]
