"""Platform settings, read from the environment when asked for, never at import time.

Every process that is not a Dagster run (simulators, the Kafka launcher, the continuous
ingest service, the health command) reads its configuration through :func:`load_settings`.
Dagster resources are configured with ``EnvVar`` in ``dataplat.definitions`` and use the same
variable names, so one set of environment variables drives everything.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

LOCAL_KAFKA_HOST = "127.0.0.1"
LOCAL_KAFKA_PORT = 9092
LOCAL_CONTROLLER_PORT = 9093
DEFAULT_PARTITIONS = 4

# librdkafka properties passed through verbatim: KAFKA_CLIENT_SSL_CA_LOCATION=/x -> ssl.ca.location=/x
KAFKA_CLIENT_PASSTHROUGH_PREFIX = "KAFKA_CLIENT_"


class KafkaSettings(BaseSettings):
    """Where the Kafka cluster is and how to authenticate to it."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_server: str | None = Field(
        default=None,
        description="An external cluster. Unset means the project's own local broker.",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    topic_partitions: str = Field(
        default=str(DEFAULT_PARTITIONS),
        description='Partitions per topic: one number for all, or JSON like {"topic_app_events": 8}.',
    )
    replication_factor: int = Field(default=1, ge=1)
    local_port: int = Field(default=LOCAL_KAFKA_PORT, ge=1, le=65535)
    local_controller_port: int = Field(default=LOCAL_CONTROLLER_PORT, ge=1, le=65535)
    local_heap: str = "512m"

    @property
    def local_bootstrap(self) -> str:
        return f"{LOCAL_KAFKA_HOST}:{self.local_port}"

    @property
    def is_external(self) -> bool:
        """True when KAFKA_BOOTSTRAP_SERVER names another cluster than the project's own broker."""
        if not self.bootstrap_server:
            return False
        local = {self.local_bootstrap, f"localhost:{self.local_port}"}
        return {s.strip() for s in self.bootstrap_server.split(",")} - local != set()

    @property
    def bootstrap_servers(self) -> str:
        return self.bootstrap_server or self.local_bootstrap

    def partitions_for(self, topic: str) -> int:
        """Partition count for a topic, from ``KAFKA_TOPIC_PARTITIONS``."""
        raw = self.topic_partitions.strip()
        if raw.startswith("{"):
            mapping = json.loads(raw)
            value = mapping.get(topic, mapping.get("default", DEFAULT_PARTITIONS))
        else:
            value = raw
        partitions = int(value)
        if partitions < 1:
            raise ValueError(f"KAFKA_TOPIC_PARTITIONS: {topic} needs at least 1 partition, got {partitions}")
        return partitions

    @field_validator("topic_partitions")
    @classmethod
    def _parseable(cls, value: str) -> str:
        raw = value.strip()
        try:
            parsed = json.loads(raw) if raw.startswith("{") else int(raw)
        except ValueError as exc:
            raise ValueError(
                "KAFKA_TOPIC_PARTITIONS must be a number or a JSON object like "
                f'{{"topic_app_events": 8}}, got {value!r}'
            ) from exc
        values = parsed.values() if isinstance(parsed, dict) else [parsed]
        if any(int(v) < 1 for v in values):
            raise ValueError(f"KAFKA_TOPIC_PARTITIONS: every topic needs at least 1 partition, got {value!r}")
        return value

    def client_config(self) -> dict[str, str]:
        """librdkafka settings shared by producers, consumers and admin clients."""
        config: dict[str, str] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            config["sasl.username"] = self.sasl_username
        if self.sasl_password:
            config["sasl.password"] = self.sasl_password.get_secret_value()
        if self.ssl_ca_location:
            config["ssl.ca.location"] = self.ssl_ca_location
        for name, value in os.environ.items():
            if name.startswith(KAFKA_CLIENT_PASSTHROUGH_PREFIX):
                key = name.removeprefix(KAFKA_CLIENT_PASSTHROUGH_PREFIX).lower().replace("_", ".")
                config[key] = value
        return config


class IngestionSettings(BaseSettings):
    """How ingestion batches, validates and reports."""

    model_config = SettingsConfigDict(extra="ignore")

    consumer_batch_size: int = Field(default=50_000, ge=1, le=1_000_000, alias="CONSUMER_BATCH_SIZE")
    enable_validation: bool = Field(default=True, alias="ENABLE_VALIDATION")
    enable_monitoring: bool = Field(default=True, alias="ENABLE_MONITORING")
    max_message_bytes: int = Field(default=65_536, ge=1024, alias="INGEST_MAX_MESSAGE_BYTES")
    max_messages_per_run: int = Field(default=500_000, ge=1, alias="INGEST_MAX_MESSAGES_PER_RUN")
    metrics_port: int = Field(default=9108, ge=0, le=65535, alias="INGEST_METRICS_PORT")


