"""Session builder: confs (pure) and a real Delta round trip on the shared session."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataplat_resources.settings import PROJECT_ROOT, PlatformSettings
from dataplat_resources.spark import (
    DELTA_CATALOG,
    DELTA_EXTENSION,
    SparkJarsMissingError,
    SparkTuning,
    spark_conf,
)

JARS = Path(PROJECT_ROOT / ".jars")


def _settings(**kw) -> PlatformSettings:
    values = {"DATAPLAT_HOME": Path("/tmp/dp"), "DATAPLAT_JARS_DIR": JARS, "SPARK_MASTER": "local[*]"} | kw
    return PlatformSettings(**values)


def test_local_conf_has_delta_jars_and_laptop_defaults():
    conf = spark_conf(_settings(), SparkTuning(), app_name="x")
    assert conf["spark.master"] == "local[*]"
    assert conf["spark.sql.extensions"] == DELTA_EXTENSION
    assert conf["spark.sql.catalog.spark_catalog"] == DELTA_CATALOG
    jars = conf["spark.jars"].split(",")
    assert all(Path(j).is_file() and j.endswith(".jar") for j in jars)
    assert any("delta-spark_" in j for j in jars) and any("delta-storage-" in j for j in jars)
    assert "spark.jars.packages" not in conf
    assert conf["spark.sql.shuffle.partitions"] == "4"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.sql.warehouse.dir"] == "/tmp/dp/spark-warehouse"
    assert conf["spark.databricks.delta.snapshotPartitions"] == "2"


def test_env_tuning_and_precedence(monkeypatch):
    monkeypatch.setenv("SPARK_SHUFFLE_PARTITIONS", "7")
    monkeypatch.setenv("SPARK_DRIVER_MEMORY", "3g")
    monkeypatch.setenv("SPARK_UI_PORT", "4050")
    monkeypatch.setenv("SPARK_EXTRA_CONF", '{"spark.sql.shuffle.partitions": "9", "spark.executor.cores": 2}')
    conf = spark_conf(_settings(), ui_enabled=True, extra_conf={"spark.executor.cores": "3"})
    assert conf["spark.driver.memory"] == "3g"
    assert conf["spark.ui.enabled"] == "true" and conf["spark.ui.port"] == "4050"
    assert conf["spark.sql.shuffle.partitions"] == "9"  # SPARK_EXTRA_CONF beats the tuning default
    assert conf["spark.executor.cores"] == "3"  # extra_conf beats everything


def test_cluster_master_only_changes_master():
    conf = spark_conf(_settings(SPARK_MASTER="spark://head:7077"))
    assert conf["spark.master"] == "spark://head:7077"
    assert "spark.local.dir" not in conf
    assert "delta-spark_" in conf["spark.jars"]


def test_remote_sends_only_runtime_sql_confs(tmp_path):
    conf = spark_conf(_settings(SPARK_REMOTE="sc://spark:15002", DATAPLAT_JARS_DIR=tmp_path))  # no jars needed
    assert conf and all(k.startswith("spark.sql.") for k in conf)
    assert "spark.jars" not in conf and "spark.master" not in conf
    assert conf["spark.sql.session.timeZone"] == "UTC"


def test_missing_jars_say_how_to_fix(tmp_path):
    with pytest.raises(SparkJarsMissingError, match="make jars"):
        spark_conf(_settings(DATAPLAT_JARS_DIR=tmp_path))


def test_shared_session_reads_a_delta_rs_table(spark, layout, bronze):
    from tests.spark_fixtures import app_event, ts

    bronze.app_events([app_event(ts(0)), app_event(ts(1))])
    df = spark.read.format("delta").load(layout.bronze("app_events"))
    assert df.count() == 2
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.sparkContext.master == "local[2]"
    assert {f.name for f in df.schema["geo"].dataType.fields} == {"country", "city", "lat", "lon"}


def test_empty_spark_remote_env_still_builds_classic(spark, monkeypatch, tmp_path):
    """pyspark goes to Spark Connect when SPARK_REMOTE is merely set; the builder hides it for classic."""
    from dataplat_resources.spark import build_spark_session

    monkeypatch.setenv("SPARK_REMOTE", "")
    same = build_spark_session(
        _settings(SPARK_MASTER="local[2]", SPARK_REMOTE=None, DATAPLAT_HOME=tmp_path),
        tuning=SparkTuning(SPARK_LOG_LEVEL="ERROR"),
    )
    assert same is spark or same.sparkContext is spark.sparkContext  # getOrCreate: the running session
    assert not type(same).__module__.startswith("pyspark.sql.connect")
    import os

    assert os.environ["SPARK_REMOTE"] == ""  # restored
