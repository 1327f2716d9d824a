"""`python -m edgeprune` runs the command line."""

from edgeprune.cli import main

raise SystemExit(main())