class PostgresSettings(BaseSettings):
    """The shop database (the CDC source) for processes outside Dagster, e.g. ``dataplat health``.
    An empty ``POSTGRES_HOST`` means no database is configured."""

    model_config = SettingsConfigDict(env_prefix="POSTGRES_", extra="ignore")

    host: str = ""
    port: int = Field(default=5432, ge=1, le=65535)
    db: str = "shop"
    user: str = "dataplat"
    password: SecretStr = SecretStr("")

    @property
    def configured(self) -> bool:
        return bool(self.host.strip())


class PlatformSettings(BaseSettings):
    """Paths and shared switches for every tier."""

    model_config = SettingsConfigDict(extra="ignore")

    home: Path = Field(default=PROJECT_ROOT / ".dataplat", alias="DATAPLAT_HOME")
    lake_uri: str | None = Field(default=None, alias="DATAPLAT_LAKE_URI")
    jars_dir: Path = Field(default=PROJECT_ROOT / ".jars", alias="DATAPLAT_JARS_DIR")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(default="INFO", alias="LOG_LEVEL")
    log_format: Literal["console", "json"] = Field(default="console", alias="LOG_FORMAT")
    schema_registry_url: str | None = Field(default=None, alias="SCHEMA_REGISTRY_URL")
    spark_master: str = Field(default="local[*]", alias="SPARK_MASTER")
    spark_remote: str | None = Field(default=None, alias="SPARK_REMOTE")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def lake(self) -> str:
        """Root of the Delta lake: a local folder by default, or any URI delta-rs and Spark accept."""
        return self.lake_uri or str(self.home / "lake")

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    _kafka: KafkaSettings = PrivateAttr()
    _ingestion: IngestionSettings = PrivateAttr()
    _postgres: PostgresSettings = PrivateAttr()

    def model_post_init(self, __context: object) -> None:
        # Read every group now, with the rest: one consistent snapshot of the environment.
        self._kafka = KafkaSettings()
        self._ingestion = IngestionSettings()
        self._postgres = PostgresSettings()

    @property
    def kafka(self) -> KafkaSettings:
        return self._kafka

    @property
    def ingestion(self) -> IngestionSettings:
        return self._ingestion

    @property
    def postgres(self) -> PostgresSettings:
        return self._postgres


def load_settings() -> PlatformSettings:
    """Read the environment now. Call it where a decision is made, not at import time."""
    return PlatformSettings()


# -- every environment variable the code reads ------------------------------------------------


@dataclass(frozen=True)
class EnvVarSpec:
    name: str
    default: str
    description: str
    secret: bool = False


