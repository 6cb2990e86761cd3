"""deploy/prometheus: the configuration and the alert rules are valid, and the rules' unit
tests (promtool test rules) pass: each alert fires when it should, and not before."""

from __future__ import annotations

import subprocess

from tests.live.stack import DEPLOY, binary


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary("promtool"), *args], cwd=DEPLOY, capture_output=True, text=True, timeout=60
    )


def test_the_rules_and_the_configuration_are_valid():
    rules = promtool("check", "rules", "rules.yml")
    assert rules.returncode == 0 and "SUCCESS: 6 rules found" in rules.stdout, rules.stderr
    config = promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_the_rules_unit_tests_pass():
    tested = promtool("test", "rules", "rules_test.yml")
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def test_the_alertmanager_configuration_is_valid():
    checked = subprocess.run(
        [binary("amtool", "prometheus-alertmanager-amtool"), "check-config", "alertmanager.yml"],
        cwd=DEPLOY,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0 and "SUCCESS" in checked.stdout, checked.stdout + checked.stderr


def test_every_metric_the_rules_read_is_one_the_service_exposes(tmp_path):
    import re
    from types import SimpleNamespace

    from prometheus_client.parser import text_string_to_metric_families

    from ride_duration.serving.metrics import ServiceMetrics
    from ride_duration.serving.recording import PredictionLog

    metadata = {"taxi": "green", "features": {"set": "lesson"}}
    metadata["metrics"] = {"train_mean_predicted": 16.85}
    source = SimpleNamespace(current=SimpleNamespace(version="v", metadata=metadata))
    metrics = ServiceMetrics(source, PredictionLog(tmp_path))
    metrics.request("/predict", "POST", 500, 0.3)
    metrics.scored([12.0, 14.0])
    exposed = {
        sample.name
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for sample in family.samples
    }
    read = set(re.findall(r"\b(ride_duration_[a-z_]+)", (DEPLOY / "rules.yml").read_text()))
    assert read and read <= exposed, read - exposed
