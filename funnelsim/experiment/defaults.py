"""Defaults the command line shows in its help: kept light (no numpy) so --help stays fast."""

DEFAULT_MAX_REPLICATIONS = 100
"""The cap of ``compare --until-resolved``: replications added in batches up to this many."""