def env_var_specs(home: Path | None = None) -> list[EnvVarSpec]:
    """Every variable dataplat reads, with its local default. The single source for ``.env``,
    the README's configuration table and the docker-compose consistency test."""
    home = home or PROJECT_ROOT / ".dataplat"
    return [
        EnvVarSpec(
            "KAFKA_BOOTSTRAP_SERVER",
            f"{LOCAL_KAFKA_HOST}:{LOCAL_KAFKA_PORT}",
            "Kafka cluster. Another cluster than 127.0.0.1:KAFKA_LOCAL_PORT means: use it, start nothing.",
        ),
        EnvVarSpec("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."),
        EnvVarSpec("KAFKA_SASL_MECHANISM", "", "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 ..."),
        EnvVarSpec("KAFKA_SASL_USERNAME", "", "SASL user."),
        EnvVarSpec("KAFKA_SASL_PASSWORD", "", "SASL password (masked in logs and the UI).", secret=True),
        EnvVarSpec("KAFKA_SSL_CA_LOCATION", "", "CA bundle for SSL."),
        EnvVarSpec(
            "KAFKA_TOPIC_PARTITIONS",
            str(DEFAULT_PARTITIONS),
            'Partitions per topic: a number, or JSON like {"topic_app_events": 8}.',
        ),
        EnvVarSpec("KAFKA_REPLICATION_FACTOR", "1", "Replication factor of the topics dataplat creates."),
        EnvVarSpec("KAFKA_LOCAL_PORT", str(LOCAL_KAFKA_PORT), "Port of the project's own broker."),
        EnvVarSpec(
            "KAFKA_LOCAL_CONTROLLER_PORT",
            str(LOCAL_CONTROLLER_PORT),
            "KRaft controller port of the project's own broker.",
        ),
        EnvVarSpec("KAFKA_LOCAL_HEAP", "512m", "JVM heap of the project's own broker."),
        EnvVarSpec("DATAPLAT_HOME", str(home), "State folder: Kafka data, the lake, Dagster's storage."),
        EnvVarSpec("DATAPLAT_LAKE_URI", str(home / "lake"), "Root of the Delta lake: a folder, or s3://bucket/prefix."),
        EnvVarSpec(
            "DATAPLAT_LAKE_STORAGE_OPTIONS",
            "{}",
            "JSON of delta-rs storage options (object-store credentials).",
            secret=True,
        ),
        EnvVarSpec("DATAPLAT_JARS_DIR", str(PROJECT_ROOT / ".jars"), "Where Maven put the Kafka and Spark jars."),
        EnvVarSpec("LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING, ERROR."),
        EnvVarSpec("LOG_FORMAT", "console", "console or json (one JSON object per line)."),
        EnvVarSpec("CONSUMER_BATCH_SIZE", "50000", "Messages per ingestion batch (one Delta commit)."),
        EnvVarSpec("ENABLE_VALIDATION", "true", "false skips business rules (undecodable bytes are still refused)."),
        EnvVarSpec("ENABLE_MONITORING", "true", "Metrics table rows and the service's /metrics endpoint."),
        EnvVarSpec("INGEST_MAX_MESSAGE_BYTES", "65536", "Larger messages are dead-lettered as oversized."),
        EnvVarSpec("INGEST_MAX_MESSAGES_PER_RUN", "500000", "Upper bound of one sensor-requested bronze run."),
        EnvVarSpec("INGEST_SENSOR_INTERVAL_SECONDS", "15", "How often each topic sensor looks at Kafka."),
        EnvVarSpec("INGEST_METRICS_PORT", "9108", "Port of the continuous ingest service's /metrics and /health."),
        EnvVarSpec(
            "INGEST_INSTANCE_ID",
            "",
            "Static consumer-group member id of an ingest service process (e.g. its pod name).",
        ),
        EnvVarSpec(
            "SCHEMA_REGISTRY_URL", "", "Confluent-compatible schema registry to publish the JSON Schemas to (compose)."
        ),
        EnvVarSpec("SPARK_MASTER", "local[*]", "Spark master: local[*], spark://host:7077, yarn, k8s://..."),
        EnvVarSpec("SPARK_REMOTE", "", "Spark Connect URL (sc://host:15002); replaces SPARK_MASTER when set."),
        EnvVarSpec("SPARK_UI_ENABLED", "false", "Start the Spark UI."),
        EnvVarSpec("SPARK_UI_PORT", "4040", "Port of the Spark UI when it is enabled."),
        EnvVarSpec(
            "SPARK_SHUFFLE_PARTITIONS", "4", "spark.sql.shuffle.partitions (small for one laptop; raise on a cluster)."
        ),
        EnvVarSpec("SPARK_DRIVER_MEMORY", "2g", "spark.driver.memory (in local mode the whole JVM heap)."),
        EnvVarSpec("SPARK_DELTA_SNAPSHOT_PARTITIONS", "2", "spark.databricks.delta.snapshotPartitions."),
        EnvVarSpec("SPARK_LOG_LEVEL", "WARN", "Log level of the Spark JVM."),
        EnvVarSpec("SPARK_EXTRA_CONF", "{}", 'JSON of further Spark confs, e.g. {"spark.executor.memory": "4g"}.'),
        EnvVarSpec("POSTGRES_HOST", "", "Shop database (CDC source); empty: none."),
        EnvVarSpec("POSTGRES_PORT", "5432", "Shop database port."),
        EnvVarSpec("POSTGRES_DB", "shop", "Shop database name."),
        EnvVarSpec("POSTGRES_USER", "dataplat", "Shop database user."),
        EnvVarSpec("POSTGRES_PASSWORD", "", "Shop database password (masked).", secret=True),
        EnvVarSpec("DAGSTER_HOME", str(home / "dagster"), "Dagster's instance folder (runs, events, schedules)."),
    ]


def local_env(home: Path | None = None) -> dict[str, str]:
    """Local defaults for every variable, as ``.env`` holds them."""
    return {spec.name: spec.default for spec in env_var_specs(home)}
