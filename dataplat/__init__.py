"""Top layer: the one Definitions and the dataplat command line."""
