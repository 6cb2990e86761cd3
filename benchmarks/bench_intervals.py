"""Prediction intervals side by side with MAPIE's on every consecutive pair of shared months.

On the same rides (the 1-60 minute rule) of each pair (train on the first month, measure on
the second), for the lesson and the rich model:

- ours: what `ride-duration train` learns and saves (``modeling.intervals``, each ride's
  scales from ``modeling.scales``, read from its zones, distance and pickup time);
- MAPIE split conformal, absolute residuals, on the same exact fit (fitted on 80% of the
  training month, conformalized on the other 20%);
- MAPIE jackknife+-after-bootstrap, 30 bootstrap fits of the same exact fit;
- MAPIE conformalized quantile regression (CQR) on LightGBM quantile models of the zones,
  distance, pickup hour and weekday (its own model, the same for lesson and rich).

Each method's intervals are swept over levels; reported are coverage and mean width at 80%,
the width read at an equal coverage of 80% from the sweep (the fair comparison: a method
that covers less is narrower for free), the worst coverage over the bands of predicted
duration and of distance (0-2, 2-5, 5-10, over 10 miles), and the fit seconds. MAPIE's
jackknife+ builds a rides x training-rides matrix when predicting, so it predicts in batches.
Run: `make bench` (installs MAPIE and LightGBM, benchmark requirements only), or alone:
`python benchmarks/bench_intervals.py [--pairs 2] [--json out.json]`.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from common import add_tlc_dir
from sklearn.base import BaseEstimator, RegressorMixin

HERE = Path(__file__).resolve().parent
LEVEL, TARGET_COVERAGE = 0.8, 0.80
SWEEP = np.round(np.arange(0.60, 0.961, 0.02), 3)
CQR_SWEEP = (0.70, 0.75, 0.80, 0.85, 0.90)  # CQR fits its quantile models per level
DURATION_BANDS = (6.0, 9.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0)
DISTANCE_BANDS = (2.0, 5.0, 10.0)
MIN_BAND_RIDES = 100  # bands with fewer rides are not judged (they are listed)
BAND_LIMITS = (0.72, 0.88)
OVERALL_LIMITS = (0.78, 0.82)
BOOTSTRAPS, CALIBRATION_SHARE, SEED = 30, 0.2, 20210101
PREDICT_BATCH = 2_000
# Jackknife+ takes, for every validation ride and level, quantiles over every training
# ride's out-of-bag prediction (MAPIE: a NumPy nanquantile per ride, some 4 ms each), so it
# is measured on a fixed sample of validation rides (--jackknife-rides; the standard error
# of a coverage on 5,000 rides is 0.006) at three levels.
JACKKNIFE_RIDES, JACKKNIFE_SWEEP = 5_000, (0.75, 0.80, 0.85)


@dataclass
class Row:
    pair: str
    features: str
    method: str
    coverage: float  # at LEVEL
    width: float  # mean width at LEVEL, minutes
    width_at_equal_coverage: float  # at TARGET_COVERAGE, read from the sweep
    worst_band: str
    worst_band_coverage: float
    fit_seconds: float


def consecutive_pairs(tlc: Path) -> list[tuple[str, str]]:
    months = sorted(
        p.name.removeprefix("green_tripdata_").removesuffix(".parquet")
        for p in tlc.glob("green_tripdata_*.parquet")
    )
    pairs = []
    for first, second in zip(months, months[1:]):
        year, month = map(int, first.split("-"))
        following = f"{year + month // 12}-{month % 12 + 1:02d}"
        if second == following:
            pairs.append((first, second))
    return pairs


def bands_of(predicted: np.ndarray, distance: np.ndarray) -> dict[str, np.ndarray]:
    """Each ride's band of predicted duration and of distance, by name."""
    out = {}
    edges = (0.0, *DURATION_BANDS, np.inf)
    at = np.searchsorted(DURATION_BANDS, predicted, side="right")
    for b in range(len(edges) - 1):
        out[f"predicted {edges[b]:g}-{edges[b + 1]:g} min"] = at == b
    miles = np.where(np.isfinite(distance), distance, 0.0)
    edges = (0.0, *DISTANCE_BANDS, np.inf)
    at = np.searchsorted(DISTANCE_BANDS, miles, side="right")
    for b in range(len(edges) - 1):
        out[f"{edges[b]:g}-{edges[b + 1]:g} mi"] = at == b
    return out


