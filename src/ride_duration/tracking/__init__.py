"""MLflow tracking and registry: runs of trained models, registered versions and their aliases."""
