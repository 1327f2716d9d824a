"""The sub-commands of the `edgeprune` command line, one module each."""