def judged(actual, lower, upper, predicted, distance, name, seconds, sweep, pair, features):
    """A Row from the intervals at LEVEL and the (coverage, width) sweep."""
    inside = (actual >= lower) & (actual <= upper)
    worst, worst_coverage = "", 1.0
    for band, member in bands_of(predicted, distance).items():
        if member.sum() >= MIN_BAND_RIDES and inside[member].mean() < worst_coverage:
            worst, worst_coverage = band, float(inside[member].mean())
    return Row(
        pair,
        features,
        name,
        float(inside.mean()),
        float(np.mean(upper - lower)),
        at_coverage(sweep),
        worst,
        worst_coverage,
        seconds,
    )


def at_coverage(sweep: list[tuple[float, float]]) -> float:
    """The width at TARGET_COVERAGE, interpolated between the sweep's two nearest points
    (extended along the nearest segment when every point covers more, or less)."""
    coverages, widths = map(np.asarray, zip(*sorted(sweep)))
    below = np.flatnonzero(coverages <= TARGET_COVERAGE)
    i = min(max(below[-1] if len(below) else 0, 0), len(coverages) - 2)
    (c0, c1), (w0, w1) = coverages[i : i + 2], widths[i : i + 2]
    return float(w0 + (w1 - w0) * (TARGET_COVERAGE - c0) / (c1 - c0)) if c1 > c0 else float(w0)


def swept(actual, bounds_at, levels) -> list[tuple[float, float]]:
    out = []
    for level in levels:
        lower, upper = bounds_at(level)
        inside = (actual >= lower) & (actual <= upper)
        out.append((float(inside.mean()), float(np.mean(upper - lower))))
    return out


class ExactFit(RegressorMixin, BaseEstimator):
    """The project's exact fit as a scikit-learn regressor for MAPIE: X holds row numbers
    of ``frame`` (training rides then validation rides), so MAPIE's resampling picks rides."""

    def __init__(self, features: str = "lesson", frame=None):
        self.features, self.frame = features, frame

    def __sklearn_clone__(self):  # the frame is shared, not deep-copied per bootstrap
        return ExactFit(self.features, self.frame)

    def fit(self, X, y):
        from ride_duration.modeling.fit import fit
        from ride_duration.modeling.options import TrainOptions

        rows = np.asarray(X)[:, 0].astype(np.int64)
        rides = self.frame.iloc[rows].reset_index(drop=True).assign(duration=np.asarray(y))
        self.model_ = fit(TrainOptions(features=self.features), rides, intervals=False).model
        self.n_features_in_ = 1
        return self

    def predict(self, X):
        rows = np.asarray(X)[:, 0].astype(np.int64)
        return self.model_.predict_frame(self.frame.iloc[rows].reset_index(drop=True))


def in_batches(predict_interval, X) -> tuple[np.ndarray, np.ndarray]:
    """(predictions, bounds) of MAPIE's predict_interval, a batch of rides at a time."""
    points, bounds = [], []
    for start in range(0, len(X), PREDICT_BATCH):
        point, bound = predict_interval(X[start : start + PREDICT_BATCH])
        points.append(point)
        bounds.append(bound)
    return np.concatenate(points), np.concatenate(bounds)


def lgbm_features(frame):
    import pandas as pd

    pickup = pd.to_datetime(frame["pickup_datetime"])
    return pd.DataFrame(
        {
            "pu": frame["PULocationID"].astype(str).astype(int).astype("category"),
            "do": frame["DOLocationID"].astype(str).astype(int).astype("category"),
            "distance": frame["trip_distance"].to_numpy(float),
            "hour": pickup.dt.hour.to_numpy(),
            "weekday": pickup.dt.day_of_week.to_numpy(),
        }
    )


