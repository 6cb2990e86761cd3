"""How often `loop serve` asks Prefect for runs due: as often as a short ``--interval`` says
(Prefect's runner asks every 10 s by default, so an interval of 2 s ran every 10-16 s), never
more than Prefect's default, and never against the user's own setting."""

import math

import pytest

pytest.importorskip("prefect", reason="Prefect is not installed: pip install -e '.[orchestrate]'")

from prefect.settings import PREFECT_RUNNER_POLL_FREQUENCY  # noqa: E402

from ride_duration.orchestrate import schedule  # noqa: E402


@pytest.mark.parametrize(
    ("interval", "seconds"),
    [(2, 2), (2.9, 2), (0.25, 1), (9, 9), (3600, 10), (math.inf, 10), (None, 10)],
)
def test_the_runner_asks_as_often_as_a_short_interval_says(interval, seconds, monkeypatch):
    monkeypatch.delenv("PREFECT_RUNNER_POLL_FREQUENCY", raising=False)
    default = PREFECT_RUNNER_POLL_FREQUENCY.value()
    assert default == 10
    with schedule.runner_polling(interval):
        assert PREFECT_RUNNER_POLL_FREQUENCY.value() == seconds
    assert PREFECT_RUNNER_POLL_FREQUENCY.value() == default


def test_a_frequency_the_user_set_is_kept(monkeypatch):
    monkeypatch.setenv("PREFECT_RUNNER_POLL_FREQUENCY", "7")
    before = PREFECT_RUNNER_POLL_FREQUENCY.value()
    with schedule.runner_polling(2):
        assert PREFECT_RUNNER_POLL_FREQUENCY.value() == before


@pytest.mark.parametrize(("cron", "interval", "seconds"), [(None, 3, 3), ("0 6 3 * *", None, 10)])
def test_serve_runs_the_deployment_under_that_polling(cron, interval, seconds, monkeypatch):
    monkeypatch.delenv("PREFECT_RUNNER_POLL_FREQUENCY", raising=False)
    served = []
    monkeypatch.setattr(schedule, "crash_orphans", list)
    monkeypatch.setattr(
        schedule,
        "_serve",
        lambda settings, when: served.append(
            (settings, when, PREFECT_RUNNER_POLL_FREQUENCY.value())
        ),
    )
    settings = object()  # passed through untouched to Prefect's serve
    schedule.serve_schedule(settings, cron, interval)
    expected = {"interval": interval} if interval else {"cron": cron}
    assert served == [(settings, expected, seconds)]
