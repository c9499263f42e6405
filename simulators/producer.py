"""Producing simulated records to Kafka, with every delivery report checked.

:class:`KafkaSink` wraps one confluent-kafka ``Producer`` (idempotent, snappy, from
``dataplat_resources.kafka_client.producer_config``). It never flushes per message: it calls
``produce()`` with a delivery callback and ``poll(0)`` every few thousand messages, retries on
``BufferError`` (local queue full) by polling until there is room, and counts every failed
delivery. :meth:`KafkaSink.flush` raises :class:`ProduceError` naming the topic, how many
failed and the first error, so nothing is dropped silently.

:func:`run_burst` is the entry point for bursts from any caller (CLI, Dagster asset, tests).
"""

from __future__ import annotations

import gc
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from dataplat_resources.kafka_client import producer_config
from dataplat_resources.logging import get_logger
from dataplat_resources.settings import KafkaSettings
from simulators.base import BaseSource, SimMessage
from simulators.cdc import CdcFinalState, PostgresCdcSource
from simulators.registry import SOURCES, burst_clock, make_source
from simulators.world import World

POLL_EVERY = 2_000
QUEUE_FULL_MAX_WAIT_S = 120.0
DEFAULT_FLUSH_TIMEOUT_S = 120.0

log = get_logger(__name__)


class ProduceError(RuntimeError):
    """Some messages were not delivered. ``failures`` maps topic -> (failed count, first error)."""

    def __init__(self, message: str, failures: Mapping[str, tuple[int, str]]) -> None:
        super().__init__(message)
        self.failures = dict(failures)


class MissingTopicError(ProduceError):
    """The target topic does not exist (the broker does not auto-create topics)."""


@dataclass
class TopicStats:
    """What happened to the messages sent to one topic, from the delivery reports."""

    sent: int = 0
    delivered: int = 0
    failed: int = 0
    bytes: int = 0
    first_error: str | None = None
    # partition -> [first offset, last offset] delivered since the offsets were last reset
    # (produce_burst resets them, so each burst reports exactly the offsets it wrote)
    offsets: dict[int, list[int]] = field(default_factory=dict)

    @property
    def in_flight(self) -> int:
        return self.sent - self.delivered - self.failed


