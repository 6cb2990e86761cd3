"""Hostile and odd inputs, through the CLI: each ends with exit 0 (the odd rows dropped and
counted) or exit 2 with one or two lines; never a traceback, NaN, Infinity or a broken file."""

import datetime as dt
import json
import math
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ride_duration import cli, load_model
from tests.helpers import (
    assert_clean_failure,
    leftovers,
    run_cli,
    simple_rides,
    write_green,
)


def train(data_dir, model_dir, *extra):
    return run_cli(
        "train",
        "--offline",
        "--quiet",
        "--json",
        "--data-dir",
        str(data_dir),
        "--model-dir",
        str(model_dir),
        *extra,
    )


def strict_json(text):
    """JSON as the standard defines it: NaN and Infinity are refused."""

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def with_distance(month, index, distance):
    rides = simple_rides(month)
    rides[index] = (*rides[index][:4], distance)
    return rides


def months_with(tmp_path, train_distance=1.0, val_distance=1.0):
    data = tmp_path / "data"
    write_green(data, "2021-01", with_distance(1, 3, train_distance))
    write_green(data, "2021-02", with_distance(2, 5, val_distance))
    return data


@pytest.mark.parametrize("model", ["linear", "ridge"])
@pytest.mark.parametrize(
    ("train_distance", "val_distance"),
    [(math.inf, 1.0), (1.0, math.inf), (math.nan, -math.inf)],
    ids=["inf-in-train", "inf-in-val", "nan-and-minus-inf"],
)
def test_a_distance_that_is_not_finite_drops_its_ride(
    tmp_path, model, train_distance, val_distance
):
    data = months_with(tmp_path, train_distance, val_distance)
    result = train(data, tmp_path / "models", "--model", model)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = strict_json(result.stdout)
    assert out["rows"]["train"]["dropped_missing_feature"] + out["rows"]["val"][
        "dropped_missing_feature"
    ] == 2 - (train_distance == 1.0) - (val_distance == 1.0)
    meta = (tmp_path / "models" / f"{'lin_reg' if model == 'linear' else 'ridge'}.json").read_text()
    strict_json(meta)


@pytest.mark.parametrize("model", ["linear", "ridge"])
def test_a_fit_that_overflows_is_refused_and_the_good_model_stays(tmp_path, model):
    good = months_with(tmp_path / "good")
    models = tmp_path / "models"
    assert train(good, models, "--model", model, "--name", "m").returncode == 0
    before = (models / "m.bin").read_bytes(), (models / "m.json").read_bytes()
    bad = months_with(tmp_path / "bad", train_distance=1e300)
    result = train(bad, models, "--model", model, "--name", "m")
    assert_clean_failure(result, "overflow")
    assert ((models / "m.bin").read_bytes(), (models / "m.json").read_bytes()) == before
    assert leftovers(models) == ["m.bin", "m.json"]


@pytest.mark.parametrize("distance", ["nan", "inf", "-inf"])
def test_predict_refuses_a_distance_that_is_not_a_number(tmp_path, distance):
    data = months_with(tmp_path)
    assert train(data, tmp_path / "models").returncode == 0
    result = run_cli(
        "predict",
        "--model",
        str(tmp_path / "models/lin_reg.bin"),
        "--pu",
        "1",
        "--do",
        "4",
        f"--distance={distance}",
    )
    assert_clean_failure(result, "--distance must be a finite number")


