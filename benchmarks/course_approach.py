"""The course's week-1 approach, written plainly, as the benchmark's yardstick.

Reads whole parquet files with pandas, turns IDs into strings with astype(str), builds one
dict per ride with to_dict(orient="records"), fits DictVectorizer and scikit-learn's default
LinearRegression, and pickles (dv, lr). Usage:

    python course_approach.py TRAIN.parquet VAL.parquet {lesson,homework} OUT.bin
"""

import json
import pickle
import sys

import pandas as pd
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error


def read_dataframe(filename):
    df = pd.read_parquet(filename)
    df["duration"] = df.lpep_dropoff_datetime - df.lpep_pickup_datetime
    df.duration = df.duration.dt.total_seconds() / 60
    df = df[(df.duration >= 1) & (df.duration <= 60)]
    categorical = ["PULocationID", "DOLocationID"]
    df[categorical] = df[categorical].fillna(-1).astype(int).astype(str)
    return df


def main():
    train_path, val_path, feature_set, out = sys.argv[1:5]
    df_train = read_dataframe(train_path)
    df_val = read_dataframe(val_path)
    if feature_set == "lesson":
        df_train["PU_DO"] = df_train["PULocationID"] + "_" + df_train["DOLocationID"]
        df_val["PU_DO"] = df_val["PULocationID"] + "_" + df_val["DOLocationID"]
        categorical, numerical = ["PU_DO"], ["trip_distance"]
    else:
        categorical, numerical = ["PULocationID", "DOLocationID"], []

    dv = DictVectorizer()
    train_dicts = df_train[categorical + numerical].to_dict(orient="records")
    X_train = dv.fit_transform(train_dicts)
    val_dicts = df_val[categorical + numerical].to_dict(orient="records")
    X_val = dv.transform(val_dicts)
    y_train = df_train["duration"].values
    y_val = df_val["duration"].values

    lr = LinearRegression()
    lr.fit(X_train, y_train)
    result = {
        "n_train": len(y_train),
        "n_val": len(y_val),
        "n_features": X_train.shape[1],
        "train_rmse": root_mean_squared_error(y_train, lr.predict(X_train)),
        "val_rmse": root_mean_squared_error(y_val, lr.predict(X_val)),
    }
    with open(out, "wb") as f_out:
        pickle.dump((dv, lr), f_out)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
