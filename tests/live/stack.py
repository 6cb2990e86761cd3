"""Prometheus and Alertmanager from Debian's packages (`prometheus`, `prometheus-alertmanager`),
started from the project's deploy/prometheus files on free loopback ports, for the live tests;
and a webhook receiver that records what Alertmanager delivers."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.serve.test_service import free_port

DEPLOY = REPO / "deploy" / "prometheus"
INSTALL = "Debian: apt-get install -y prometheus prometheus-alertmanager (.ci/run does)"


def binary(*names: str) -> str:
    for name in names:
        if found := shutil.which(name):
            return found
    pytest.skip(f"the live tier: {' or '.join(names)} is not installed ({INSTALL})")


def quick_rules(text: str, window: str = "6s", hold: str = "3s") -> str:
    """The project's rules with their windows and holds shortened for a test that runs for
    seconds, not hours: every expression is kept as it is written."""
    text = re.sub(r"\[\d+[smh]\]", f"[{window}]", text)
    text = re.sub(r"(?m)^(\s+for:) \d+[smh]$", rf"\1 {hold}", text)
    return text.replace("mean30m", "mean_quick").replace("shift30m", "shift_quick")


class Webhook:
    """An HTTP receiver of Alertmanager's webhook posts, in a thread."""

    def __init__(self):
        self.received: list[dict] = []
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self, name: str, status: str = "firing") -> list[dict]:
        return [
            alert
            for post in list(self.received)
            for alert in post["alerts"]
            if alert["labels"].get("alertname") == name and alert["status"] == status
        ]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Process:
    """A server process whose output goes to a file; stopped with SIGTERM, then killed."""

    def __init__(self, command: list[str], log: Path, ready: str):
        self.log_path = log
        self.log = open(log, "w")  # noqa: SIM115
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        give_up = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(ready, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > give_up:
                self.stop()
                raise AssertionError(f"{command[0]} did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class Stack:
    """Alertmanager (posting to a webhook) and Prometheus (scraping ``target``, evaluating
    the project's rules, quickened), both on free loopback ports."""

    def __init__(self, folder: Path, target: str):
        prometheus = binary("prometheus")
        alertmanager = binary("prometheus-alertmanager", "alertmanager")
        folder.mkdir(parents=True, exist_ok=True)
        self.webhook = Webhook()
        am_port, prom_port = free_port(), free_port()
        routes = (DEPLOY / "alertmanager.yml").read_text()
        routes = routes.replace("http://127.0.0.1:5001/alerts", self.webhook.url)
        routes = re.sub(r"group_wait: \S+", "group_wait: 1s", routes)
        routes = re.sub(r"group_interval: \S+", "group_interval: 1s", routes)
        (folder / "alertmanager.yml").write_text(routes)
        (folder / "rules.yml").write_text(quick_rules((DEPLOY / "rules.yml").read_text()))
        config = (DEPLOY / "prometheus.yml").read_text()
        config = config.replace('"127.0.0.1:9696"', f'"{target}"')
        config = config.replace('"127.0.0.1:9093"', f'"127.0.0.1:{am_port}"')
        config = re.sub(r"(scrape|evaluation)_interval: \S+", r"\1_interval: 1s", config)
        (folder / "prometheus.yml").write_text(config)
        self.alertmanager = Process(
            [
                alertmanager,
                f"--config.file={folder / 'alertmanager.yml'}",
                f"--storage.path={folder / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            folder / "alertmanager.log",
            f"http://127.0.0.1:{am_port}/-/ready",
        )
        try:
            self.url = f"http://127.0.0.1:{prom_port}"
            self.prometheus = Process(
                [
                    prometheus,
                    f"--config.file={folder / 'prometheus.yml'}",
                    f"--storage.tsdb.path={folder / 'prom-data'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                folder / "prometheus.log",
                f"{self.url}/-/ready",
            )
        except BaseException:
            self.alertmanager.stop()
            self.webhook.stop()
            raise

    def api(self, path: str, **query) -> dict:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=5) as answer:
            document = json.loads(answer.read())
        assert document["status"] == "success", document
        return document["data"]

    def value(self, expression: str) -> float | None:
        result = self.api("query", query=expression)["result"]
        return float(result[0]["value"][1]) if result else None

    def alert_state(self, name: str) -> str | None:
        for alert in self.api("alerts")["alerts"]:
            if alert["labels"].get("alertname") == name:
                return alert["state"]
        return None

    def stop(self):
        self.prometheus.stop()
        self.alertmanager.stop()
        self.webhook.stop()
