"""The one error type edgeprune raises for bad input: the CLI prints its message as one line."""


class EdgepruneError(Exception):
    """Bad input or a failed check, with a message that names the problem (one line)."""
