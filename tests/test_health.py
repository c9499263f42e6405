"""`dataplat health`: each component's row, and exit 1 when something is down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dataplat.health import FAIL, OK, WARN, Probe, healthy, kafka_probes, lake_probes, spark_probes
from dataplat_resources.settings import PlatformSettings, local_env
from tests.conftest import KafkaCluster, free_port

pytestmark = pytest.mark.kafka


def settings_for(bootstrap: str, home: Path, **extra: str) -> PlatformSettings:
    env = {**local_env(home=home), "KAFKA_BOOTSTRAP_SERVER": bootstrap, **extra}
    old = dict(os.environ)
    os.environ.update(env)
    try:
        return PlatformSettings()
    finally:
        os.environ.clear()
        os.environ.update(old)


def test_healthy_needs_every_row_not_failed() -> None:
    assert healthy([Probe("a", "b", OK, ""), Probe("a", "c", WARN, "")])
    assert not healthy([Probe("a", "b", OK, ""), Probe("a", "c", FAIL, "")])


def test_broker_topics_and_lag_of_a_live_cluster(platform_env: dict, kafka: KafkaCluster, tmp_path: Path) -> None:
    settings = settings_for(kafka.bootstrap, tmp_path)
    probes = {p.name: p for p in kafka_probes(settings)}
    assert probes["broker"].status == OK and probes["topic_app_events"].status == OK
    lake = {p.name: p for p in lake_probes(settings)}
    assert lake["bronze_app_events"].status in (OK, WARN) and "lag" in lake["bronze_app_events"].detail


def test_unreachable_broker_and_missing_jars_fail(tmp_path: Path) -> None:
    settings = settings_for(f"127.0.0.1:{free_port()}", tmp_path, DATAPLAT_JARS_DIR=str(tmp_path / "nojars"))
    (broker,) = kafka_probes(settings)
    assert broker.status == FAIL and "did not answer" in broker.detail
    (jars,) = spark_probes(settings)
    assert jars.status == FAIL and "make setup" in jars.detail


def test_cli_exits_1_without_a_daemon_and_0_when_skipping_it(
    platform_env: dict, kafka: KafkaCluster, tmp_path: Path
) -> None:
    env = {**os.environ, **platform_env, "DAGSTER_HOME": str(tmp_path / "dagster")}
    (tmp_path / "dagster").mkdir()
    command = [sys.executable, "-m", "dataplat.cli", "health"]
    no_daemon = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert no_daemon.returncode == 1 and "no daemon heartbeat" in no_daemon.stdout and "unhealthy" in no_daemon.stdout
    skipped = subprocess.run(
        [*command, "--skip-daemon"], env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "healthy" in skipped.stdout and "broker" in skipped.stdout