class KafkaSink:
    """A producer whose failures cannot go unnoticed. Use as a context manager: it flushes on
    exit and raises :class:`ProduceError` if any delivery failed."""

    def __init__(self, settings: KafkaSettings, *, overrides: Mapping[str, Any] | None = None) -> None:
        config = producer_config(settings.client_config(), **dict(overrides or {}))
        config["on_delivery"] = self._on_delivery
        self._producer = Producer(config)
        self.stats: dict[str, TopicStats] = {}
        self.queue_full_waits = 0  # produce() calls that found the local queue full and waited
        self._closed = False
        self._since_poll = 0
        self._retry = Retrying(
            retry=retry_if_exception_type(BufferError),
            wait=wait_fixed(0.05),
            stop=stop_after_delay(QUEUE_FULL_MAX_WAIT_S),
            # Waiting means serving delivery reports, which is what frees queue space.
            sleep=self._producer.poll,
            reraise=True,
        )

    # -- delivery reports -----------------------------------------------------------------

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        stats = self.stats[msg.topic()]
        if err is not None:
            stats.failed += 1
            if stats.first_error is None:
                stats.first_error = f"{err.name()}: {err.str()}"
            return
        stats.delivered += 1
        partition, offset = msg.partition(), msg.offset()
        span = stats.offsets.get(partition)
        if span is None:
            stats.offsets[partition] = [offset, offset]
        elif offset > span[1]:
            span[1] = offset
        elif offset < span[0]:
            span[0] = offset

    # -- sending ----------------------------------------------------------------------------

    def topic_stats(self, topic: str) -> TopicStats:
        """Statistics of ``topic`` (created empty on first use)."""
        stats = self.stats.get(topic)
        if stats is None:
            stats = self.stats[topic] = TopicStats()
        return stats

    def send_many(self, topic: str, messages: Iterable[SimMessage]) -> int:
        """Queue messages for ``topic``; returns how many were queued."""
        stats = self.topic_stats(topic)
        produce = self._producer.produce
        poll = self._producer.poll
        count = 0
        size = 0
        since_poll = self._since_poll
        for msg in messages:
            value = msg.value
            try:
                produce(topic, value, msg.key, headers=msg.headers, timestamp=msg.timestamp_ms)
            except BufferError:
                self.queue_full_waits += 1
                try:
                    self._retry(produce, topic, value, msg.key, headers=msg.headers, timestamp=msg.timestamp_ms)
                except BufferError as exc:
                    stats.sent += count
                    raise ProduceError(
                        f"the producer queue for topic {topic!r} stayed full for {QUEUE_FULL_MAX_WAIT_S:.0f}s: "
                        "the broker is not taking messages",
                        {topic: (stats.in_flight, "local queue full")},
                    ) from exc
            except KafkaException as exc:  # refused locally (e.g. larger than message.max.bytes)
                stats.sent += 1
                stats.failed += 1
                if stats.first_error is None:
                    stats.first_error = f"{exc.args[0].name()}: {exc.args[0].str()}"
                continue
            count += 1
            if value is not None:
                size += len(value)
            since_poll += 1
            if since_poll >= POLL_EVERY:
                poll(0)
                since_poll = 0
        self._since_poll = since_poll
        stats.sent += count
        stats.bytes += size
        return count

    def check_topic(self, topic: str, timeout_s: float = 10.0) -> int:
        """Partition count of ``topic``; :class:`MissingTopicError` at once if it does not exist,
        instead of every message failing after ``topic.metadata.propagation.max.ms`` (30 s)."""
        metadata = self._producer.list_topics(topic, timeout=timeout_s)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            reason = found.error.str() if found is not None and found.error is not None else "not found"
            raise MissingTopicError(
                f"topic {topic!r} does not exist ({reason}); create it first, e.g. with `dataplat kafka start`",
                {topic: (0, reason)},
            )
        return len(found.partitions)

    def send(self, topic: str, message: SimMessage) -> None:
        self.send_many(topic, (message,))

    def poll(self, timeout_s: float = 0.0) -> int:
        return self._producer.poll(timeout_s)

    def in_flight(self) -> int:
        return len(self._producer)

    def flush(self, timeout_s: float = DEFAULT_FLUSH_TIMEOUT_S) -> None:
        """Wait for every delivery report; raise :class:`ProduceError` on any failure."""
        remaining = self._producer.flush(timeout_s)
        failures = {t: (s.failed, s.first_error or "") for t, s in self.stats.items() if s.failed}
        if failures:
            parts = [
                f"{count} of {self.stats[t].sent} messages to topic {t!r} failed (first error: {err})"
                for t, (count, err) in failures.items()
            ]
            raise ProduceError("; ".join(parts), failures)
        if remaining:
            raise ProduceError(
                f"{remaining} messages were still undelivered after {timeout_s:.0f}s "
                f"(topics: {', '.join(t for t, s in self.stats.items() if s.in_flight)}); is the broker reachable?",
                {t: (s.in_flight, "undelivered at flush timeout") for t, s in self.stats.items() if s.in_flight},
            )

    def close(self) -> None:
        """Release the producer's threads and connections. Call :meth:`flush` first: whatever is
        still queued here is purged (and counted as failed)."""
        if self._closed:
            return
        self._closed = True
        if len(self._producer):
            self._producer.purge()
            self._producer.poll(0)
        self._producer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self.flush()
                return
            # Already failing: still try to deliver what is queued, but do not mask the original error.
            try:
                self.flush(timeout_s=30.0)
            except ProduceError as flush_error:
                if not isinstance(exc, ProduceError):  # a ProduceError already says the same
                    log.error("flush after error failed", error=str(flush_error))
        finally:
            self.close()


