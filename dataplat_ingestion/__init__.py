"""Tier 3 engine: Kafka offset ranges -> validated, exactly-once Delta bronze + dead letters.

Plain Python, no Dagster: the bronze assets (sensor-driven micro-batches) and the continuous
ingest service both call the same :class:`~dataplat_ingestion.batch.TopicIngestor`.
"""
