"""The course's web service (module 4, web-service/predict.py), as the yardstick for
`make bench-serve`: a Flask app that unpickles (dv, model) and calls dv.transform and
model.predict per request. A JSON array of rides is answered as a batch. Run by gunicorn:

    COURSE_MODEL=course.bin gunicorn -w 1 -b 127.0.0.1:9697 course_flask:app
"""

import os
import pickle

from flask import Flask, jsonify, request

with open(os.environ["COURSE_MODEL"], "rb") as f_in:
    dv, model = pickle.load(f_in)


def prepare_features(ride):
    return {
        "PU_DO": f"{ride['PULocationID']}_{ride['DOLocationID']}",
        "trip_distance": ride["trip_distance"],
    }


def predict(features):
    X = dv.transform(features)
    return model.predict(X)


app = Flask("duration-prediction")


@app.route("/predict", methods=["POST"])
def predict_endpoint():
    body = request.get_json()
    if isinstance(body, list):
        return jsonify({"durations": predict([prepare_features(r) for r in body]).tolist()})
    return jsonify({"duration": float(predict(prepare_features(body))[0])})
