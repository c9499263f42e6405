"""The continuous ingest service: long-running consumers for lower latency than sensor runs.

One process consumes one topic or all of them ("unified"); N processes share partitions
through the consumer group. It flushes by size or time through the same
:meth:`TopicIngestor.process_batch` the sensor-driven runs use, so it is exactly-once with the
same Delta app transactions: after a crash, a rebalance or a concurrent sensor run, whatever
is already in Delta is skipped, and two writers racing on a partition conflict in Delta
instead of double-writing.

On assignment each partition is positioned from the Delta log (not Kafka's committed
offsets). On revocation the buffered messages of the revoked partitions are flushed first.
SIGTERM or Ctrl-C drains the buffers, commits and exits 0.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import prometheus_client as prom
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient

from dataplat_ingestion.batch import IngestOptions, TopicIngestor, open_ingestor
from dataplat_ingestion.metrics import IngestStats
from dataplat_resources import lake as lake_layout
from dataplat_resources.kafka_client import consumer_config
from dataplat_resources.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Profile:
    """Tuning profiles after the seed's high-throughput and low-latency consumer examples."""

    name: str
    max_batch: int  # flush when this many messages are buffered
    flush_interval_s: float  # ... or when the oldest buffered message waited this long
    consumer_overrides: Mapping[str, Any]


PROFILES: dict[str, Profile] = {
    "high-throughput": Profile(
        "high-throughput", 100_000, 5.0, {"fetch.min.bytes": 1_048_576, "fetch.wait.max.ms": 500}
    ),
    "balanced": Profile("balanced", 50_000, 1.0, {"fetch.min.bytes": 65_536, "fetch.wait.max.ms": 100}),
    "low-latency": Profile("low-latency", 10_000, 0.25, {"fetch.min.bytes": 1, "fetch.wait.max.ms": 10}),
}

