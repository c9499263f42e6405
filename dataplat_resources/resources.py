"""Dagster resources. Each wraps the plain settings/clients of this package, so the same code
paths run inside Dagster and in plain processes (simulators CLI, continuous ingest service).

Every field is configured with ``EnvVar`` in ``dataplat.definitions``; ``dataplat init`` writes a
``.env`` with local defaults, which Dagster loads. Booleans are strings ("true"/"false")
because Dagster cannot bind an environment variable to a bool field.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster_pyspark import LazyPySparkResource
from pydantic import Field

from dataplat_resources.lake import LakeLayout
from dataplat_resources.settings import IngestionSettings, KafkaSettings, PlatformSettings

if TYPE_CHECKING:
    from dataplat_resources.postgres import ShopDatabase

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_flag(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


class KafkaResource(dg.ConfigurableResource):
    """Where the Kafka cluster is and how to authenticate. Secrets stay out of logs and the UI."""

    bootstrap_servers: str = Field(description="KAFKA_BOOTSTRAP_SERVER")
    security_protocol: str = Field(default="PLAINTEXT", description="KAFKA_SECURITY_PROTOCOL")
    sasl_mechanism: str = Field(default="", description="KAFKA_SASL_MECHANISM")
    sasl_username: str = Field(default="", description="KAFKA_SASL_USERNAME")
    sasl_password: str = Field(default="", description="KAFKA_SASL_PASSWORD (secret)")
    ssl_ca_location: str = Field(default="", description="KAFKA_SSL_CA_LOCATION")
    topic_partitions: str = Field(default="4", description="KAFKA_TOPIC_PARTITIONS")

    def settings(self) -> KafkaSettings:
        """The plain settings object every non-Dagster code path uses."""
        return KafkaSettings(
            bootstrap_server=self.bootstrap_servers,
            security_protocol=self.security_protocol or "PLAINTEXT",  # type: ignore[arg-type]
            sasl_mechanism=self.sasl_mechanism or None,
            sasl_username=self.sasl_username or None,
            sasl_password=self.sasl_password or None,  # type: ignore[arg-type]
            ssl_ca_location=self.ssl_ca_location or None,
            topic_partitions=self.topic_partitions or "4",
        )

    def client_config(self) -> dict[str, str]:
        return self.settings().client_config()


class DeltaLakeResource(dg.ConfigurableResource):
    """The lake root (a folder or an object-store URI) and delta-rs storage options."""

    lake_uri: str = Field(description="DATAPLAT_LAKE_URI")
    storage_options_json: str = Field(
        default="{}", description="DATAPLAT_LAKE_STORAGE_OPTIONS: JSON of delta-rs storage options (S3 keys...)"
    )

    def layout(self) -> LakeLayout:
        return LakeLayout(self.lake_uri)

    def storage_options(self) -> dict[str, str]:
        raw = self.storage_options_json.strip() or "{}"
        try:
            options = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"DATAPLAT_LAKE_STORAGE_OPTIONS is not valid JSON: {exc}") from exc
        if not isinstance(options, dict):
            raise ValueError("DATAPLAT_LAKE_STORAGE_OPTIONS must be a JSON object")
        return {str(k): str(v) for k, v in options.items()}


class IngestionResource(dg.ConfigurableResource):
    """How bronze runs batch, validate and report."""

    batch_size: int = Field(default=50_000, description="CONSUMER_BATCH_SIZE: messages per Delta commit")
    enable_validation: str = Field(default="true", description="ENABLE_VALIDATION")
    enable_monitoring: str = Field(default="true", description="ENABLE_MONITORING: metrics table + /metrics")
    max_message_bytes: int = Field(default=65_536, description="INGEST_MAX_MESSAGE_BYTES")
    max_messages_per_run: int = Field(default=500_000, description="INGEST_MAX_MESSAGES_PER_RUN")
    sensor_interval_seconds: int = Field(default=15, description="INGEST_SENSOR_INTERVAL_SECONDS")

    @property
    def validation_enabled(self) -> bool:
        return parse_flag("ENABLE_VALIDATION", self.enable_validation)

    @property
    def monitoring_enabled(self) -> bool:
        return parse_flag("ENABLE_MONITORING", self.enable_monitoring)

    def settings(self) -> IngestionSettings:
        return IngestionSettings(
            CONSUMER_BATCH_SIZE=self.batch_size,
            ENABLE_VALIDATION=self.validation_enabled,
            ENABLE_MONITORING=self.monitoring_enabled,
            INGEST_MAX_MESSAGE_BYTES=self.max_message_bytes,
            INGEST_MAX_MESSAGES_PER_RUN=self.max_messages_per_run,
        )


class SparkResource(LazyPySparkResource):
    """A Spark session with Delta and the Maven-resolved jars, created on first use.

    ``local[*]`` by default; a cluster master URL (``SPARK_MASTER``) or a Spark Connect URL
    (``SPARK_REMOTE``) moves the work off this machine with no other change. The session is
    shared by every Spark step of a run (the in-process executor), so the cold start is paid
    once per run.
    """

    spark_config: dict[str, Any] = Field(default_factory=dict)
    master: str = Field(default="local[*]", description="SPARK_MASTER")
    remote: str = Field(default="", description="SPARK_REMOTE (Spark Connect URL)")
    ui_enabled: str = Field(default="false", description="SPARK_UI_ENABLED")

    def _init_session(self) -> None:
        if self._spark_session is None:
            import os

            # pyspark treats a *set* SPARK_REMOTE (even empty, as in .env) as Spark Connect: hide an
            # empty one while the session is built (Dagster still needs it set for EnvVar).
            empty_remote = os.environ.get("SPARK_REMOTE") == ""
            if empty_remote:
                del os.environ["SPARK_REMOTE"]
            from dataplat_resources.settings import load_settings
            from dataplat_resources.spark import build_spark_session

            settings: PlatformSettings = load_settings().model_copy(
                update={"spark_master": self.master or "local[*]", "spark_remote": self.remote or None}
            )
            try:
                self._spark_session = build_spark_session(
                    settings,
                    app_name="dataplat",
                    ui_enabled=parse_flag("SPARK_UI_ENABLED", self.ui_enabled),
                    extra_conf={str(k): str(v) for k, v in self.spark_config.items()},
                )
            finally:
                if empty_remote:
                    os.environ["SPARK_REMOTE"] = ""


class PostgresResource(dg.ConfigurableResource):
    """The shop database that the CDC source mirrors into, and where Dagster's own storage can live."""

    host: str = Field(default="", description="POSTGRES_HOST (empty: no Postgres configured)")
    port: int = Field(default=5432, description="POSTGRES_PORT")
    database: str = Field(default="shop", description="POSTGRES_DB")
    user: str = Field(default="dataplat", description="POSTGRES_USER")
    password: str = Field(default="", description="POSTGRES_PASSWORD (secret)")

    @property
    def configured(self) -> bool:
        return bool(self.host)

    def conninfo(self) -> str:
        """A libpq connection string. Never log it: it holds the password."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.host, port=self.port, dbname=self.database, user=self.user, password=self.password or None
        )

    def shop(self) -> ShopDatabase:
        """The shop database (schema, mirroring, reads); raises ``ValueError`` when not configured."""
        from dataplat_resources.postgres import ShopDatabase

        return ShopDatabase(
            host=self.host, port=self.port, dbname=self.database, user=self.user, password=self.password
        )
