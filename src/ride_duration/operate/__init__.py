"""Operating the model: tracked training, monitoring on new months, and retraining."""