def measure_pair(
    tlc: Path, pair: tuple[str, str], quiet: bool, jackknife_rides: int = JACKKNIFE_RIDES
) -> list[Row]:
    import pandas as pd
    from mapie.regression import JackknifeAfterBootstrapRegressor, SplitConformalRegressor

    from ride_duration.data.prepare import load_prepared
    from ride_duration.modeling.fit import fit
    from ride_duration.modeling.options import TrainOptions

    first, second = pair
    name = f"{first} -> {second}"
    train, _ = load_prepared("green", first, tlc, timestamps="pickup")
    val, _ = load_prepared("green", second, tlc, timestamps="pickup")
    actual, distance = val["duration"].to_numpy(), val["trip_distance"].to_numpy(float)
    both = pd.concat([train, val], ignore_index=True)
    for column in ("PULocationID", "DOLocationID", "PU_DO"):
        if column in both:  # categories of both months, for iloc of either
            both[column] = both[column].astype(str).astype("category")
    train_rows = np.arange(len(train)).reshape(-1, 1)
    val_rows = np.arange(len(train), len(both)).reshape(-1, 1)
    y = train["duration"].to_numpy()
    rng = np.random.default_rng(SEED)
    calibration = rng.random(len(train)) < CALIBRATION_SHARE
    sample = np.sort(rng.choice(len(val), min(jackknife_rides, len(val)), replace=False))
    rows: list[Row] = []

    def say(row: Row) -> None:
        rows.append(row)
        if not quiet:
            print("  " + json.dumps(asdict(row)), flush=True)

    for features in ("lesson", "rich"):
        start = time.perf_counter()
        model = fit(TrainOptions(features=features), train).model
        seconds = time.perf_counter() - start
        predicted = model.predict_frame(val)
        bounds_at = functools.partial(_bounds, model, predicted, val)
        sweep = swept(actual, bounds_at, SWEEP)
        lower, upper = bounds_at(LEVEL)
        say(judged(actual, lower, upper, predicted, distance, "ours", seconds, sweep, name,
                   features))  # fmt: skip

        start = time.perf_counter()
        fitted = ExactFit(features, both).fit(train_rows[~calibration], y[~calibration])
        split = SplitConformalRegressor(fitted, confidence_level=list(SWEEP), prefit=True)
        split.conformalize(train_rows[calibration], y[calibration])
        seconds = time.perf_counter() - start
        point, bounds = in_batches(split.predict_interval, val_rows)
        say(_mapie_row(actual, point, bounds, distance, SWEEP, "MAPIE split", seconds, name,
                       features))  # fmt: skip

        start = time.perf_counter()
        jackknife = JackknifeAfterBootstrapRegressor(
            ExactFit(features, both),
            confidence_level=list(JACKKNIFE_SWEEP),
            resampling=BOOTSTRAPS,
            random_state=SEED,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            jackknife.fit_conformalize(train_rows, y)
        seconds = time.perf_counter() - start
        point, bounds = in_batches(jackknife.predict_interval, val_rows[sample])
        say(_mapie_row(actual[sample], point, bounds, distance[sample], JACKKNIFE_SWEEP,
                       f"MAPIE jackknife+-after-bootstrap ({BOOTSTRAPS}; {len(sample):,} rides)",
                       seconds, name, features))  # fmt: skip

    cqr = _cqr(train, val, calibration, actual, distance, name)
    for features in ("lesson", "rich"):
        say(Row(**{**asdict(cqr), "features": features}))
    return rows


def _bounds(model, predicted, rides, level):
    return model.predict_intervals(predicted, level, rides)


def _mapie_row(actual, point, bounds, distance, levels, method, seconds, pair, features) -> Row:
    """A Row from MAPIE's bounds (rides x 2 x levels, in the order of ``levels``)."""
    sweep = [
        (
            float(np.mean((actual >= bounds[:, 0, i]) & (actual <= bounds[:, 1, i]))),
            float(np.mean(bounds[:, 1, i] - bounds[:, 0, i])),
        )
        for i in range(len(levels))
    ]
    at = int(np.argmin(np.abs(np.asarray(levels) - LEVEL)))
    lower, upper = bounds[:, 0, at], bounds[:, 1, at]
    return judged(actual, lower, upper, point, distance, method, seconds, sweep, pair, features)


def _cqr(train, val, calibration, actual, distance, pair) -> Row:
    """MAPIE's conformalized quantile regression on LightGBM, fitted once per level."""
    from lightgbm import LGBMRegressor
    from mapie.regression import ConformalizedQuantileRegressor

    X, X_val = lgbm_features(train), lgbm_features(val)
    y = train["duration"].to_numpy()
    sweep, at_level, seconds = [], None, 0.0
    for level in CQR_SWEEP:
        start = time.perf_counter()
        regressor = LGBMRegressor(
            objective="quantile", alpha=0.5, n_estimators=200, learning_rate=0.1, num_leaves=63,
            min_child_samples=50, verbose=-1, random_state=SEED,
        )  # fmt: skip
        cqr = ConformalizedQuantileRegressor(regressor, confidence_level=level)
        cqr.fit(X[~calibration], y[~calibration])
        cqr.conformalize(X[calibration], y[calibration])
        took = time.perf_counter() - start
        point, bounds = cqr.predict_interval(X_val)
        lower, upper = bounds[:, 0, 0], bounds[:, 1, 0]
        inside = (actual >= lower) & (actual <= upper)
        sweep.append((float(inside.mean()), float(np.mean(upper - lower))))
        if level == LEVEL:
            at_level, seconds = (lower, upper, point), took
    lower, upper, point = at_level
    return judged(actual, lower, upper, point, distance, "MAPIE CQR (LightGBM)", seconds,
                  sweep, pair, "")  # fmt: skip


def summary(rows: list[Row]) -> list[str]:
    """Per feature set: on how many pairs ours is narrower than every MAPIE method at equal
    coverage, has every band within the limits, and its overall coverage within limits."""
    lines = []
    for features in ("lesson", "rich"):
        ours = [r for r in rows if r.features == features and r.method == "ours"]
        narrower, bands_ok, overall_ok, losses = 0, 0, 0, []
        for row in ours:
            others = [
                r for r in rows
                if r.pair == row.pair and r.features == features and r.method != "ours"
            ]  # fmt: skip
            beaten = [r for r in others if row.width_at_equal_coverage < r.width_at_equal_coverage]
            narrower += len(beaten) == len(others)
            losses += [
                f"{row.pair} {r.method} {r.width_at_equal_coverage:.2f} vs ours "
                f"{row.width_at_equal_coverage:.2f}"
                for r in others
                if r not in beaten
            ]
            bands_ok += BAND_LIMITS[0] <= row.worst_band_coverage
            overall_ok += OVERALL_LIMITS[0] <= row.coverage <= OVERALL_LIMITS[1]
        lines.append(
            f"{features}: narrower than every MAPIE method at equal coverage on {narrower} of "
            f"{len(ours)} pairs; worst band >= {BAND_LIMITS[0]} on {bands_ok}; overall "
            f"coverage in {OVERALL_LIMITS} on {overall_ok}"
        )
        lines += [f"  wider: {loss}" for loss in losses]
    return lines


def table(rows: list[Row]) -> list[str]:
    out = [
        "| pair | features | method | coverage | width | width at 80% coverage | worst band "
        "(coverage) | fit s |",
        "|---|---|---|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r.pair} | {r.features} | {r.method} | {r.coverage:.3f} | {r.width:.2f} | "
            f"{r.width_at_equal_coverage:.2f} | {r.worst_band} ({r.worst_band_coverage:.2f}) | "
            f"{r.fit_seconds:.1f} |"
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_tlc_dir(parser)
    parser.add_argument("--pairs", type=int, help="only the first N pairs")
    parser.add_argument(
        "--pair", action="append", metavar="MONTH", help="only the pair starting in MONTH"
    )
    parser.add_argument(
        "--jackknife-rides",
        type=int,
        default=JACKKNIFE_RIDES,
        help="validation rides jackknife+ is measured on (default %(default)s)",
    )
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    try:
        import lightgbm  # noqa: F401
        import mapie  # noqa: F401
    except ImportError as exc:
        print(f"bench_intervals: {exc.name} is missing: `make .venv/.installed-bench`")
        return 2
    pairs = consecutive_pairs(args.tlc_dir)[: args.pairs]
    if args.pair:
        pairs = [p for p in pairs if p[0] in args.pair]
    if not pairs:
        print(f"bench_intervals: no consecutive green months in {args.tlc_dir}")
        return 2
    rows: list[Row] = []
    for pair in pairs:
        if not args.quiet:
            print(f"{pair[0]} -> {pair[1]}", flush=True)
        rows += measure_pair(args.tlc_dir, pair, args.quiet, args.jackknife_rides)
    print("\n".join(table(rows)))
    print("\n".join(summary(rows)))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
