"""The month's flow, run against Prefect's test harness (a temporary local API) and a loopback
TLC mirror: published, not published, download faults retried then failed, already decided,
promoted, kept, coverage out of band; its artifacts read back through Prefect's client."""

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import LESSON_MONTHS, copy_months
from tests.network.conftest import serving
from tests.operate.test_retrain import BACKFILL_ACTIONS, SHARED

pytest.importorskip("prefect", reason="Prefect is not installed: pip install -e '.[orchestrate]'")
pytest.importorskip("mlflow", reason="MLflow is not installed: pip install -e '.[mlflow]'")
# The lesson months, and where more are needed they are named: CI's newcomer run skips these.
pytestmark = pytest.mark.lesson_months_only

SPRING = ("green_tripdata_2021-03.parquet", "green_tripdata_2021-04.parquet")
NAME = "nyc-taxi-regressor"


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    """Prefect's temporary API for the module (its analytics off, its home a temp folder)."""
    home = tmp_path_factory.mktemp("prefect-home")
    patch = pytest.MonkeyPatch()
    patch.setenv("PREFECT_HOME", str(home))
    patch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    patch.setenv("RIDE_DURATION_LOOP_BACKOFF", "0.05")
    patch.delenv("PREFECT_API_URL", raising=False)
    from prefect.testing.utilities import prefect_test_harness

    try:
        with prefect_test_harness(server_startup_timeout=120):
            yield
    finally:
        patch.undo()


class Loop:
    """A user's project: the lesson months in data/, a mirror of other months, a store."""

    def __init__(self, tlc_dir: Path, root: Path, *months: str):
        self.root = root
        self.data = copy_months(tlc_dir, root / "data", LESSON_MONTHS[0])
        self.published = copy_months(tlc_dir, root / "tlc", *LESSON_MONTHS, *months)
        self.uri = f"sqlite:///{root / 'mlflow.db'}"

    def settings(self, mirror, **options):
        from ride_duration.monitoring.statistics import Thresholds
        from ride_duration.operate.retrain import Retrain
        from ride_duration.orchestrate.settings import LoopSettings

        limits = Thresholds(**options.pop("limits", {}))
        retrain = Retrain(
            data_dir=self.data,
            model_dir=self.root / "models",
            reports_dir=self.root / "reports",
            limits=limits,
            **options,
        )
        return LoopSettings(retrain, mirror.url, self.uri).as_parameters()

    def run(self, mirror, month=None, **options):
        from ride_duration.orchestrate.flow import retrain_month

        return retrain_month(self.settings(mirror, **options), month, return_state=True)

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def versions(self) -> list:
        return self.client().search_model_versions(f"name='{NAME}'")

    def champion(self) -> str:
        return str(self.client().get_model_version_by_alias(NAME, "champion").version)