def write_columns(path, pickup, dropoff, n=None):
    """A green month whose timestamp columns are the given Arrow arrays."""
    n = n or len(pickup)
    table = pa.table(
        {
            "lpep_pickup_datetime": pickup,
            "lpep_dropoff_datetime": dropoff,
            "PULocationID": pa.array([1 + i % 3 for i in range(n)], pa.int64()),
            "DOLocationID": pa.array([4 + i % 2 for i in range(n)], pa.int64()),
            "trip_distance": pa.array([1.0 + i % 5 for i in range(n)], pa.float64()),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def text_times(month, offsets, minutes=12, n=40):
    pickups, dropoffs = [], []
    for i in range(n):
        start = dt.datetime(2021, month, 1 + i % 27, 8 + i % 10)
        zone = offsets[i % len(offsets)]
        pickups.append(start.isoformat() + zone)
        dropoffs.append((start + dt.timedelta(minutes=minutes + i % 5)).isoformat() + zone)
    return pa.array(pickups), pa.array(dropoffs)


@pytest.mark.parametrize(
    "offsets",
    [["Z"], ["+05:00"], ["+01:00", "-04:00"], ["", "+02:00"]],
    ids=["utc-suffix", "one-offset", "mixed-offsets", "naive-and-offset"],
)
def test_timestamp_strings_with_zones_are_read(tmp_path, offsets):
    data = tmp_path / "data"
    for month in (1, 2):
        write_columns(data / f"green_tripdata_2021-0{month}.parquet", *text_times(month, offsets))
    result = train(data, tmp_path / "models")
    assert result.returncode == 0, result.stderr
    out = strict_json(result.stdout)
    assert out["n_train"] == 40 and out["n_val"] == 40  # 12-16 minutes each, all kept


def test_timestamps_far_outside_pandas_range_are_missing_times(tmp_path):
    data = tmp_path / "data"
    for month in (1, 2):
        base = dt.datetime(2021, month, 3, 8)
        pickups = [base + dt.timedelta(hours=i) for i in range(40)]
        dropoffs = [p + dt.timedelta(minutes=10) for p in pickups]
        millis = [int(p.replace(tzinfo=dt.timezone.utc).timestamp() * 1000) for p in pickups]
        millis[0] = 10**16  # about the year 318857
        millis[1] = -(10**16)
        write_columns(
            data / f"green_tripdata_2021-0{month}.parquet",
            pa.array(millis, pa.timestamp("ms")),
            pa.array(dropoffs, pa.timestamp("ms")),
        )
    result = train(data, tmp_path / "models")
    assert result.returncode == 0, result.stderr
    out = strict_json(result.stdout)
    assert out["rows"]["train"]["dropped_missing_time"] == 2 and out["n_train"] == 38


@pytest.mark.parametrize("per_second", [1, 1_000, 1_000_000], ids=["s", "ms", "us"])
def test_integer_epoch_timestamps_are_read_in_their_unit(tmp_path, per_second):
    data = tmp_path / "data"
    for month in (1, 2):
        rides = simple_rides(month)
        epoch = [
            [int(r[k].replace(tzinfo=dt.timezone.utc).timestamp() * per_second) for r in rides]
            for k in (0, 1)
        ]
        write_columns(data / f"green_tripdata_2021-0{month}.parquet", *map(pa.array, epoch))
    result = train(data, tmp_path / "models")
    assert result.returncode == 0, result.stderr
    reference = train(months_with(tmp_path / "ref"), tmp_path / "ref-models")
    ours, theirs = strict_json(result.stdout), strict_json(reference.stdout)
    assert ours["n_train"] == theirs["n_train"] == 40
    assert ours["rows"]["train"]["flagged_outside_month"] == 0


def test_two_columns_with_the_same_name(tmp_path):
    data = tmp_path / "data"
    write_green(data, "2021-02", simple_rides(2))
    path = write_green(data, "2021-01", simple_rides(1))
    table = pq.read_table(path)
    doubled = pa.Table.from_arrays(
        [*table.columns, table.column("PULocationID")], names=[*table.column_names, "PULocationID"]
    )
    pq.write_table(doubled, path)
    assert_clean_failure(train(data, tmp_path / "models"), "'PULocationID' appears more than once")


def test_a_month_written_with_non_ascii_digits(tmp_path):
    result = train(tmp_path, tmp_path / "models", "--train", "２０２１-０１")
    assert_clean_failure(result, "is not a real month")


def test_a_month_file_that_is_a_folder(tmp_path):
    data = months_with(tmp_path)
    (data / "green_tripdata_2021-01.parquet").unlink()
    (data / "green_tripdata_2021-01.parquet").mkdir()
    assert_clean_failure(train(data, tmp_path / "models"), "is a folder, not a parquet file")


@pytest.mark.parametrize(
    "document", ['["not", "a", "manifest"]', '{"files": []}', '{"files": {"a.parquet": 3}}', "7"]
)
def test_a_manifest_of_the_wrong_shape(tmp_path, document):
    data = months_with(tmp_path)
    (data / "MANIFEST.json").write_text(document)
    verify = run_cli("download", "--verify", "--data-dir", str(data))
    assert_clean_failure(verify, "MANIFEST.json: not a download manifest")
    assert_clean_failure(train(data, tmp_path / "models"), "not a download manifest")


def test_plots_out_naming_an_existing_file(tmp_path):
    data = months_with(tmp_path)
    assert train(data, tmp_path / "models").returncode == 0
    (tmp_path / "taken").write_text("a file, not a folder")
    result = run_cli(
        "plots",
        "--model",
        str(tmp_path / "models/lin_reg.bin"),
        "--data-dir",
        str(data),
        "--out",
        str(tmp_path / "taken"),
    )
    assert_clean_failure(result, str(tmp_path / "taken"))


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("127.0.0.1:8000", "write it as http(s)://host"),
        ("ftp://127.0.0.1/", "write it as http(s)://host"),
        ("http://127.0.0.1:99999999", "port is not a number"),
        ("http://127.0.0.1:eighty", "port is not a number"),
        ("http://[::1", "Invalid IPv6 URL"),
        ("http://[::1]]:80", "write it as http(s)://host"),
        ("http://exa mple.com", "without spaces"),
        ("http://mirror\n.example", "printable ASCII"),
        ("http://例え.jp", "printable ASCII"),
        ("http://:8000", "write it as http(s)://host"),
        ("http://127.0.0.1:0", "port is not a number"),
        ("http://a..b/", "is not a host name"),
        ("http://user:secret@mirror.example", "without a query, a fragment or a user name"),
        ("http://mirror.example/?month=1", "without a query"),
    ],
)
def test_a_base_url_that_is_not_http_is_refused_before_any_request(tmp_path, url, fragment):
    result = run_cli(
        "download", "--month", "2021-01", "--base-url", url, "--data-dir", str(tmp_path)
    )
    assert_clean_failure(result, fragment)
    assert leftovers(tmp_path) == []
    from_environment = run_cli(
        "train", "--data-dir", str(tmp_path), env={"RIDE_DURATION_BASE_URL": url}
    )
    assert_clean_failure(from_environment, fragment, "RIDE_DURATION_BASE_URL")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | st.from_regex(r"https?://[^/]{0,20}(/.{0,10})?", fullmatch=True))
