"""Defaults the command line shows in its help: kept light (no numpy) so --help stays fast."""

DEFAULT_REPLICATIONS = 10
"""Replications of every command and API function unless told otherwise: enough for an
interval on every figure, and a few seconds of the baseline (one rule, CLI and Python)."""

DEFAULT_MAX_REPLICATIONS = 100
"""The cap of ``compare --until-resolved``: replications added in batches up to this many."""
