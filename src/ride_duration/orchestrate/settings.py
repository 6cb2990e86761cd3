"""What the loop is asked to do, as the plain values a Prefect deployment stores: the retraining
options, where months come from, the tracking store, and the first month to watch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..data.months import months_present, parse_month
from ..monitoring.statistics import Thresholds
from ..operate.retrain import Retrain
from ..uris import check_base_url

FLOW_NAME = "retrain-month"
DEPLOYMENT = "monthly"
DEFAULT_CRON = "0 6 3 * *"  # 06:00 on the 3rd: TLC publishes a month some weeks after it ends
PREFECT_URL_ENV = "PREFECT_API_URL"


@dataclass(frozen=True)
class LoopSettings:
    retrain: Retrain
    base_url: str | None = None  # a TLC mirror; None: $RIDE_DURATION_BASE_URL or the CDN
    tracking_uri: str | None = None  # None: $MLFLOW_TRACKING_URI or the project's mlflow.db
    start: str | None = None  # the first month to watch; None: the one after the newest present
    offline: bool = False  # never download: only the months in the data folder are published

    def validated(self) -> LoopSettings:
        if self.base_url is not None:
            check_base_url(self.base_url)
        start = parse_month(self.start) if self.start else None
        return replace(self, retrain=self.retrain.validated(), start=start)

    def first_month(self) -> str | None:
        """The month to watch when the loop has decided none yet."""
        if self.start:
            return self.start
        present = months_present(self.retrain.taxi, self.retrain.data_dir)
        return _next(present[-1]) if present else None

    def as_parameters(self) -> dict:
        """JSON values, as a deployment keeps its flow's parameters."""
        options = asdict(self.retrain) | {"limits": self.retrain.limits.as_dict()}
        for key in ("data_dir", "model_dir", "reports_dir"):
            options[key] = str(Path(options[key]).absolute())
        return {
            "retrain": options,
            "base_url": self.base_url,
            "tracking_uri": self.tracking_uri,
            "start": self.start,
            "offline": self.offline,
        }

    @classmethod
    def from_parameters(cls, parameters: dict) -> LoopSettings:
        options = dict(parameters["retrain"])
        options["limits"] = Thresholds(**options.get("limits", {}))
        for key in ("data_dir", "model_dir", "reports_dir"):
            options[key] = Path(options[key])
        return cls(
            Retrain(**options),
            parameters.get("base_url"),
            parameters.get("tracking_uri"),
            parameters.get("start"),
            bool(parameters.get("offline", False)),
        ).validated()


def _next(month: str) -> str:
    import numpy as np

    return str(np.datetime64(month, "M") + 1)


def month_after(month: str) -> str:
    return _next(parse_month(month))