@dataclass(frozen=True)
class BurstResult:
    """Outcome of one burst, from delivery reports. ``offsets`` maps partition -> (first, last)
    offset written, inclusive. ``final_state`` is set for a ``postgres_cdc`` burst only: the
    shop tables after its last transaction (see :class:`simulators.cdc.CdcFinalState`), which is
    what a mirror of the source database must hold. It is left out of :meth:`to_dict`."""

    source: str
    topic: str
    produced: int
    invalid: int
    invalid_by_kind: dict[str, int]
    late: int
    bytes: int
    offsets: dict[int, tuple[int, int]]
    elapsed_s: float
    final_state: CdcFinalState | None = field(default=None, compare=False, repr=False)

    @property
    def events_per_s(self) -> float:
        return self.produced / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "final_state"}
        data["invalid_by_kind"] = dict(self.invalid_by_kind)
        data["offsets"] = {str(p): list(span) for p, span in sorted(self.offsets.items())}
        data["events_per_s"] = round(self.events_per_s, 1)
        data["mb_per_s"] = round(self.mb_per_s, 2)
        return data


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector during a burst. Generation makes no reference cycles
    (reference counting frees everything), but full collections keep walking the world and the
    CDC table state, which costs up to a fifth of CDC throughput."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def produce_burst(
    sink: KafkaSink,
    source: BaseSource,
    events: int,
    *,
    topic: str | None = None,
    chunk: int = 10_000,
    stop: threading.Event | None = None,
) -> BurstResult:
    """Produce at least ``events`` messages of ``source`` (whole units) through ``sink`` and flush.

    Offsets are those this call wrote, so one sink can run several bursts one after another.
    Setting ``stop`` ends the burst early (after the current chunk); what was queued is flushed.
    """
    target = topic or source.topic
    stats = sink.topic_stats(target)
    sink.flush()  # nothing of an earlier burst may land in this burst's offset ranges
    stats.offsets = {}
    before_sent, before_bytes = stats.sent, stats.bytes
    kinds: Counter[str] = Counter()
    late = 0
    generated = 0
    started = time.perf_counter()
    with _gc_paused():
        while generated < events and not (stop is not None and stop.is_set()):
            batch: list[SimMessage] = []
            while len(batch) < min(chunk, events - generated):
                batch.extend(source.next_unit().messages)
            for msg in batch:
                if msg.invalid_kind is not None:
                    kinds[msg.invalid_kind] += 1
                elif msg.late:
                    late += 1
            generated += len(batch)
            sink.send_many(target, batch)
    sink.flush()
    elapsed = time.perf_counter() - started
    offsets = {partition: (first, last) for partition, (first, last) in stats.offsets.items()}
    return BurstResult(
        source=source.name,
        topic=target,
        produced=stats.sent - before_sent,
        invalid=sum(kinds.values()),
        invalid_by_kind=dict(sorted(kinds.items())),
        late=late,
        bytes=stats.bytes - before_bytes,
        offsets=dict(sorted(offsets.items())),
        elapsed_s=elapsed,
        final_state=source.final_state() if isinstance(source, PostgresCdcSource) else None,
    )


def run_burst(
    source: str,
    events: int,
    *,
    seed: int,
    settings: KafkaSettings,
    invalid_fraction: float = 0.01,
    late_fraction: float = 0.05,
    topic: str | None = None,
    start: datetime | None = None,
    world: World | None = None,
    producer_overrides: Mapping[str, Any] | None = None,
    check_topic: bool = True,
) -> BurstResult:
    """Produce ``events`` messages of one source as fast as possible and wait for every delivery.

    The burst replays the recent past on a virtual clock (see :func:`simulators.registry.burst_clock`;
    a CDC burst runs live from its real start on a compressed clock, so consecutive CDC bursts
    continue one database history: see :mod:`simulators.cdc`) unless ``start`` pins it, so the
    same seed and start give byte-identical messages. A CDC
    transaction or an external batch is never cut, so ``produced`` may exceed ``events`` by
    less than one unit. ``topic`` overrides the source's topic (tests write to unique topics).
    Raises :class:`MissingTopicError` up front if the topic does not exist (unless
    ``check_topic`` is off) and :class:`ProduceError` if any message was not delivered.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose from: {', '.join(SOURCES)}")
    generator = make_source(
        source,
        seed=seed,
        clock=burst_clock(source, seed, events, start),
        world=world,
        invalid_fraction=invalid_fraction,
        late_fraction=late_fraction,
    )
    with KafkaSink(settings, overrides=producer_overrides) as sink:
        if check_topic:
            sink.check_topic(topic or generator.topic)
        result = produce_burst(sink, generator, events, topic=topic)
    log.info(
        "burst done",
        source=source,
        topic=result.topic,
        produced=result.produced,
        invalid=result.invalid,
        elapsed_s=round(result.elapsed_s, 3),
        events_per_s=round(result.events_per_s),
    )
    return result


def run_bursts(
    sources: Iterable[str],
    events_per_source: int,
    *,
    seed: int,
    settings: KafkaSettings,
    invalid_fraction: float = 0.01,
    late_fraction: float = 0.05,
    topics: Mapping[str, str] | None = None,
    start: datetime | None = None,
    producer_overrides: Mapping[str, Any] | None = None,
) -> list[BurstResult]:
    """Several bursts, one source after another, through one producer."""
    results = []
    names = list(sources)
    with KafkaSink(settings, overrides=producer_overrides) as sink:
        for name in names:
            sink.check_topic((topics or {}).get(name) or SOURCES[name].topic)
        for name in names:
            generator = make_source(
                name,
                seed=seed,
                clock=burst_clock(name, seed, events_per_source, start),
                invalid_fraction=invalid_fraction,
                late_fraction=late_fraction,
            )
            results.append(produce_burst(sink, generator, events_per_source, topic=(topics or {}).get(name)))
    return results
