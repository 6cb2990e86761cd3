"""The suite's order: each test file's measured seconds from a JUnit report
(``tools/test_durations.py``), and the slowest files first (``tests/conftest.py``)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from tests import conftest
from tools.test_durations import file_seconds

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.unit.test_fast" name="test_a" time="0.5"/>
<testcase classname="tests.orchestrate.test_slow" name="test_b" time="40.0"/>
<testcase classname="tests.unit.test_fast" name="test_c" time="1.0"/>
<testcase classname="tests.unit.test_grouped.TestSome" name="test_d" time="2.25"/>
<testcase classname="tests.unit.test_skipped" name="test_e" time="0"><skipped/></testcase>
</testsuite></testsuites>
"""


def test_seconds_add_up_per_file_with_classes_and_skips(tmp_path):
    report = tmp_path / "report.xml"
    report.write_text(REPORT)
    seconds = file_seconds(report)
    assert seconds == {
        "tests/orchestrate/test_slow.py": 40.0,
        "tests/unit/test_grouped.py": 2.2,  # rounded to a tenth
        "tests/unit/test_fast.py": 1.5,
        "tests/unit/test_skipped.py": 0.0,
    }
    assert list(seconds) == sorted(seconds, key=seconds.get, reverse=True)


def test_the_slowest_files_run_first_each_keeping_its_order(tmp_path, monkeypatch):
    durations = tmp_path / "durations.json"
    durations.write_text(json.dumps({"a.py": 1.0, "b.py": 30.0, "c.py": 5.0, "d.py": 2.0}))
    monkeypatch.setattr(conftest, "DURATIONS", durations)
    names = ["a.py::1", "a.py::2", "new.py::1", "b.py::1", "c.py::2", "c.py::1", "b.py::2"]
    items = [SimpleNamespace(nodeid=name) for name in names]
    conftest.slowest_first(items)
    # new.py was never measured: it weighs the median file (3.5 s), between c.py and d.py.
    assert [i.nodeid for i in items] == [
        "b.py::1", "b.py::2", "c.py::2", "c.py::1", "new.py::1", "a.py::1", "a.py::2",
    ]  # fmt: skip


def test_without_measurements_the_order_is_the_collections(tmp_path, monkeypatch):
    monkeypatch.setattr(conftest, "DURATIONS", tmp_path / "absent.json")
    items = [SimpleNamespace(nodeid=name) for name in ("z.py::1", "a.py::1")]
    conftest.slowest_first(items)
    assert [i.nodeid for i in items] == ["z.py::1", "a.py::1"]


def test_the_committed_measurements_name_files_that_exist():
    measured = json.loads(conftest.DURATIONS.read_text())
    root = conftest.DURATIONS.parents[1]
    assert measured and all((root / name).is_file() for name in measured), [
        name for name in measured if not (root / name).is_file()
    ]
