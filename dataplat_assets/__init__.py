"""Tier wiring: thin Dagster assets and checks over the engines below, one module per domain.

- ``sources``: the five simulators and the four Kafka topics they feed
- ``ingestion``: bronze (and quarantine) tables per topic, with their checks
- ``processing``: Spark silver micro-batches and gold partitioned outputs, with their checks
"""
