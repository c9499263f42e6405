"""The continuous ingest service, as a real process against a real broker: crashes, rebalances,
graceful shutdown, /metrics and /health. Every test ends by reconciling Kafka with Delta."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from deltalake import DeltaTable

from dataplat_ingestion import dead_letters as dl
from dataplat_resources import lake, topics
from dataplat_resources.kafka_client import ensure_platform_topics
from dataplat_resources.local_kafka import LocalKafkaBroker
from dataplat_resources.settings import KafkaSettings, local_env
from tests.conftest import free_port, start_local_broker
from tests.corpus import MARKER, produce_corpus, read_all

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
TOPIC = topics.APP_EVENTS
PARTITIONS = 4


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaBroker]:
    """A broker of this module's own: these tests restart services and share fixed topic names."""
    broker = start_local_broker(tmp_path_factory.mktemp("service-kafka"), partitions=PARTITIONS)
    ensure_platform_topics(KafkaSettings(bootstrap_server=broker.bootstrap))
    try:
        yield broker
    finally:
        broker.stop()


def service_env(bootstrap: str, home: Path) -> dict[str, str]:
    env = {**os.environ, **local_env(home=home)}
    env.update({"KAFKA_BOOTSTRAP_SERVER": bootstrap, "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"})
    return env


def start_service(env: dict[str, str], *args: str, cwd: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "dataplat.cli", "ingest", "run", "--topics", TOPIC, *args]
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def committed_total(lake_root: str) -> int:
    try:
        table = DeltaTable(lake.LakeLayout(lake_root).bronze(TOPIC))
    except Exception:
        return 0
    return sum(
        v for p in range(PARTITIONS) if (v := table.transaction_version(f"dataplat/bronze/{TOPIC}/{p}")) is not None
    )


def wait_until_caught_up(
    bootstrap: str, lake_root: str, timeout_s: float = 120, service: subprocess.Popen[bytes] | None = None
) -> None:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-ends"})
    ends = sum(consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)[1] - 1 for p in range(PARTITIONS))
    consumer.close()
    deadline = time.monotonic() + timeout_s
    while committed_total(lake_root) < ends:
        if service is not None and service.poll() is not None:
            raise AssertionError(f"the service exited with {service.returncode}: {service.stdout.read().decode()}")  # type: ignore[union-attr]
        assert time.monotonic() < deadline, f"bronze did not catch up: {committed_total(lake_root)} < {ends}"
        time.sleep(0.5)


def reconcile(bootstrap: str, lake_root: str) -> dict[str, int]:
    """Every unmarked message is in bronze exactly once; every marked one is in quarantine and the
    DLQ exactly once; nothing else is anywhere."""
    messages = read_all(bootstrap, TOPIC, PARTITIONS)
    marked = {(m.partition(), m.offset()) for m in messages if any(k == MARKER for k, _ in (m.headers() or []))}
    unmarked = {(m.partition(), m.offset()) for m in messages} - marked
    layout = lake.LakeLayout(lake_root)
    bronze = DeltaTable(layout.bronze(TOPIC)).to_pyarrow_table(columns=[lake.KAFKA_PARTITION, lake.KAFKA_OFFSET])
    landed = Counter(zip(bronze.column(0).to_pylist(), bronze.column(1).to_pylist(), strict=True))
    assert set(landed) == unmarked, (len(set(landed) - unmarked), len(unmarked - set(landed)))
    assert max(landed.values(), default=1) == 1, "a message landed in bronze twice"
    quarantine = DeltaTable(layout.quarantine(TOPIC)).to_pyarrow_table(
        columns=[lake.KAFKA_PARTITION, lake.KAFKA_OFFSET]
    )
    quarantined = Counter(zip(quarantine.column(0).to_pylist(), quarantine.column(1).to_pylist(), strict=True))
    assert set(quarantined) == marked and max(quarantined.values(), default=1) == 1
    letters = Counter(dl.origin_of(m.headers())[1:] for m in read_all(bootstrap, topics.dlq_topic(TOPIC), PARTITIONS))
    assert set(letters) == marked, (len(set(letters) - marked), len(marked - set(letters)))
    assert max(letters.values(), default=1) == 1, "a dead letter was sent twice"
    return {"valid": len(unmarked), "invalid": len(marked)}


