"""The one ``Definitions`` of dataplat (named in workspace.yaml).

Each domain contributes a small ``Definitions``; they are merged here together with the
resources, which are configured from environment variables (``EnvVar``) and resolved when a
run or sensor starts, never at import time. ``dataplat init`` writes a ``.env`` with local
defaults, which Dagster's commands load.
"""

from __future__ import annotations

import dagster as dg

from dataplat_assets.ingestion import definitions as ingestion
from dataplat_assets.processing import definitions as processing
from dataplat_assets.sources import definitions as sources
from dataplat_resources.resources import (
    DeltaLakeResource,
    IngestionResource,
    KafkaResource,
    PostgresResource,
    SparkResource,
)
from dataplat_sensors import definitions as sensors

RESOURCES = {
    "kafka": KafkaResource(
        bootstrap_servers=dg.EnvVar("KAFKA_BOOTSTRAP_SERVER"),
        security_protocol=dg.EnvVar("KAFKA_SECURITY_PROTOCOL"),
        sasl_mechanism=dg.EnvVar("KAFKA_SASL_MECHANISM"),
        sasl_username=dg.EnvVar("KAFKA_SASL_USERNAME"),
        sasl_password=dg.EnvVar("KAFKA_SASL_PASSWORD"),
        ssl_ca_location=dg.EnvVar("KAFKA_SSL_CA_LOCATION"),
        topic_partitions=dg.EnvVar("KAFKA_TOPIC_PARTITIONS"),
    ),
    "lake": DeltaLakeResource(
        lake_uri=dg.EnvVar("DATAPLAT_LAKE_URI"),
        storage_options_json=dg.EnvVar("DATAPLAT_LAKE_STORAGE_OPTIONS"),
    ),
    "ingestion": IngestionResource(
        batch_size=dg.EnvVar.int("CONSUMER_BATCH_SIZE"),
        enable_validation=dg.EnvVar("ENABLE_VALIDATION"),
        enable_monitoring=dg.EnvVar("ENABLE_MONITORING"),
        max_message_bytes=dg.EnvVar.int("INGEST_MAX_MESSAGE_BYTES"),
        max_messages_per_run=dg.EnvVar.int("INGEST_MAX_MESSAGES_PER_RUN"),
        sensor_interval_seconds=dg.EnvVar.int("INGEST_SENSOR_INTERVAL_SECONDS"),
    ),
    "spark": SparkResource(
        master=dg.EnvVar("SPARK_MASTER"),
        remote=dg.EnvVar("SPARK_REMOTE"),
        ui_enabled=dg.EnvVar("SPARK_UI_ENABLED"),
    ),
    "postgres": PostgresResource(
        host=dg.EnvVar("POSTGRES_HOST"),
        port=dg.EnvVar.int("POSTGRES_PORT"),
        database=dg.EnvVar("POSTGRES_DB"),
        user=dg.EnvVar("POSTGRES_USER"),
        password=dg.EnvVar("POSTGRES_PASSWORD"),
    ),
}

defs = dg.Definitions.merge(
    sources.defs(),
    ingestion.defs(),
    processing.defs(),
    sensors.defs(),
    # In-process by default: a run's Spark steps share one session (one cold start per run),
    # and sensor-launched bronze runs avoid a process per step.
    dg.Definitions(resources=RESOURCES, executor=dg.in_process_executor),
)