def artifacts(key: str) -> dict:
    """The artifacts of a key, by type, as Prefect's API gives them back."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read():
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[key, f"{key}-statistics"])
                )
            )
            # A table comes back as the JSON text of its rows.
            return {a.type: json.loads(a.data) if a.type == "table" else a.data for a in found}

    return asyncio.run(read())


@pytest.fixture
def loop(harness, tlc_dir, tmp_path):
    return Loop(tlc_dir, tmp_path)


def test_a_published_month_is_downloaded_and_crowns_the_first_champion(loop):
    with serving(loop.published) as mirror:
        state = loop.run(mirror)  # the next month: the one after the newest in data/
    assert state.is_completed(), state.message
    assert state.message.startswith("2021-02: first champion (champion v1 RMSE 7.4808)")
    assert state.message.endswith("its 80% intervals cover 76.3% of the rides")
    assert mirror.hits["green_tripdata_2021-02.parquet"] == 1
    assert (loop.data / "green_tripdata_2021-02.parquet").is_file()
    assert loop.champion() == "1"
    summary = artifacts("retrain-green-2021-02")["markdown"]
    assert "# 2021-02: first champion" in summary and "RMSE 7.4808" in summary
    assert "monitor_green_2021-02.html" in summary


def test_a_month_not_yet_published_completes_saying_so(loop):
    with serving(loop.published) as mirror:
        assert loop.run(mirror).is_completed()
        mirror.modes["green_tripdata_2021-03.parquet"] = "404"
        state = loop.run(mirror)  # 2021-03: the CDN answers 403 or 404 for it
    assert state.is_completed() and state.message == "2021-03: not published yet; nothing to do"
    assert mirror.heads["green_tripdata_2021-03.parquet"] == 1  # asked, not fetched
    assert mirror.hits["green_tripdata_2021-03.parquet"] == 0
    assert not (loop.data / "green_tripdata_2021-03.parquet").exists()
    assert len(loop.versions()) == 1


@pytest.mark.tlc_files(SPRING[0])
def test_download_faults_are_retried_then_fail_in_one_line_and_the_month_is_tried_again(
    harness, tlc_dir, tmp_path
):
    loop = Loop(tlc_dir, tmp_path, SPRING[0])
    with serving(loop.published) as mirror:
        assert loop.run(mirror).is_completed()  # 2021-02 crowns the first champion
        mirror.modes["green_tripdata_2021-03.parquet"] = "drop-always"
        failed = loop.run(mirror)
        assert failed.is_failed()
        assert "\n" not in failed.message and "after 3 tries" in failed.message
        # Three tries in each of the task's four attempts: the download's own, then the flow's.
        assert mirror.hits["green_tripdata_2021-03.parquet"] == 4 * 3
        mirror.modes["green_tripdata_2021-03.parquet"] = "ok"
        again = loop.run(mirror)  # nothing was recorded: the same month, decided now
    assert again.is_completed() and again.message.startswith("2021-03: within thresholds")


@pytest.mark.tlc_files(SPRING[0])
def test_a_month_decided_already_changes_nothing_and_a_worse_challenger_is_kept(
    harness, tlc_dir, tmp_path
):
    loop = Loop(tlc_dir, tmp_path, SPRING[0])
    with serving(loop.published) as mirror:
        assert loop.run(mirror, window=1).is_completed()
        # A challenger trained on February alone does worse on March (7.4684) than the
        # champion trained on January (7.4552): kept out.
        kept = loop.run(mirror, window=1, always=True)
        assert kept.is_completed() and kept.message.startswith("2021-03: kept")
        versions, champion = len(loop.versions()), loop.champion()
        again = loop.run(mirror, "2021-03", window=1, always=True)
    assert again.is_completed() and again.message.startswith("already decided: 2021-03: kept")
    assert (len(loop.versions()), loop.champion()) == (versions, champion) == (2, "1")


@pytest.mark.tlc_files(*SPRING)
def test_a_better_challenger_is_promoted_and_coverage_out_of_its_band_is_crossed(
    harness, tlc_dir, tmp_path
):
    loop = Loop(tlc_dir, tmp_path, *SPRING)
    with serving(loop.published) as mirror:
        for _ in range(2):
            assert loop.run(mirror).is_completed()  # 2021-02 crowned, 2021-03 calm
        # April, with a tighter band for the intervals' coverage (the champion's is 0.757).
        state = loop.run(mirror, limits={"interval_coverage": (0.76, 0.84)})
    assert state.is_completed() and state.message.startswith("2021-04: promoted"), state.message
    assert loop.champion() == "2"
    found = artifacts("retrain-green-2021-04")
    (coverage,) = [row for row in found["table"] if row["statistic"] == "interval_coverage"]
    assert coverage["crossed"] is True and 0.75 < coverage["value"] < 0.76
    assert "interval_coverage: 0.757 outside 0.76..0.84" in found["markdown"]
    client = loop.client()
    version = client.get_model_version(NAME, "2")
    assert (
        version.tags["retrain.decision"] == "promoted"
        and version.tags["retrain.month"] == "2021-04"
    )


def test_without_prefect_the_loop_stops_at_once_naming_the_extra(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['prefect'] = None\n"
        "from ride_duration.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "loop", "run", "--month", "2021-02", "--offline"]
        + ["--data-dir", str(tmp_path), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "loop needs Prefect, which is not installed" in result.stderr
    assert "pip install -e '.[orchestrate]'" in result.stderr


def test_train_and_serve_do_not_import_prefect(tiny_months, tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from ride_duration.cli.main import main\n"
        "from ride_duration.serving.service import create_app\n"
        f"main(['train', '--offline', '--quiet', '--data-dir', {str(tiny_months)!r},"
        f" '--model-dir', {str(tmp_path / 'm')!r}])\n"
        f"create_app({str(tmp_path / 'm' / 'lin_reg.bin')!r})\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'prefect'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.tlc_files(*SHARED)
def test_a_backfill_through_the_flow_decides_as_retrain_does(harness, tlc_dir, tmp_path):
    """Each shared month a flow run of its own: the same decisions as `retrain --backfill`
    (tests/operate/test_retrain.py), and each month's coverage within the default band but
    where it was not, and the champion was replaced for it (May 2021: 74.9%)."""
    loop = Loop(tlc_dir, tmp_path, *SHARED)
    months = ["2021-02", *(name[15:22] for name in SHARED)]
    for name in months:
        shutil.copyfile(
            tlc_dir / f"green_tripdata_{name}.parquet", loop.data / f"green_tripdata_{name}.parquet"
        )
    with serving(loop.published) as mirror:
        states = [loop.run(mirror, month) for month in months]
    assert all(state.is_completed() for state in states), [s.message for s in states]
    actions = [state.message.split(": ", 1)[1].split(" (")[0] for state in states]
    assert actions == BACKFILL_ACTIONS
    outside = []
    for state, action in zip(states, actions):
        coverage = float(state.message.rsplit("cover ", 1)[1].split("%")[0]) / 100
        print(f"{state.message[:7]}: the champion's 80% intervals cover {coverage:.1%}")
        if not 0.75 <= coverage <= 0.85:
            assert action == "promoted", state.message
            outside.append(state.message[:7])
    assert outside == ["2021-05"]