class BackgroundProducer:
    """Keeps producing corpus batches (valid + every bad kind) until stopped."""

    def __init__(self, bootstrap: str, batch: int = 1_000) -> None:
        self.bootstrap, self.batch = bootstrap, batch
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            produce_corpus(self.bootstrap, TOPIC, valid=self.batch, partitions=PARTITIONS, bad_every=80)
            time.sleep(0.2)

    def __enter__(self) -> BackgroundProducer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def test_sigkill_at_random_points_loses_and_duplicates_nothing(broker: LocalKafkaBroker, tmp_path: Path) -> None:
    env = service_env(broker.bootstrap, tmp_path / "home")
    rng = random.Random(20261124)
    kills = 0
    with BackgroundProducer(broker.bootstrap):
        for _ in range(12):
            service = start_service(
                env, "--profile", "low-latency", "--instance-id", "reliability-1", "--metrics-port", "0", cwd=tmp_path
            )
            time.sleep(rng.uniform(2.0, 5.0))  # startup takes ~1.5 s: kills land before, during and between flushes
            service.send_signal(signal.SIGKILL)
            service.wait(timeout=30)
            kills += 1
    assert kills >= 10
    survivor = start_service(
        env, "--profile", "low-latency", "--instance-id", "reliability-1", "--metrics-port", "0", cwd=tmp_path
    )
    try:
        wait_until_caught_up(broker.bootstrap, env["DATAPLAT_LAKE_URI"], service=survivor)
    finally:
        survivor.send_signal(signal.SIGTERM)
        output = survivor.communicate(timeout=60)[0].decode()
    assert survivor.returncode == 0, output
    figures = reconcile(broker.bootstrap, env["DATAPLAT_LAKE_URI"])
    assert figures["valid"] > 10_000 and figures["invalid"] > 100


def test_rebalance_between_two_processes_loses_and_duplicates_nothing(broker: LocalKafkaBroker, tmp_path: Path) -> None:
    env = service_env(broker.bootstrap, tmp_path / "home")
    group = ["--group-id", "rebalance-test", "--profile", "low-latency", "--metrics-port", "0"]
    with BackgroundProducer(broker.bootstrap):
        first = start_service(env, *group, cwd=tmp_path)
        time.sleep(4)
        second = start_service(env, *group, cwd=tmp_path)  # joins: partitions move
        time.sleep(5)
        first.send_signal(signal.SIGTERM)  # leaves: partitions move back
        assert first.wait(timeout=60) == 0
        time.sleep(3)
    try:
        wait_until_caught_up(broker.bootstrap, env["DATAPLAT_LAKE_URI"], service=second)
    finally:
        second.send_signal(signal.SIGTERM)
        output = second.communicate(timeout=60)[0].decode()
    assert second.returncode == 0, output
    reconcile(broker.bootstrap, env["DATAPLAT_LAKE_URI"])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_metrics_health_and_graceful_sigterm(broker: LocalKafkaBroker, tmp_path: Path) -> None:
    env = service_env(broker.bootstrap, tmp_path / "home")
    port = free_port()
    produce_corpus(broker.bootstrap, TOPIC, valid=2_000, partitions=PARTITIONS, bad_every=50)
    service = start_service(env, "--group-id", "metrics-test", "--metrics-port", str(port), cwd=tmp_path)
    try:
        wait_until_caught_up(broker.bootstrap, env["DATAPLAT_LAKE_URI"], service=service)
        deadline = time.monotonic() + 30
        while True:
            status, body = get(f"http://127.0.0.1:{port}/metrics")
            if status == 200 and "dataplat_ingest_messages_total{" in body:
                break
            assert time.monotonic() < deadline, body[:500]
            time.sleep(0.5)
        assert 'dataplat_ingest_invalid_total{reason="' in body
        assert "dataplat_ingest_flush_seconds_bucket" in body and "dataplat_ingest_latency_seconds" in body
        status, body = get(f"http://127.0.0.1:{port}/health")
        health = json.loads(body)
        assert status == 200 and health["status"] == "ok" and health["broker_reachable"] is True
        assert TOPIC in health["last_commit_age_s"]
        assert get(f"http://127.0.0.1:{port}/nope")[0] == 404
    finally:
        service.send_signal(signal.SIGTERM)
        output = service.communicate(timeout=60)[0].decode()
    assert service.returncode == 0, output
    assert TOPIC in output  # the final summary
    reconcile(broker.bootstrap, env["DATAPLAT_LAKE_URI"])


def test_broker_restart_mid_run_completes_and_loses_nothing(tmp_path: Path) -> None:
    """A sensor-style range run and the service both ride out a broker restart."""
    from dataplat_ingestion.batch import IngestOptions, open_ingestor

    own = start_local_broker(tmp_path / "kafka", partitions=PARTITIONS)
    try:
        settings = KafkaSettings(bootstrap_server=own.bootstrap)
        ensure_platform_topics(settings)
        produce_corpus(own.bootstrap, TOPIC, valid=20_000, partitions=PARTITIONS, bad_every=100)
        lake_root = str(tmp_path / "lake")
        ingestor = open_ingestor(
            TOPIC, settings.client_config(), lake.LakeLayout(lake_root), IngestOptions(batch_size=500)
        )
        ranges = ingestor.pending_ranges(max_messages=10**9)
        outcome: dict[str, object] = {}

        def run() -> None:
            try:
                outcome["stats"] = ingestor.ingest_range(ranges, run_id="restart", mode="test")
            except Exception as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=run)
        worker.start()
        time.sleep(1.0)
        own.stop()  # mid-run
        time.sleep(2.0)
        own.start()
        worker.join(timeout=300)
        ingestor.close()
        assert "error" not in outcome, outcome.get("error")
        stats = outcome["stats"]
        assert stats.balanced  # type: ignore[attr-defined]
        reconcile(own.bootstrap, lake_root)
    finally:
        own.stop()
