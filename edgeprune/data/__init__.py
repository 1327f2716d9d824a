"""Data sources (synth, folder:PATH, misp2021:PATH, digits) opened as a DataBundle by open_data()."""

from edgeprune.data.bundle import ArraySplit, DataBundle
from edgeprune.data.sources import SOURCES, open_data, parse_spec

__all__ = ["ArraySplit", "DataBundle", "SOURCES", "open_data", "parse_spec"]
