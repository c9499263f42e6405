"""Thin helpers over confluent-kafka: producer/consumer/admin configs, topic creation, offsets.

Everything here is plain Python so simulators, the ingestion engine, sensors and the CLI share
one way of talking to Kafka.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_delay, wait_exponential

from dataplat_resources.settings import KafkaSettings

DEFAULT_TIMEOUT_S = 15.0
# librdkafka's own log lines go through Python logging (and thus structlog's masking and levels)
# instead of being printed to stderr.
LIBRDKAFKA_LOGGER = logging.getLogger("librdkafka")


class KafkaUnavailableError(RuntimeError):
    """The cluster did not answer; the message says where we looked and what to do."""


_TRANSIENT_CODES = {
    KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._UNKNOWN_PARTITION,
    KafkaError._TIMED_OUT,
    KafkaError._WAIT_COORD,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
}


def is_transient(exc: BaseException) -> bool:
    """A Kafka error that goes away on its own (broker restarting, leader moving)."""
    if not isinstance(exc, KafkaException) or not exc.args or not isinstance(exc.args[0], KafkaError):
        return False
    error: KafkaError = exc.args[0]
    return error.retriable() or error.code() in _TRANSIENT_CODES


def _log_retry(state: RetryCallState) -> None:
    logging.getLogger(__name__).warning(
        "transient Kafka error, retrying (attempt %s): %s",
        state.attempt_number,
        state.outcome.exception() if state.outcome else "",
    )


# Retries a Kafka call through a broker restart or leader election (up to ~3 minutes).
kafka_retry = retry(
    retry=retry_if_exception(is_transient),
    wait=wait_exponential(multiplier=0.25, max=10),
    stop=stop_after_delay(180),
    before_sleep=_log_retry,
    reraise=True,
)


def producer_config(base: Mapping[str, str], **overrides: str | int | bool) -> dict[str, object]:
    """Idempotent, snappy-compressed producer settings with sensible batching."""
    config: dict[str, object] = {
        **base,
        "logger": LIBRDKAFKA_LOGGER,
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": "snappy",
        "linger.ms": 20,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
        "message.timeout.ms": 120_000,
    }
    config.update(overrides)
    return config


def consumer_config(base: Mapping[str, str], group_id: str, **overrides: str | int | bool) -> dict[str, object]:
    """Consumer settings tuned for batch reads. Offsets are never auto-committed: Delta is the truth."""
    config: dict[str, object] = {
        **base,
        "logger": LIBRDKAFKA_LOGGER,
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        # librdkafka's default (1000 ms) stalls each drain for ~0.9 s; see shared NOTES.
        "fetch.queue.backoff.ms": 10,
        # Prefetch is bounded: librdkafka's buffers are the largest part of a consumer's RSS.
        "queued.max.messages.kbytes": 32_768,
        "fetch.max.bytes": 16_777_216,
        "max.partition.fetch.bytes": 4_194_304,
        "isolation.level": "read_committed",
    }
    config.update(overrides)
    return config


def admin_client(settings: KafkaSettings) -> AdminClient:
    return AdminClient({**settings.client_config(), "logger": LIBRDKAFKA_LOGGER})


def check_reachable(admin: AdminClient, bootstrap: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Raise a clear error when no broker answers within the timeout."""
    try:
        admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise KafkaUnavailableError(
            f"Kafka at {bootstrap} did not answer within {timeout_s:.0f}s ({exc.args[0]}). "
            "Start the local broker with `dataplat kafka start`, or set KAFKA_BOOTSTRAP_SERVER "
            "to a reachable cluster."
        ) from exc


@dataclass(frozen=True)
class TopicChange:
    topic: str
    action: str  # created | grown | unchanged | larger_than_requested
    partitions: int


def ensure_topics(
    admin: AdminClient,
    wanted: Mapping[str, int],
    replication_factor: int = 1,
    config: Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> list[TopicChange]:
    """Create missing topics and grow ones with too few partitions. Safe to run any number of times.

    Kafka cannot shrink a topic, so a topic with more partitions than asked is left alone and
    reported as ``larger_than_requested``.
    """
    metadata = admin.list_topics(timeout=timeout_s)
    changes: list[TopicChange] = []
    to_create = []
    to_grow = []
    for topic, partitions in wanted.items():
        existing = metadata.topics.get(topic)
        if existing is None or existing.error is not None:
            to_create.append(
                NewTopic(
                    topic, num_partitions=partitions, replication_factor=replication_factor, config=dict(config or {})
                )
            )
        elif len(existing.partitions) < partitions:
            to_grow.append(NewPartitions(topic, partitions))
        else:
            action = "unchanged" if len(existing.partitions) == partitions else "larger_than_requested"
            changes.append(TopicChange(topic, action, len(existing.partitions)))
    if to_create:
        for topic, future in admin.create_topics(to_create, operation_timeout=timeout_s).items():
            try:
                future.result()
                changes.append(TopicChange(topic, "created", wanted[topic]))
            except KafkaException as exc:
                if exc.args[0].code() != exc.args[0].TOPIC_ALREADY_EXISTS:
                    raise
                changes.append(TopicChange(topic, "unchanged", wanted[topic]))
    if to_grow:
        for topic, future in admin.create_partitions(to_grow, operation_timeout=timeout_s).items():
            future.result()
            changes.append(TopicChange(topic, "grown", wanted[topic]))
    return sorted(changes, key=lambda c: c.topic)


def topic_partitions(admin: AdminClient, topic: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[int]:
    """Partition ids of a topic; a clear error when it does not exist."""
    metadata = admin.list_topics(topic=topic, timeout=timeout_s)
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        reason = found.error.str() if found is not None and found.error else "not found"
        raise KafkaUnavailableError(
            f"topic {topic!r} is not available ({reason}); run `dataplat kafka start` to create it"
        )
    return sorted(found.partitions)


def watermarks(
    consumer: Consumer, topic: str, partitions: Iterable[int], timeout_s: float = DEFAULT_TIMEOUT_S
) -> dict[int, tuple[int, int]]:
    """(low, high) offsets per partition. ``high`` is the next offset to be written."""
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s, cached=False) for p in partitions
    }


def metadata_consumer(settings: KafkaSettings, purpose: str) -> Consumer:
    """A consumer used only to read offsets; it never subscribes or commits."""
    return Consumer(consumer_config(settings.client_config(), group_id=f"dataplat-{purpose}"))


def platform_topic_plan(settings: KafkaSettings) -> dict[str, int]:
    """Every topic the platform needs, with its partition count. A dead-letter topic has as many
    partitions as its source topic, so a dead letter stays in the partition it came from."""
    from dataplat_resources import topics

    plan: dict[str, int] = {}
    for topic in topics.SOURCE_TOPICS:
        partitions = settings.partitions_for(topic)
        plan[topic] = partitions
        plan[topics.dlq_topic(topic)] = partitions
    return plan


def ensure_platform_topics(settings: KafkaSettings, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[TopicChange]:
    """Create (or grow) the four source topics and their dead-letter topics."""
    admin = admin_client(settings)
    check_reachable(admin, settings.bootstrap_servers, timeout_s)
    return ensure_topics(admin, platform_topic_plan(settings), settings.replication_factor, timeout_s=timeout_s)
