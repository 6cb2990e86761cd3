"""Downloads against a loopback TLC mirror: every fault mode, through the real CLI."""

import json

import pytest

from ride_duration.files import sha256_file
from tests.helpers import leftovers, run_cli

MONTH = "green_tripdata_2021-01.parquet"


def download(mirror_url, data_dir, *args):
    return run_cli("download", "--base-url", mirror_url, "--data-dir", str(data_dir), *args)


def train_from(mirror, root, *args):
    """`train` with an empty data dir under ``root``: every month comes from the mirror."""
    return run_cli(
        "train",
        *args,
        "--base-url",
        mirror.url,
        "--data-dir",
        str(root / "data"),
        "--model-dir",
        str(root / "models"),
    )


def test_download_is_byte_identical_recorded_and_cached(mirror, tlc_dir, tmp_path):
    result = download(mirror.url, tmp_path, "--taxi", "green", "--month", "2021-01")
    assert result.returncode == 0, result.stderr
    assert sha256_file(tmp_path / MONTH) == sha256_file(tlc_dir / MONTH)
    assert leftovers(tmp_path) == ["MANIFEST.json", MONTH]
    entry = json.loads((tmp_path / "MANIFEST.json").read_text())["files"][MONTH]
    assert entry["sha256"] == sha256_file(tlc_dir / MONTH)
    assert entry["url"] == f"{mirror.url}/trip-data/{MONTH}"
    assert mirror.hits[MONTH] == 1
    # Cached: no server needed at all the second time.
    again = download("http://127.0.0.1:9", tmp_path, "--taxi", "green", "--month", "2021-01")
    assert again.returncode == 0, again.stderr
    assert mirror.hits[MONTH] == 1


def test_403_says_the_month_is_not_published(mirror, tmp_path):
    mirror.modes[MONTH] = "403"
    result = download(mirror.url, tmp_path, "--taxi", "green", "--month", "2021-01")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "TLC has not published green trip data for 2021-01" in lines[0]
    assert f"{mirror.url}/trip-data/{MONTH}" in lines[0]
    assert mirror.hits[MONTH] == 1  # a 403 is an answer, not a fault: no retry
    assert leftovers(tmp_path) == []


def test_500_then_200_is_retried(mirror, tlc_dir, tmp_path):
    mirror.modes[MONTH] = "500-then-ok"
    result = download(mirror.url, tmp_path, "--taxi", "green", "--month", "2021-01")
    assert result.returncode == 0, result.stderr
    assert mirror.hits[MONTH] == 2
    assert sha256_file(tmp_path / MONTH) == sha256_file(tlc_dir / MONTH)


def test_body_cut_short_once_is_retried(mirror, tlc_dir, tmp_path):
    mirror.modes[MONTH] = "short-once"
    result = download(mirror.url, tmp_path, "--taxi", "green", "--month", "2021-01")
    assert result.returncode == 0, result.stderr
    assert mirror.hits[MONTH] == 2
    assert sha256_file(tmp_path / MONTH) == sha256_file(tlc_dir / MONTH)
    assert leftovers(tmp_path) == ["MANIFEST.json", MONTH]


def test_connection_closed_mid_body_every_time_fails_cleanly(mirror, tmp_path):
    mirror.modes[MONTH] = "drop-always"
    result = download(mirror.url, tmp_path, "--taxi", "green", "--month", "2021-01")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "after 3 tries" in result.stderr and "by hand" in result.stderr
    assert mirror.hits[MONTH] == 3
    assert leftovers(tmp_path) == []  # no final file, no .part


def test_html_page_with_status_200_is_refused(mirror, tmp_path):
    mirror.modes[MONTH] = "html"
    result = download(mirror.url, tmp_path, "--taxi", "green", "--month", "2021-01")
    assert result.returncode == 2
    assert "HTML" in result.stderr and "Traceback" not in result.stderr
    assert leftovers(tmp_path) == []


