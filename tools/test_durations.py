"""Each test file's measured seconds, from a pytest JUnit XML report, into
``tests/durations.json``: the suite runs its slowest files first (``tests/conftest.py``).
`make test-durations` runs the suite and writes it (python tools/test_durations.py REPORT).
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

DURATIONS = Path(__file__).resolve().parents[1] / "tests" / "durations.json"


def file_seconds(report: Path) -> dict[str, float]:
    """Seconds per test file (setup, call and teardown of its tests), slowest first."""
    seconds: Counter[str] = Counter()
    for case in ET.parse(report).iter("testcase"):
        # classname is the module's dotted path, then any class: tests.unit.test_x.TestY
        parts = case.get("classname", "").split(".")
        module = next((i for i, p in enumerate(parts) if p.startswith("test_")), len(parts) - 1)
        seconds["/".join(parts[: module + 1]) + ".py"] += float(case.get("time") or 0.0)
    return {name: round(s, 1) for name, s in seconds.most_common()}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python tools/test_durations.py REPORT.xml", file=sys.stderr)
        return 2
    measured = file_seconds(Path(argv[0]))
    DURATIONS.write_text(json.dumps(measured, indent=1) + "\n")
    print(f"{DURATIONS}: {len(measured)} files, {sum(measured.values()):.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
