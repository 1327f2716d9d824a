"""Errors of device_bench: one message line each, and the exit code the command line returns for it."""


class BenchError(Exception):
    """Bad input or a failed step; `exit_code` is what `python -m device_bench` returns."""

    exit_code = 2


class NoRuntimeError(BenchError):
    """The runtime a model needs is not installed (or cannot run) in this Python."""

    exit_code = 3


class ModelLoadError(BenchError):
    """The runtime could not load or run the model file."""

    exit_code = 4