def test_any_base_url_is_accepted_or_refused_in_one_line(url):
    from ride_duration.data.download import month_url
    from ride_duration.uris import AddressError, check_base_url

    try:
        checked = check_base_url(url)
    except AddressError as exc:
        assert "\n" not in str(exc).replace(repr(url), "")
        return
    assert month_url("green", "2021-01", checked).startswith(checked + "/trip-data/")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("", "--name ''"), ("*", "--name '*'"), ("../x", "--name '../x'"), (".hidden", "--name")],
    ids=["empty", "star", "path", "hidden"],
)
def test_model_names_must_be_plain(tmp_path, name, fragment):
    data = months_with(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    stranger = models / ".other.bin.abcd1234.tmp"  # another model's save in progress
    stranger.write_text("in progress")
    assert_clean_failure(train(data, models, "--name", name), fragment)
    assert stranger.exists() and not (models / "lin_reg.bin").exists()


def test_a_model_name_too_long_is_refused_before_training(tmp_path):
    data = months_with(tmp_path)
    result = train(data, tmp_path / "models", "--name", "m" * 250)
    assert_clean_failure(result, "characters long")
    assert result.stdout == ""


def test_ridge_summary_shows_its_solver_and_alpha(tmp_path):
    data = months_with(tmp_path)
    result = run_cli(
        "train",
        "--offline",
        "--data-dir",
        str(data),
        "--model-dir",
        str(tmp_path / "m"),
        "--model",
        "ridge",
        "--alpha",
        "0.5",
    )
    assert result.returncode == 0, result.stderr
    assert "ridge (exact ridge, alpha=0.5)" in result.stdout
    assert "scikit-learn default" not in result.stdout


@pytest.mark.parametrize("target", ["month", "model", "manifest"])
def test_a_file_the_os_will_not_let_us_read(monkeypatch, tmp_path, capsys, target):
    """Root reads any file, so the OS's "permission denied" is raised where the file is
    opened; what must hold is how the CLI reports it."""
    import pyarrow.parquet

    data = months_with(tmp_path)
    models = tmp_path / "models"
    assert (
        cli.main(
            ["train", "--offline", "--quiet", "--data-dir", str(data), "--model-dir", str(models)]
        )
        == 0
    )
    capsys.readouterr()
    denied = {
        "month": data / "green_tripdata_2021-01.parquet",
        "model": models / "lin_reg.bin",
        "manifest": data / "MANIFEST.json",
    }[target]
    if target == "manifest":
        denied.write_text('{"files": {}}')
    real_parquet, real_read_bytes, real_read_text = (
        pyarrow.parquet.ParquetFile,
        type(denied).read_bytes,
        type(denied).read_text,
    )

    def refuse(path):
        if str(path) == str(denied):
            raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(
        pyarrow.parquet, "ParquetFile", lambda p, **k: refuse(p) or real_parquet(p, **k)
    )
    monkeypatch.setattr(type(denied), "read_bytes", lambda p: refuse(p) or real_read_bytes(p))
    real_open = os.open  # what load_model opens a model file with
    monkeypatch.setattr(os, "open", lambda p, *a, **k: refuse(p) or real_open(p, *a, **k))
    monkeypatch.setattr(
        type(denied), "read_text", lambda p, *a, **k: refuse(p) or real_read_text(p, *a, **k)
    )
    if target == "model":
        argv = ["predict", "--model", str(denied), "--pu", "1", "--do", "4", "--distance", "2"]
    else:
        argv = [
            "train",
            "--offline",
            "--quiet",
            "--data-dir",
            str(data),
            "--model-dir",
            str(models),
            "--name",
            "again",
        ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert str(denied) in err and "ermission denied" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_the_pipeline_of_a_good_run_has_finite_numbers(tmp_path):
    data = months_with(tmp_path)
    assert train(data, tmp_path / "models", "--model", "ridge").returncode == 0
    model = load_model(tmp_path / "models/ridge.bin")
    assert np.isfinite(model[-1].coef_).all()
