"""The practice checks' help for each homework question: its nudges, in the order
``hint()`` gives them, and the code ``solution()`` shows (the worked notebook's, cell for
cell)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Guide:
    """How a question is helped: its nudges, in order, and its solution's code."""

    hints: tuple[str, ...]
    solution: str


GUIDES = {
    "columns": Guide(
        ("Read the training month with pd.read_parquet and look at df.columns.",),
        "df = pd.read_parquet(month_path(taxi, train_month, DATA))\nlen(df.columns)",
    ),
    "records": Guide(
        ("Read the training month with pd.read_parquet; every row is a record.",),
        "df = pd.read_parquet(month_path(taxi, train_month, DATA))\nlen(df)",
    ),
    "duration_std": Guide(
        (
            "The duration is the dropoff time minus the pickup time: a Timedelta column.",
            "Timedelta.dt.total_seconds() gives seconds; the question asks minutes. Take the "
            "standard deviation of every ride, before dropping any.",
        ),
        'df["duration"] = (df[DROPOFF] - df[PICKUP]).dt.total_seconds() / 60\ndf["duration"].std()',
    ),
    "duration_mean": Guide(
        (
            "The duration is the dropoff time minus the pickup time: a Timedelta column.",
            "Timedelta.dt.total_seconds() gives seconds; the question asks minutes. Take the "
            "mean of every ride, before dropping any.",
        ),
        'df["duration"] = (df[DROPOFF] - df[PICKUP]).dt.total_seconds() / 60\n'
        'df["duration"].mean()',
    ),
    "fraction_kept": Guide(
        (
            "A boolean mask of the rides from 1 to 60 minutes; its mean is the fraction kept.",
            "Both ends are kept: >= 1 and <= 60.",
        ),
        'mask = (df["duration"] >= 1) & (df["duration"] <= 60)\nmask.mean()',
    ),
    "fraction_missing_pickup": Guide(
        (
            "Keep the rides of 1 to 60 minutes first; then fill the missing pickup IDs with -1.",
            "The mean of a boolean mask is a fraction.",
        ),
        'kept = df[(df["duration"] >= 1) & (df["duration"] <= 60)]\n'
        '(kept["PULocationID"].fillna(-1) == -1).mean()',
    ),
    "n_features": Guide(
        (
            "DictVectorizer one-hot encodes string values; numbers it keeps as one column each.",
            "Fill missing IDs with -1, make both ID columns strings, keep the rides of 1 to 60 "
            "minutes, then fit the vectorizer on their dicts.",
        ),
        'categorical = ["PULocationID", "DOLocationID"]\n'
        'train_df = df[(df["duration"] >= 1) & (df["duration"] <= 60)].copy()\n'
        "train_df[categorical] = train_df[categorical].fillna(-1).astype(int).astype(str)\n"
        "dv = DictVectorizer()\n"
        'X_train = dv.fit_transform(train_df[categorical].to_dict(orient="records"))\n'
        "X_train.shape[1]",
    ),
    "train_rmse": Guide(
        (
            "Fit LinearRegression on the one-hot matrix and the kept rides' durations.",
            "root_mean_squared_error (scikit-learn 1.4+) takes the root; mean_squared_error "
            "does not.",
        ),
        'y_train = train_df["duration"].to_numpy()\n'
        "lr = LinearRegression().fit(X_train, y_train)\n"
        "root_mean_squared_error(y_train, lr.predict(X_train))",
    ),
    "val_rmse": Guide(
        (
            "Prepare the validation month exactly as the training one: duration, the 1-60 "
            "minute rule, IDs as strings.",
            "Transform it with the vectorizer fitted on the training month (dv.transform, not "
            "a new fit_transform: a new vectorizer numbers the columns differently), then "
            "score it with the training month's model.",
        ),
        "val_df = pd.read_parquet(month_path(taxi, val_month, DATA))\n"
        'val_df["duration"] = (val_df[DROPOFF] - val_df[PICKUP]).dt.total_seconds() / 60\n'
        'val_df = val_df[(val_df["duration"] >= 1) & (val_df["duration"] <= 60)].copy()\n'
        "val_df[categorical] = val_df[categorical].fillna(-1).astype(int).astype(str)\n"
        'X_val = dv.transform(val_df[categorical].to_dict(orient="records"))\n'
        'root_mean_squared_error(val_df["duration"], lr.predict(X_val))',
    ),
}