REGISTRY = prom.CollectorRegistry()
CONSUMED = prom.Counter("dataplat_ingest_messages_total", "Messages consumed", ["topic"], registry=REGISTRY)
VALID = prom.Counter("dataplat_ingest_valid_total", "Valid messages written to bronze", ["topic"], registry=REGISTRY)
INVALID = prom.Counter("dataplat_ingest_invalid_total", "Rejected messages", ["topic", "reason"], registry=REGISTRY)
BYTES = prom.Counter("dataplat_ingest_bytes_total", "Payload bytes consumed", ["topic"], registry=REGISTRY)
DEAD_LETTERS = prom.Counter(
    "dataplat_ingest_dead_letters_total", "Messages sent to the DLQ", ["topic"], registry=REGISTRY
)
CONFLICTS = prom.Counter(
    "dataplat_ingest_commit_conflicts_total", "Delta commit conflicts", ["topic"], registry=REGISTRY
)
FLUSH_SECONDS = prom.Histogram(
    "dataplat_ingest_flush_seconds",
    "Time to validate and commit one flush",
    ["topic"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
LATENCY = prom.Gauge(
    "dataplat_ingest_latency_seconds",
    "Kafka timestamp to Delta commit, quantiles of the latest flush",
    ["topic", "quantile"],
    registry=REGISTRY,
)
LAG = prom.Gauge("dataplat_ingest_lag_messages", "Messages in Kafka not yet in bronze", ["topic"], registry=REGISTRY)
LAST_COMMIT = prom.Gauge(
    "dataplat_ingest_last_commit_timestamp_seconds", "Unix time of the last bronze commit", ["topic"], registry=REGISTRY
)


@dataclass
class ServiceConfig:
    topics: list[str]
    client_config: dict[str, str]
    lake_root: str
    profile: Profile
    group_id: str = "dataplat-ingest"
    # Static membership: a restarted process with the same id takes its partitions back at once,
    # without waiting for the old member's session to time out.
    instance_id: str | None = None
    session_timeout_ms: int = 10_000
    options: IngestOptions = field(default_factory=IngestOptions)
    storage_options: dict[str, str] | None = None
    metrics_port: int | None = 9108  # None: no HTTP endpoint
    metrics_interval_s: float = 60.0  # one ingestion_metrics row per topic per interval
    record_metrics: bool = True
    health_max_commit_age_s: float = 300.0


class IngestService:
    """Consume, buffer, flush exactly-once; serve /metrics and /health."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        layout = lake_layout.LakeLayout(config.lake_root)
        options = IngestOptions(
            batch_size=config.profile.max_batch,
            max_message_bytes=config.options.max_message_bytes,
            enable_validation=config.options.enable_validation,
        )
        self.ingestors: dict[str, TopicIngestor] = {
            t: open_ingestor(t, config.client_config, layout, options, storage_options=config.storage_options)
            for t in config.topics
        }
        self.consumer = Consumer(
            consumer_config(
                config.client_config,
                group_id=config.group_id,
                **{
                    "partition.assignment.strategy": "range",
                    "session.timeout.ms": config.session_timeout_ms,
                    "heartbeat.interval.ms": max(500, config.session_timeout_ms // 5),
                    **({"group.instance.id": config.instance_id} if config.instance_id else {}),
                    **config.profile.consumer_overrides,
                },
            )
        )
        self.buffers: dict[str, list[Message]] = {t: [] for t in config.topics}
        self.buffered = 0
        self.oldest_buffered_at: float | None = None
        self.stopping = threading.Event()
        self.window = {t: IngestStats(topic=t) for t in config.topics}
        self.window_started = {t: datetime.now(UTC) for t in config.topics}
        self.last_commit_at: dict[str, float] = {}
        self.lag: dict[str, int] = {}
        self.broker_ok = True
        self.totals = {t: IngestStats(topic=t) for t in config.topics}
        self._http: WSGIServer | None = None

    # -- lifecycle -------------------------------------------------------------------

    def stop(self, *_: object) -> None:
        if not self.stopping.is_set():
            log.info("stop requested; draining buffers")
        self.stopping.set()

    def run(self, duration_s: float | None = None) -> dict[str, IngestStats]:
        """Consume until stopped (or ``duration_s`` elapsed); returns totals per topic."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        if self.config.metrics_port is not None:
            self._start_http(self.config.metrics_port)
        deadline = time.monotonic() + duration_s if duration_s else None
        self.consumer.subscribe(self.config.topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        log.info(
            "ingest service started",
            topics=self.config.topics,
            profile=self.config.profile.name,
            group=self.config.group_id,
        )
        last_housekeeping = 0.0
        try:
            while not self.stopping.is_set() and (deadline is None or time.monotonic() < deadline):
                messages = self.consumer.consume(num_messages=min(self.config.profile.max_batch, 50_000), timeout=0.1)
                for msg in messages:
                    error = msg.error()
                    if error is not None:
                        if error.code() != KafkaError._PARTITION_EOF:
                            self.broker_ok = error.code() != KafkaError._ALL_BROKERS_DOWN
                            log.warning("kafka error", error=error.str())
                        continue
                    self.broker_ok = True
                    buffer = self.buffers[msg.topic()]
                    if not buffer and self.oldest_buffered_at is None:
                        self.oldest_buffered_at = time.monotonic()
                    buffer.append(msg)
                    self.buffered += 1
                if self._should_flush():
                    self.flush()
                now = time.monotonic()
                if now - last_housekeeping > 10:
                    last_housekeeping = now
                    self._housekeeping()
            self.flush()
        finally:
            self._close()
        return self.totals

    def _close(self) -> None:
        try:
            self.consumer.close()  # revokes: _on_revoke flushes whatever is left
        except KafkaException as exc:
            log.warning("consumer close failed", error=str(exc))
        for topic in self.config.topics:
            self._write_window(topic, force=True)
        for ingestor in self.ingestors.values():
            ingestor.close()
        if self._http is not None:
            self._http.shutdown()
        log.info("ingest service stopped", totals={t: s.summary()["consumed"] for t, s in self.totals.items()})

    # -- rebalancing: Delta decides where each partition resumes ---------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        by_topic: dict[str, list[int]] = {}
        for tp in partitions:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        committed = {t: self.ingestors[t].committed_offsets(ps) for t, ps in by_topic.items()}
        for tp in partitions:
            last = committed[tp.topic].get(tp.partition)
            tp.offset = last + 1 if last is not None else -2  # -2: OFFSET_BEGINNING
        consumer.assign(partitions)
        log.info("partitions assigned", partitions=[f"{tp.topic}:{tp.partition}@{tp.offset}" for tp in partitions])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.flush()  # everything buffered for the revoked partitions lands before they move
        consumer.unassign()
        log.info("partitions revoked", partitions=[f"{tp.topic}:{tp.partition}" for tp in partitions])

    # -- flushing ------------------------------------------------------------------------

    def _should_flush(self) -> bool:
        if self.buffered >= self.config.profile.max_batch:
            return True
        return (
            self.oldest_buffered_at is not None
            and time.monotonic() - self.oldest_buffered_at >= self.config.profile.flush_interval_s
        )

    def flush(self) -> None:
        for topic, buffer in self.buffers.items():
            if not buffer:
                continue
            started = time.perf_counter()
            stats = self.ingestors[topic].process_batch(buffer)
            FLUSH_SECONDS.labels(topic).observe(time.perf_counter() - started)
            self._count(topic, stats)
            self._commit_for_lag(topic, stats.last_offsets)
            self.buffers[topic] = []
        self.buffered = 0
        self.oldest_buffered_at = None

    def _count(self, topic: str, stats: IngestStats) -> None:
        CONSUMED.labels(topic).inc(stats.consumed)
        VALID.labels(topic).inc(stats.valid)
        BYTES.labels(topic).inc(stats.bytes)
        DEAD_LETTERS.labels(topic).inc(stats.dead_lettered)
        CONFLICTS.labels(topic).inc(stats.commit_conflicts)
        for reason, count in stats.rejections_by_reason.items():
            INVALID.labels(topic, reason).inc(count)
        latency = stats.latency()["kafka_time_to_commit_ms"]
        for q in ("p50", "p95", "p99"):
            if latency[q] is not None:
                LATENCY.labels(topic, f"0.{q[1:]}").set(latency[q] / 1000.0)
        if stats.bronze_versions:
            self.last_commit_at[topic] = time.time()
            LAST_COMMIT.labels(topic).set(self.last_commit_at[topic])
        self.window[topic].merge(stats)
        self.window[topic].duration_s += stats.duration_s
        self.totals[topic].merge(stats)
        self.totals[topic].duration_s += stats.duration_s
        self._write_window(topic)

    def _write_window(self, topic: str, force: bool = False) -> None:
        """One ingestion_metrics row per topic per interval keeps the metrics table small."""
        window = self.window[topic]
        age = (datetime.now(UTC) - self.window_started[topic]).total_seconds()
        if (
            not self.config.record_metrics
            or window.consumed == 0
            or (not force and age < self.config.metrics_interval_s)
        ):
            return
        window.remaining_lag = self.lag.get(topic)
        self.ingestors[topic].record_metrics(
            window,
            run_id=f"service:{self.config.group_id}",
            mode="service",
            started_at=self.window_started[topic],
            ranges=None,
        )
        self.window[topic] = IngestStats(topic=topic)
        self.window_started[topic] = datetime.now(UTC)

    def _commit_for_lag(self, topic: str, last_offsets: Mapping[int, int]) -> None:
        if not last_offsets:
            return
        try:
            self.consumer.commit(
                offsets=[TopicPartition(topic, p, o + 1) for p, o in last_offsets.items()], asynchronous=True
            )
        except KafkaException as exc:  # only lag display depends on it; Delta holds the truth
            log.debug("offset mirror failed", topic=topic, error=str(exc))

    def _housekeeping(self) -> None:
        for topic, ingestor in self.ingestors.items():
            lag = ingestor.remaining_lag()
            if lag is not None:
                self.lag[topic] = lag
                LAG.labels(topic).set(lag)
            self._write_window(topic)

    # -- /metrics and /health ------------------------------------------------------------

    def health(self) -> tuple[bool, dict[str, Any]]:
        try:
            AdminClient(self.config.client_config).list_topics(timeout=2.0)
            broker = True
        except KafkaException:
            broker = False
        now = time.time()
        ages = {t: round(now - at, 1) for t, at in self.last_commit_at.items()}
        stale = [
            t
            for t in self.config.topics
            if self.lag.get(t, 0) > 0 and ages.get(t, float("inf")) > self.config.health_max_commit_age_s
        ]
        healthy = broker and not stale and not self.stopping.is_set()
        return healthy, {
            "status": "ok" if healthy else "unhealthy",
            "broker_reachable": broker,
            "last_commit_age_s": ages,
            "lag": self.lag,
            "stale_topics": stale,
            "stopping": self.stopping.is_set(),
        }

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/health":
            healthy, body = self.health()
            start_response("200 OK" if healthy else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        if path == "/metrics":
            return prom.make_wsgi_app(REGISTRY)(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"try /metrics or /health\n"]

    def _start_http(self, port: int) -> None:
        class QuietHandler(WSGIRequestHandler):
            def log_message(self, *args: object) -> None:  # access logs would drown the service log
                return

        self._http = make_server("0.0.0.0", port, self._wsgi, handler_class=QuietHandler)
        threading.Thread(target=self._http.serve_forever, name="metrics-http", daemon=True).start()
        log.info("serving /metrics and /health", port=self._http.server_port)

    @property
    def http_port(self) -> int | None:
        return self._http.server_port if self._http else None