def test_unreachable_host_is_one_line_with_a_manual_fix(tmp_path):
    result = download("http://127.0.0.1:9", tmp_path, "--taxi", "green", "--month", "2021-01")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "cannot reach 127.0.0.1:9" in lines[0] and "place it at" in lines[0]
    assert leftovers(tmp_path) == []


def test_a_broken_file_under_the_final_name_is_never_replaced(mirror, tmp_path):
    (tmp_path / MONTH).write_bytes(b"PAR1 not really")
    result = download(mirror.url, tmp_path, "--taxi", "green", "--month", "2021-01")
    assert result.returncode == 2
    assert str(tmp_path / MONTH) in result.stderr and "delete" in result.stderr
    assert (tmp_path / MONTH).read_bytes() == b"PAR1 not really"
    assert mirror.hits[MONTH] == 0


@pytest.mark.parametrize(
    "args",
    [
        ("--taxi", "purple", "--month", "2021-01"),
        ("--taxi", "green", "--month", "2021-13"),
        ("--taxi", "green", "--month", "2008-12"),
        ("--taxi", "green", "--month", "2999-01"),
        ("--taxi", "green", "--month", "2021-01", "--month", "21-1"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(mirror, tmp_path, args):
    result = download(mirror.url, tmp_path, *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert sum(mirror.hits.values()) == 0
    assert leftovers(tmp_path) == []


@pytest.mark.tlc_files("taxi_zone_lookup.csv")
def test_zone_lookup_keeps_its_NA_zone_names(mirror, tmp_path):
    from ride_duration.data.dataset import read_zones

    result = download(mirror.url, tmp_path, "--zones")
    assert result.returncode == 0, result.stderr
    zones = read_zones(tmp_path / "taxi_zone_lookup.csv")
    assert len(zones) == 265
    assert not zones.isna().any().any()
    assert "NA" in set(zones["Zone"])  # zone 265, which pandas would read as missing


@pytest.mark.tlc_files("taxi_zone_lookup.csv")
def test_verify_reports_changed_files(mirror, tmp_path):
    assert download(mirror.url, tmp_path, "--month", "2021-01", "--zones").returncode == 0
    ok = download(mirror.url, tmp_path, "--verify")
    assert ok.returncode == 0
    assert [line.split()[0] for line in ok.stdout.splitlines()] == ["ok", "ok"]
    with open(tmp_path / MONTH, "r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00" * 16)
    bad = download(mirror.url, tmp_path, "--verify")
    assert bad.returncode == 2
    assert f"changed  {MONTH}" in bad.stdout
    assert MONTH in bad.stderr


def test_train_fetches_missing_months_itself(mirror, tmp_path):
    result = train_from(mirror, tmp_path, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n_train"] == 73908
    assert mirror.hits[MONTH] == 1 and mirror.hits["green_tripdata_2021-02.parquet"] == 1


def test_train_with_an_unpublished_month_exits_2(mirror, tmp_path):
    mirror.modes["green_tripdata_2021-02.parquet"] = "403"
    result = train_from(mirror, tmp_path)
    assert result.returncode == 2
    assert "TLC has not published green trip data for 2021-02" in result.stderr
    assert leftovers(tmp_path / "models") == []  # no model, no partial file


@pytest.mark.tlc_files("green_tripdata_2021-03.parquet")
def test_predict_fetches_the_month_it_scores(mirror, tmp_path):
    trained = train_from(mirror, tmp_path, "--json")
    assert trained.returncode == 0, trained.stderr
    scored = run_cli(
        "predict",
        "--json",
        "--model",
        str(tmp_path / "models/lin_reg.bin"),
        "--taxi",
        "green",
        "--month",
        "2021-03",
        "--base-url",
        mirror.url,
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert scored.returncode == 0, scored.stderr
    result = json.loads(scored.stdout)
    assert result["n_rows"] > 70000 and 5 < result["rmse"] < 12
    assert mirror.hits["green_tripdata_2021-03.parquet"] == 1
