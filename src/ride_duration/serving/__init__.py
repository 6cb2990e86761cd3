"""Serving: a saved model as a web service."""
