"""``python -m simulators`` as a real subprocess against the real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from confluent_kafka import KafkaException
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from dataplat_resources.kafka_client import ensure_topics, metadata_consumer, watermarks
from simulators.registry import SOURCES

pytestmark = pytest.mark.kafka

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOPICS = sorted({info.topic for info in SOURCES.values()})


@pytest.fixture
def suffixed_topics(kafka):
    """The four source topics with a unique suffix, as ``--topic-suffix`` expects them."""
    suffix = f"_cli{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka.admin(), {f"{topic}{suffix}": 2 for topic in TOPICS})
    return suffix


@retry(retry=retry_if_exception_type(KafkaException), stop=stop_after_delay(15), wait=wait_fixed(0.2), reraise=True)
def message_counts(kafka, suffix: str) -> dict[str, int]:
    """Messages per topic (retried while fresh topics still elect their leaders)."""
    consumer = metadata_consumer(kafka.settings, "cli-test")
    try:
        return {
            topic: sum(high - low for low, high in watermarks(consumer, f"{topic}{suffix}", [0, 1]).values())
            for topic in TOPICS
        }
    finally:
        consumer.close()


def simulators_cli(kafka, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, **kafka.env(), "LOG_LEVEL": "INFO"}
    return subprocess.Popen(
        [sys.executable, "-m", "simulators", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_run_stops_cleanly_on_sigterm(kafka, suffixed_topics):
    proc = simulators_cli(
        kafka, "run", "--duration", "120", "--rate-multiplier", "60", "--topic-suffix", suffixed_topics
    )
    try:
        deadline = time.monotonic() + 30
        counts = {}
        while time.monotonic() < deadline:
            counts = message_counts(kafka, suffixed_topics)
            if all(counts.values()):
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "stopped (signal)" in stdout
    final = message_counts(kafka, suffixed_topics)
    assert all(final.values()), final
    assert sum(final.values()) >= sum(counts.values())


def test_burst_produces_the_requested_events(kafka, suffixed_topics):
    proc = simulators_cli(kafka, "burst", "--events", "2500", "--total", "--topic-suffix", suffixed_topics)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    counts = message_counts(kafka, suffixed_topics)
    assert sum(counts.values()) >= 2_500  # 500 per source; whole CDC transactions and batches
    assert all(counts.values())
    assert "done:" in stdout


def test_missing_topics_exit_1_with_a_hint(kafka):
    proc = simulators_cli(kafka, "burst", "--events", "10", "--sources", "web", "--topic-suffix", "_missing_xyz")
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "topic_app_events_missing_xyz" in stderr and "dataplat kafka start" in stderr
