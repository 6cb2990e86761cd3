"""The lesson months (green 2021-01 -> 2021-02), real files: counts, features, exact fit."""

import pytest
from sklearn.linear_model import LinearRegression

from ride_duration.data.dataset import load_prepared
from ride_duration.modeling.train import TrainOptions, fit, rmse
from tests.helpers import assert_matches_dictvectorizer

# Reads no real file but the lesson months: CI's newcomer run with them skips these.
pytestmark = pytest.mark.lesson_months_only


@pytest.fixture(scope="module")
def months(tlc_dir):
    train, train_report = load_prepared("green", "2021-01", tlc_dir)
    val, val_report = load_prepared("green", "2021-02", tlc_dir)
    return train, val, train_report, val_report


def test_rows_kept_match_the_course(months):
    _, _, train_report, val_report = months
    assert (train_report.rows_read, train_report.rows_kept) == (76518, 73908)
    assert (val_report.rows_read, val_report.rows_kept) == (64572, 61921)


@pytest.mark.parametrize("feature_set", ["lesson", "homework"])
def test_featurisation_is_dictvectorizers_entry_for_entry(months, feature_set):
    train, val, _, _ = months
    got, got_val = assert_matches_dictvectorizer(train, val, feature_set)
    # Validation really does hold categories never seen in training.
    assert (got_val.getnnz(axis=1) < got.getnnz(axis=1).max()).any()


@pytest.mark.parametrize("feature_set", ["lesson", "homework"])
def test_linear_fit_reaches_the_least_squares_optimum(months, feature_set):
    train, val, _, _ = months
    options = TrainOptions(features=feature_set).validated()
    fitted = fit(options, train, val)
    pipeline, design, val_design = fitted.model.to_pipeline(), fitted.design, fitted.val_design
    y, y_val = train["duration"].to_numpy(), val["duration"].to_numpy()
    ours = pipeline[-1]

    # Independent reference: scikit-learn's own solver, run to convergence.
    converged = LinearRegression(tol=1e-12).fit(design.matrix, y)
    train_rmse = rmse(y, ours.predict(design.matrix))
    assert train_rmse == pytest.approx(rmse(y, converged.predict(design.matrix)), rel=1e-6)
    assert rmse(y_val, ours.predict(val_design.matrix)) == pytest.approx(
        rmse(y_val, converged.predict(val_design.matrix)), abs=1e-4
    )
    # ...which scikit-learn's default tolerance does not reach when trip_distance is in.
    if feature_set == "lesson":
        default = LinearRegression().fit(design.matrix, y)
        assert rmse(y, default.predict(design.matrix)) > train_rmse + 1.0
        assert train_rmse == pytest.approx(4.6407, abs=1e-4)
        assert rmse(y_val, ours.predict(val_design.matrix)) == pytest.approx(7.4808, abs=1e-4)


def test_lasso_trains_and_reproduces_the_course(months):
    train, val, _, _ = months
    options = TrainOptions(model="lasso").validated()
    fitted = fit(options, train, val)
    pipeline, val_design = fitted.model.to_pipeline(), fitted.val_design
    # The course's 01-intro notebook prints 11.167275941179728 for Lasso(0.01).
    assert rmse(val["duration"], pipeline[-1].predict(val_design.matrix)) == pytest.approx(
        11.1672759, abs=1e-5
    )
