"""Latency of a model on its target, per prunable group and width: the profile table, its cache, predictions."""
