"""End to end, as CI users run it: the CI recipe (`dagster asset materialize` tier by tier, then
the asset-check report) against the real broker, Delta and Spark. And the gate: bad data makes
the report, and so the CI job, fail."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import dagster as dg
import pytest
from confluent_kafka import Producer
from deltalake import DeltaTable

from dataplat.definitions import defs
from dataplat_resources.kafka_client import ensure_platform_topics
from dataplat_resources.lake import LakeLayout
from dataplat_resources.settings import PROJECT_ROOT, local_env
from tests import factories as f
from tests.conftest import KafkaCluster, MaterializedPlatform

pytestmark = [pytest.mark.kafka, pytest.mark.spark, pytest.mark.slow]
SILVER = ["event_aggregates", "late_events", "clickstream_sessions", "clickstream_funnel", "enriched_app_events",
          "cdc_users_current", "cdc_orders_current", "cdc_history"]  # fmt: skip


def recipe_env(kafka: KafkaCluster, tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, **local_env(home=tmp_path / "home")}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVER": kafka.bootstrap,
            "DAGSTER_HOME": str(tmp_path / "dagster"),
            "REPORT_DIR": str(tmp_path / "report"),
            "SPARK_MASTER": "local[2]",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def test_ci_recipe_materializes_every_tier_and_every_check_passes(materialized_platform: MaterializedPlatform) -> None:
    env = materialized_platform.env
    report = json.loads((materialized_platform.report_dir / "check-report.json").read_text())
    assert report["ok"] and report["counts"]["failed"] == 0 and report["counts"]["not_run"] == 0, report["summary"]
    assert report["counts"]["total"] == len(defs.resolve_asset_graph().asset_check_keys)
    for tier in (
        "== Kafka",
        "== simulators -> Kafka",
        "== Kafka -> bronze",
        "== bronze -> silver",
        "== silver -> gold",
    ):
        assert tier in materialized_platform.recipe_output

    layout = LakeLayout(env["DATAPLAT_LAKE_URI"])
    for name in ("app_events", "cdc_changes", "clickstream", "external_data"):
        assert DeltaTable(layout.bronze(name)).to_pyarrow_dataset().count_rows() > 0, name
    for name in SILVER:
        assert DeltaTable(layout.silver(name)).version() >= 0, name
    for name in ("hourly_aggregates", "daily_summary", "user_segments"):
        assert DeltaTable(layout.gold(name)).to_pyarrow_dataset().count_rows() > 0, name

    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    try:
        with dg.DagsterInstance.get() as instance:
            graph = defs.resolve_asset_graph()
            materializable = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
            missing = [
                k.to_user_string() for k in materializable if instance.get_latest_materialization_event(k) is None
            ]
    finally:
        del os.environ["DAGSTER_HOME"]
    assert missing == []


def test_bad_data_fails_the_report_and_the_ci_job(kafka: KafkaCluster, tmp_path: Path) -> None:
    """Inject bad data (the same event id twice) -> bronze's blocking check fails -> exit 1."""
    env = recipe_env(kafka, tmp_path)
    ensure_platform_topics(kafka.settings)
    event = f.to_json(f.app_event(7, event_id=str(uuid.uuid4())))
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    for _ in range(2):
        producer.produce("topic_app_events", key=b"user_7", value=event)
    assert producer.flush(10) == 0
    home = Path(env["DAGSTER_HOME"])
    home.mkdir(parents=True)
    bronze = subprocess.run(
        [
            str(PROJECT_ROOT / ".venv/bin/dagster"),
            "asset",
            "materialize",
            "-m",
            "dataplat.definitions",
            "--select",
            "bronze_app_events,quarantine_app_events",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bronze.returncode != 0, bronze.stdout[-2000:]  # the blocking check failed the run
    assert "no_duplicate_event_id" in bronze.stdout + bronze.stderr, bronze.stderr[-3000:]
    report = subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/dataplat"), "report", "--out", env["REPORT_DIR"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert report.returncode == 1, report.stdout + report.stderr
    data = json.loads((tmp_path / "report" / "check-report.json").read_text())
    failed = {(c["asset"], c["check"]) for c in data["checks"] if c["status"] == "failed" and c["severity"] == "ERROR"}
    assert ("bronze_app_events", "no_duplicate_event_id") in failed
    assert "no_duplicate_event_id" in (tmp_path / "report" / "check-report.md").read_text()
