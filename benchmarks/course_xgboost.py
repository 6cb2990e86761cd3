"""The course's tuned XGBoost (MLOps Zoomcamp module 2, its best hyperparameters), timed.

Usage: course_xgboost.py TRAIN.parquet VAL.parquet. Prints one JSON line. Like the course it
reads the whole month, keeps rides of 1 to 60 minutes, one-hot encodes PU_DO with
DictVectorizer beside trip_distance, and trains up to 1000 rounds with early stopping on the
validation month (which flatters it: the validation month picks the round). xgboost is not a
dependency of the project: `pip install xgboost` to run this.
"""

from __future__ import annotations

import json
import sys
import time

from course_approach import read_dataframe

PARAMS = {  # module 2's best_params, "reg:linear" under its current name
    "learning_rate": 0.09585355369315604,
    "max_depth": 30,
    "min_child_weight": 1.060597050922164,
    "objective": "reg:squarederror",
    "reg_alpha": 0.018060244040060163,
    "reg_lambda": 0.011658731377413597,
    "seed": 42,
    "nthread": 0,
}


def main(train_path: str, val_path: str) -> None:
    import numpy as np
    import xgboost as xgb
    from sklearn.feature_extraction import DictVectorizer

    start = time.perf_counter()
    train, val = read_dataframe(train_path), read_dataframe(val_path)
    for frame in (train, val):
        frame["PU_DO"] = frame["PULocationID"] + "_" + frame["DOLocationID"]
    vectorizer = DictVectorizer()
    columns = ["PU_DO", "trip_distance"]
    x_train = vectorizer.fit_transform(train[columns].to_dict(orient="records"))
    x_val = vectorizer.transform(val[columns].to_dict(orient="records"))
    y_train, y_val = train["duration"].to_numpy(), val["duration"].to_numpy()
    dtrain, dval = xgb.DMatrix(x_train, label=y_train), xgb.DMatrix(x_val, label=y_val)
    booster = xgb.train(
        PARAMS,
        dtrain,
        num_boost_round=1000,
        evals=[(dval, "validation")],
        early_stopping_rounds=50,
        verbose_eval=False,
    )
    best = (0, booster.best_iteration + 1)
    train_rmse = float(
        np.sqrt(np.mean((booster.predict(dtrain, iteration_range=best) - y_train) ** 2))
    )
    val_rmse = float(np.sqrt(np.mean((booster.predict(dval, iteration_range=best) - y_val) ** 2)))
    print(
        json.dumps(
            {
                "train_rmse": train_rmse,
                "val_rmse": val_rmse,
                "n_train": len(y_train),
                "rounds": best[1],
                "seconds": time.perf_counter() - start,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
