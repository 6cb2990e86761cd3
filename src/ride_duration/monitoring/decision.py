"""What one step of the retraining loop decides about a month, and the rule it decides by:
train a challenger when the champion crosses a threshold on the month (or always, if asked),
and promote it only if its RMSE on the month is lower than the champion's."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

PROMOTED, FIRST, KEPT, CALM = "promoted", "first champion", "kept", "within thresholds"
ACTIONS = (FIRST, CALM, PROMOTED, KEPT)


def wants_challenger(crossed: list[str], always: bool) -> bool:
    return bool(crossed) or always


def verdict(champion_rmse: float, challenger_rmse: float) -> str:
    """Promoted only when strictly better on the month both were scored on."""
    return PROMOTED if challenger_rmse < champion_rmse else KEPT


@dataclass
class Decision:
    """One month of the loop: the action, the versions and their RMSEs on the month, the
    thresholds the champion crossed, its prediction drift, and where the report went."""

    month: str
    action: str
    window: list[str]
    champion: str | None = None  # the version in force when the month was watched
    challenger: str | None = None
    champion_rmse: float | None = None
    challenger_rmse: float | None = None
    crossed: list[str] = field(default_factory=list)
    prediction_drift: float | None = None
    coverage: float | None = None  # the champion's interval coverage on the month
    report: str | None = None
    resumed: bool = False  # read back from the record of an earlier step, not taken now

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
