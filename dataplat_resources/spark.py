"""Build the platform's SparkSession: Delta enabled, jars from the local Maven folder, laptop defaults.

Why not ``configure_spark_with_delta_pip``: it sets ``spark.jars.packages``, an Ivy download at every
session start. The jars are resolved once by Maven (``make jars``) into ``<DATAPLAT_JARS_DIR>/spark``
and handed to Spark as local paths, so a session starts offline and always with the same versions.

``SPARK_REMOTE`` (``sc://host:15002``) switches to a Spark Connect session; the server then owns the
jars and static confs, so only ``spark.sql.*`` runtime confs are sent. ``SPARK_MASTER`` may be any
master URL (``local[*]``, ``spark://...``, ``yarn``, ``k8s://...``): it only changes the master.

Environment variables read here (besides :class:`~dataplat_resources.settings.PlatformSettings`'s
``SPARK_MASTER``, ``SPARK_REMOTE``, ``DATAPLAT_JARS_DIR``, ``DATAPLAT_HOME``):

- ``SPARK_SHUFFLE_PARTITIONS`` (default 4): ``spark.sql.shuffle.partitions``, small for one laptop.
- ``SPARK_DRIVER_MEMORY`` (default 2g): ``spark.driver.memory``; in local mode the whole JVM heap.
- ``SPARK_DELTA_SNAPSHOT_PARTITIONS`` (default 2): ``spark.databricks.delta.snapshotPartitions``
  (Delta's default of 50 tasks is pure scheduling overhead for small tables on a laptop).
- ``SPARK_UI_PORT`` (default: Spark's 4040): port of the web UI when it is enabled.
- ``SPARK_LOG_LEVEL`` (default WARN): log level set on the SparkContext after start.
- ``SPARK_EXTRA_CONF`` (default none): a JSON object of further confs, e.g.
  ``{"spark.executor.memory": "4g"}``; overrides the defaults above, ``extra_conf`` overrides it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dataplat_resources.settings import PlatformSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
# Jars without which nothing here works; the rest of the folder (Kafka source, ...) is added as found.
REQUIRED_JAR_PREFIXES = ("delta-spark_", "delta-storage-")
CLUSTER_MASTER_PREFIXES = ("spark://", "yarn", "k8s://", "mesos://")


class SparkJarsMissingError(RuntimeError):
    """The Maven-resolved jars are not where Spark is told to find them."""


class SparkTuning(BaseSettings):
    """Spark knobs that are not part of :class:`PlatformSettings` (read from the environment)."""

    model_config = SettingsConfigDict(extra="ignore")

    shuffle_partitions: int = Field(default=4, ge=1, alias="SPARK_SHUFFLE_PARTITIONS")
    driver_memory: str = Field(default="2g", alias="SPARK_DRIVER_MEMORY")
    delta_snapshot_partitions: int = Field(default=2, ge=1, alias="SPARK_DELTA_SNAPSHOT_PARTITIONS")
    ui_port: int | None = Field(default=None, ge=1, le=65535, alias="SPARK_UI_PORT")
    log_level: Literal["ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"] = Field(
        default="WARN", alias="SPARK_LOG_LEVEL"
    )
    extra_conf: dict[str, str] = Field(default_factory=dict, alias="SPARK_EXTRA_CONF")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("extra_conf", mode="before")
    @classmethod
    def _json(cls, value: object) -> object:
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return value


def spark_jars_dir(settings: PlatformSettings) -> Path:
    return Path(settings.jars_dir) / "spark"


def spark_jars(settings: PlatformSettings) -> list[Path]:
    """Every jar of ``<jars_dir>/spark``, sorted; raises :class:`SparkJarsMissingError` if Delta's are absent."""
    folder = spark_jars_dir(settings)
    jars = sorted(folder.glob("*.jar")) if folder.is_dir() else []
    missing = [p for p in REQUIRED_JAR_PREFIXES if not any(j.name.startswith(p) for j in jars)]
    if missing:
        raise SparkJarsMissingError(
            f"Spark's Delta jars are missing from {folder} (no {', '.join(p + '*.jar' for p in missing)}). "
            "Run `make jars` to resolve them with Maven, or point DATAPLAT_JARS_DIR at a folder holding spark/*.jar."
        )
    return jars


