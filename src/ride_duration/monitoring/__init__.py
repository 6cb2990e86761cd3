"""Monitoring: how a model does on new rides, and whether they drifted from its training months."""
