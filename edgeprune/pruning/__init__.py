"""Channel pruning built on torch-pruning's dependency graph, with edgeprune's fixes and self-check."""

from edgeprune.pruning.pruner import ChannelPruner
from edgeprune.pruning.replay import replay
from edgeprune.pruning.report import PruneReport

__all__ = ["ChannelPruner", "PruneReport", "replay"]