def is_remote(settings: PlatformSettings) -> bool:
    return bool(settings.spark_remote)


def spark_conf(
    settings: PlatformSettings,
    tuning: SparkTuning | None = None,
    *,
    app_name: str = "dataplat",
    ui_enabled: bool = False,
    extra_conf: dict[str, str] | None = None,
) -> dict[str, str]:
    """Every conf the session gets, as strings. Pure apart from listing the jars folder (local/cluster mode).

    Precedence, lowest first: platform defaults, ``SPARK_EXTRA_CONF``, then ``extra_conf``.
    In Spark Connect mode only ``spark.sql.*`` (runtime) confs are returned: the server owns the rest.
    """
    tuning = tuning or SparkTuning()
    sql: dict[str, str] = {
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        "spark.sql.shuffle.partitions": str(tuning.shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        # Small tables, few cores: adaptive execution coalesces shuffles instead of 200 tiny tasks.
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        # A Delta snapshot is rebuilt with this many tasks (default 50: ~1 s of overhead per read here).
        "spark.databricks.delta.snapshotPartitions": str(tuning.delta_snapshot_partitions),
        "spark.sql.streaming.stateStore.providerClass": (
            "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
        ),
    }
    if is_remote(settings):
        conf = {k: v for k, v in sql.items() if k.startswith("spark.sql.") and k != "spark.sql.extensions"}
        conf.pop("spark.sql.catalog.spark_catalog", None)
        conf.update({k: v for k, v in tuning.extra_conf.items() if k.startswith("spark.sql.")})
        conf.update({k: v for k, v in (extra_conf or {}).items() if k.startswith("spark.sql.")})
        return conf
    conf = {
        "spark.master": settings.spark_master,
        "spark.api.mode": "classic",
        "spark.app.name": app_name,
        "spark.jars": ",".join(str(p) for p in spark_jars(settings)),
        "spark.driver.memory": tuning.driver_memory,
        "spark.sql.warehouse.dir": str(Path(settings.home) / "spark-warehouse"),
        "spark.ui.enabled": "true" if ui_enabled else "false",
        "spark.ui.showConsoleProgress": "false",
        **sql,
    }
    if ui_enabled and tuning.ui_port is not None:
        conf["spark.ui.port"] = str(tuning.ui_port)
    if settings.spark_master.startswith("local"):
        # One JVM: nothing to gain from a driver/executor split; keep temp files under DATAPLAT_HOME.
        conf["spark.local.dir"] = str(Path(settings.home) / "spark-tmp")
    conf.update(tuning.extra_conf)
    conf.update(extra_conf or {})
    return conf


def build_spark_session(
    settings: PlatformSettings,
    app_name: str = "dataplat",
    ui_enabled: bool = False,
    extra_conf: dict[str, str] | None = None,
    tuning: SparkTuning | None = None,
) -> SparkSession:
    """Create (or reuse, as Spark always does within one process) a Delta-enabled session.

    Static confs (jars, memory, master) only take effect in the first session of a process.
    """
    from pyspark.sql import SparkSession

    tuning = tuning or SparkTuning()
    conf = spark_conf(settings, tuning, app_name=app_name, ui_enabled=ui_enabled, extra_conf=extra_conf)
    if is_remote(settings):
        try:
            builder = SparkSession.builder.remote(settings.spark_remote)
        except ImportError as exc:  # pragma: no cover - depends on optional client packages
            raise RuntimeError(
                "SPARK_REMOTE needs the Spark Connect client packages (grpcio, grpcio-status, "
                f"googleapis-common-protos, pandas, zstandard): {exc}"
            ) from exc
        for key, value in conf.items():
            builder = builder.config(key, value)
        return builder.getOrCreate()
    if not settings.spark_master.startswith("local"):
        Path(settings.home).mkdir(parents=True, exist_ok=True)
    else:
        (Path(settings.home) / "spark-tmp").mkdir(parents=True, exist_ok=True)
    with _env_hidden("SPARK_REMOTE"):  # pyspark would go to Spark Connect if it is merely set (even empty)
        builder = SparkSession.builder
        for key, value in conf.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel(tuning.log_level)
    return session


@contextmanager
def _env_hidden(name: str) -> Iterator[None]:
    value = os.environ.pop(name, None)
    try:
        yield
    finally:
        if value is not None:
            os.environ[name] = value
