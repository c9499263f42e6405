"""The project's own broker: lifecycle, idempotent topics, clear errors (real JVM, real Kafka)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dataplat_resources.kafka_client import ensure_platform_topics, ensure_topics, platform_topic_plan
from dataplat_resources.local_kafka import BrokerError, LocalKafkaBroker, broker_classpath, find_java, new_cluster_id
from dataplat_resources.settings import KafkaSettings
from tests.conftest import free_port, start_local_broker

pytestmark = pytest.mark.kafka


def test_cluster_ids_never_start_with_a_dash() -> None:
    ids = [new_cluster_id() for _ in range(5000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_start_is_idempotent_restart_keeps_data_and_topics_grow(tmp_path: Path) -> None:
    broker = start_local_broker(tmp_path / "kafka", partitions=2)
    try:
        settings = KafkaSettings(bootstrap_server=broker.bootstrap, topic_partitions="2")
        first = {c.topic: c.action for c in ensure_platform_topics(settings)}
        assert set(first) == set(platform_topic_plan(settings)) and set(first.values()) == {"created"}
        again = {c.topic: c.action for c in ensure_platform_topics(settings)}
        assert set(again.values()) == {"unchanged"}
        assert broker.start().running  # already running: no second JVM
        broker.stop()
        assert not broker.status().running
        assert not broker.format_storage("java", "")  # formatted once, never again
        broker.start()
        grown = ensure_platform_topics(
            KafkaSettings(bootstrap_server=broker.bootstrap, topic_partitions='{"topic_app_events": 3, "default": 2}')
        )
        actions = {c.topic: (c.action, c.partitions) for c in grown}
        assert actions["topic_app_events"] == ("grown", 3) and actions["topic_app_events_dlq"] == ("grown", 3)
        assert actions["topic_clickstream"] == ("unchanged", 2)
    finally:
        broker.stop()


def test_clear_errors_when_jars_or_java_are_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BrokerError, match="make jars"):
        broker_classpath(tmp_path)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nojava"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerError, match="Java was not found"):
        find_java()


def test_port_taken_by_something_else_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        broker = LocalKafkaBroker(tmp_path, Path(os.environ.get("DATAPLAT_JARS_DIR", ".jars")), port, free_port())
        with pytest.raises(BrokerError, match="already taken"):
            broker.start()


def test_cli_starts_nothing_for_an_external_cluster(kafka, tmp_path: Path) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVER": kafka.bootstrap, "DATAPLAT_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "dataplat.cli", "kafka", "start"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "nothing started" in out.stdout and "topic_app_events" in out.stdout
    assert not (tmp_path / "kafka" / "kafka.pid").exists()
    status = subprocess.run(
        [sys.executable, "-m", "dataplat.cli", "kafka", "status"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert status.returncode == 0 and "topic_clickstream_dlq" in status.stdout


def test_cli_status_of_a_stopped_local_broker_exits_1(tmp_path: Path) -> None:
    env = {**os.environ, "DATAPLAT_HOME": str(tmp_path), "KAFKA_LOCAL_PORT": str(free_port())}
    env.pop("KAFKA_BOOTSTRAP_SERVER", None)
    out = subprocess.run(
        [sys.executable, "-m", "dataplat.cli", "kafka", "status"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1 and "not running" in out.stdout


def test_topics_with_more_partitions_than_asked_are_left_alone(kafka, unique_topic) -> None:
    name = unique_topic("big", partitions=5)
    (change,) = ensure_topics(kafka.admin(), {name: 3})
    assert (change.action, change.partitions) == ("larger_than_requested", 5)
