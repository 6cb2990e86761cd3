"""The model ``--track`` logs, as code (MLflow's models-from-code): nothing is cloud-pickled."""

import mlflow

from ride_duration.tracking.pyfunc import RideDurationModel

mlflow.models.set_model(RideDurationModel())
