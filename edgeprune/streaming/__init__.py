"""Streaming wake-word evaluation: slide a model over long recordings, count misses and false accepts."""

from edgeprune.streaming.counting import count_events, detections

__all__ = ["count_events", "detections"]
