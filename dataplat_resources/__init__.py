"""Bottom layer: contracts, settings, clients and Dagster resources."""
