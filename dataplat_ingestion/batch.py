"""Ingest one topic: validate, dead-letter the bad, land the good in Delta exactly once.

Order of effects for each batch (each step is safe to repeat after a crash):

1. Read the progress markers: bronze ``B[p]`` and quarantine ``Q[p]`` per partition.
   Messages at or below ``B[p]`` are already fully ingested and are skipped.
2. Validate every new message; convert the valid ones to Arrow in the bronze schema.
3. Rejected messages above ``max(B[p], Q[p])``: skip those a crashed writer already sent to the
   DLQ (found by scanning the DLQ tail after the recorded DLQ progress), send the rest, then
   commit them to the quarantine table together with the new ``Q[p]`` and DLQ progress.
4. Commit the valid rows to bronze together with the new ``B[p]`` (the last offset of the
   batch in each partition, valid or not).

The Delta log, not Kafka's committed offsets, is the source of truth; Kafka commits are made
afterwards only so that standard tools show consumer lag.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from confluent_kafka import Consumer, Message, TopicPartition

from dataplat_ingestion.arrow_convert import ValidRows, bronze_schema, to_bronze_table
from dataplat_ingestion.dead_letters import DeadLetterQueue, RejectedMessage
from dataplat_ingestion.delta_store import DeltaAppendTable, progress_app_id
from dataplat_ingestion.metrics import METRICS_SCHEMA, IngestStats, metrics_row
from dataplat_ingestion.offsets import OffsetRanges
from dataplat_ingestion.reader import RangeReader
from dataplat_ingestion.validation import MessageValidator, conversion_rejection
from dataplat_resources import lake
from dataplat_resources.contracts import TopicContract
from dataplat_resources.kafka_client import consumer_config, kafka_retry
from dataplat_resources.logging import get_logger

log = get_logger(__name__)

INVALID_MARKER_HEADER = "dataplat-invalid"


@dataclass(frozen=True)
class IngestOptions:
    batch_size: int = 50_000
    max_message_bytes: int = 65_536
    enable_validation: bool = True


@dataclass
class PreparedBatch:
    """A validated batch waiting to be written: valid rows column-wise, rejections, progress."""

    stats: IngestStats
    partitions: set[int]
    started: float
    rows: ValidRows = field(default_factory=ValidRows)
    valid_msgs: list[Message] = field(default_factory=list)
    rejected: list[RejectedMessage] = field(default_factory=list)
    last_offset: dict[int, int] = field(default_factory=dict)
    kafka_ts: list[int] = field(default_factory=list)


def _marker(headers: list[tuple[str, bytes | None]] | None) -> str | None:
    for name, value in headers or ():
        if name == INVALID_MARKER_HEADER:
            return value.decode("utf-8", "replace") if value is not None else ""
    return None


def _rejected(msg: Message, rejection) -> RejectedMessage:  # noqa: ANN001 - Rejection
    headers = msg.headers() or []
    ts_type, ts = msg.timestamp()
    return RejectedMessage(
        partition=msg.partition(),
        offset=msg.offset(),
        timestamp_ms=ts if ts_type else None,
        key=msg.key(),
        value=msg.value(),
        headers=headers,
        rejection=rejection,
        invalid_marker=_marker(headers),
    )


def quarantine_table(topic: str, rejected: list[RejectedMessage], ingested_at: datetime) -> pa.Table:
    rows = {
        lake.KAFKA_TOPIC: [topic] * len(rejected),
        lake.KAFKA_PARTITION: [r.partition for r in rejected],
        lake.KAFKA_OFFSET: [r.offset for r in rejected],
        lake.KAFKA_TIMESTAMP: [
            datetime.fromtimestamp(r.timestamp_ms / 1000, UTC) if r.timestamp_ms else None for r in rejected
        ],
        "key": [r.key for r in rejected],
        "value": [r.value for r in rejected],
        "value_size": [len(r.value) if r.value is not None else 0 for r in rejected],
        "error_stage": [r.rejection.stage for r in rejected],
        "error_class": [r.rejection.error_class for r in rejected],
        "error_message": [r.rejection.message for r in rejected],
        "error_details": [r.rejection.details for r in rejected],
        "invalid_marker": [r.invalid_marker for r in rejected],
        lake.INGESTED_AT: [ingested_at] * len(rejected),
        "ingest_date": [ingested_at.date()] * len(rejected),
    }
    return pa.table(rows, schema=lake.QUARANTINE_SCHEMA)


def _keep_after(table: pa.Table, committed: Mapping[int, int]) -> pa.Table:
    """Rows whose offset is above their partition's committed offset."""
    if not committed or not table.num_rows:
        return table
    partitions = table.column(lake.KAFKA_PARTITION).to_numpy()
    offsets = table.column(lake.KAFKA_OFFSET).to_numpy()
    floor = np.array([committed.get(int(p), -1) for p in partitions], dtype=np.int64)
    return table.filter(pa.array(offsets > floor))


class TopicIngestor:
    """Exactly-once ingestion of one topic into ``bronze/<name>`` and ``quarantine/<name>``."""

    def __init__(
        self,
        contract: TopicContract,
        topic: str,
        layout: lake.LakeLayout,
        client_config: Mapping[str, str],
        dlq_topic: str,
        dlq_partitions: int,
        options: IngestOptions | None = None,
        storage_options: Mapping[str, str] | None = None,
    ) -> None:
        self.contract = contract
        self.topic = topic
        self.layout = layout
        self.client_config = dict(client_config)
        self.options = options or IngestOptions()
        self.validator = MessageValidator(contract, self.options.max_message_bytes, self.options.enable_validation)
        self.bronze = DeltaAppendTable(
            layout.bronze(topic), bronze_schema(contract), lake.BRONZE_PARTITION_COLUMNS, storage_options
        )
        self.quarantine = DeltaAppendTable(
            layout.quarantine(topic), lake.QUARANTINE_SCHEMA, lake.QUARANTINE_PARTITION_COLUMNS, storage_options
        )
        self.metrics_table = DeltaAppendTable(
            layout.ingestion_metrics, METRICS_SCHEMA, ["metrics_date"], storage_options
        )
        self.dlq = DeadLetterQueue(self.client_config, topic, dlq_topic, dlq_partitions)

    # -- progress --------------------------------------------------------------------

    def _app_ids(self, kind: str, partitions: set[int] | list[int]) -> dict[int, str]:
        return {p: progress_app_id(kind, self.topic, p) for p in partitions}

    def committed_offsets(self, partitions: list[int]) -> dict[int, int]:
        """Last offset per partition that bronze has fully ingested (valid and invalid)."""
        return self.bronze.progress(self._app_ids("bronze", partitions))

    # -- one batch ---------------------------------------------------------------------

    def process_batch(self, messages: list[Message]) -> IngestStats:
        """Ingest a batch of one topic's messages (any partitions, any order within reason)."""
        return self.write_batch(self.prepare_batch(messages))

    def prepare_batch(self, messages: list[Message], committed_hint: Mapping[int, int] | None = None) -> PreparedBatch:
        """Validate a batch (pure Python, holds the GIL); nothing is written yet.

        ``committed_hint`` (progress read earlier) saves a Delta read per batch when a caller
        reads a range in order; :meth:`write_batch` re-checks against fresh progress anyway.
        """
        started = time.perf_counter()
        stats = IngestStats(topic=self.topic, consumed=len(messages))
        partitions = {m.partition() for m in messages}
        committed = (
            committed_hint if committed_hint is not None else self.bronze.progress(self._app_ids("bronze", partitions))
        )
        check = self.validator.check
        prepared = PreparedBatch(stats=stats, partitions=partitions, started=started)
        rows, valid_msgs, rejected = prepared.rows, prepared.valid_msgs, prepared.rejected
        last_offset, kafka_ts = prepared.last_offset, prepared.kafka_ts
        total_bytes = 0
        gc_was_enabled = gc.isenabled()
        gc.disable()  # the largest single cost of validating many small objects (see NOTES)
        try:
            for msg in messages:
                partition, offset = msg.partition(), msg.offset()
                if offset <= committed.get(partition, -1):
                    stats.already_committed += 1
                    continue
                if offset > last_offset.get(partition, -1):
                    last_offset[partition] = offset
                value = msg.value()
                ts_type, ts = msg.timestamp()
                if ts_type:
                    kafka_ts.append(ts)
                if value is not None:
                    total_bytes += len(value)
                rejection = check(value)
                if rejection is None:
                    valid_msgs.append(msg)
                    rows.values.append(value)
                    rows.partitions.append(partition)
                    rows.offsets.append(offset)
                    rows.timestamps_ms.append(ts if ts_type else None)
                    rows.keys.append(msg.key())
                else:
                    rejected.append(_rejected(msg, rejection))
        finally:
            if gc_was_enabled:
                gc.enable()
        stats.bytes = total_bytes
        stats.add_stage("validate", time.perf_counter() - started)
        return prepared

    def write_batch(self, prepared: PreparedBatch) -> IngestStats:
        """Convert, dead-letter and commit a prepared batch (mostly Arrow and delta-rs: no GIL)."""
        stats, partitions = prepared.stats, prepared.partitions
        if not prepared.last_offset:
            stats.duration_s = time.perf_counter() - prepared.started
            return stats
        begun = time.perf_counter()
        committed = self.bronze.progress(self._app_ids("bronze", partitions))
        quarantined = self.quarantine.progress(self._app_ids("quarantine", partitions))
        rows, valid_msgs = prepared.rows, prepared.valid_msgs
        stale = [
            i for i, (p, o) in enumerate(zip(rows.partitions, rows.offsets, strict=True)) if o <= committed.get(p, -1)
        ]
        if stale:  # committed by someone else since the batch was prepared
            keep = sorted(set(range(len(rows))) - set(stale))
            rows, valid_msgs = rows.take(keep), [valid_msgs[i] for i in keep]
            stats.already_committed += len(stale)
        rejected = [r for r in prepared.rejected if r.offset > committed.get(r.partition, -1)]
        stats.already_committed += len(prepared.rejected) - len(rejected)
        last_offset = {p: o for p, o in prepared.last_offset.items() if o > committed.get(p, -1)}

        ingested_at = datetime.now(UTC)
        bronze_rows, conversion_errors = to_bronze_table(self.contract, self.topic, rows, ingested_at)
        converted = time.perf_counter()
        stats.add_stage("convert", converted - begun)
        for index, error in conversion_errors:
            rejected.append(_rejected(valid_msgs[index], conversion_rejection(error)))
        stats.valid = bronze_rows.num_rows
        stats.invalid = len(rejected)
        for r in rejected:
            stats.rejections_by_reason[r.rejection.reason] = stats.rejections_by_reason.get(r.rejection.reason, 0) + 1
            if r.invalid_marker is not None:
                stats.invalid_markers[r.invalid_marker] = stats.invalid_markers.get(r.invalid_marker, 0) + 1

        self._dead_letter(rejected, committed, quarantined, last_offset, ingested_at, stats)
        dead_lettered = time.perf_counter()
        stats.add_stage("dead_letter", dead_lettered - converted)
        bronze_txns = {progress_app_id("bronze", self.topic, p): off for p, off in last_offset.items()}
        outcome = self.bronze.append(
            bronze_rows,
            bronze_txns,
            metadata={
                "dataplat.topic": self.topic,
                "dataplat.rows": str(bronze_rows.num_rows),
                # Rows carry _ingested_at; with this, any row can be joined to its commit's time.
                "dataplat.ingested_at": ingested_at.isoformat(),
            },
            remaining=lambda data: _keep_after(
                data, self.bronze.progress(self._app_ids("bronze", partitions), refresh=False)
            ),
        )
        commit_us = time.time_ns() // 1000
        stats.add_stage("commit", time.perf_counter() - dead_lettered)
        stats.commit_conflicts += outcome.conflicts
        if outcome.rows < bronze_rows.num_rows:  # a concurrent writer committed some of them first
            stats.already_committed += bronze_rows.num_rows - outcome.rows
            stats.valid = outcome.rows
        if outcome.version is not None:
            stats.bronze_versions.append(outcome.version)
        stats.last_offsets = dict(last_offset)
        if bronze_rows.num_rows:
            event_us = pc.cast(bronze_rows.column(lake.EVENT_TIME), pa.int64()).to_numpy(zero_copy_only=False)
            stats.event_latency_ms.append((commit_us - event_us) / 1000.0)
        if prepared.kafka_ts:
            stats.kafka_latency_ms.append(commit_us / 1000.0 - np.asarray(prepared.kafka_ts, dtype=np.float64))
        stats.duration_s = time.perf_counter() - prepared.started
        stats.batch_seconds.append(stats.duration_s)
        return stats

    def _dead_letter(
        self,
        rejected: list[RejectedMessage],
        committed: Mapping[int, int],
        quarantined: Mapping[int, int],
        last_offset: Mapping[int, int],
        ingested_at: datetime,
        stats: IngestStats,
    ) -> None:
        fresh = [
            r for r in rejected if r.offset > max(committed.get(r.partition, -1), quarantined.get(r.partition, -1))
        ]
        if len(fresh) < len(rejected):  # quarantined by an earlier attempt that crashed before bronze
            stats.already_committed += len(rejected) - len(fresh)
            stats.invalid -= len(rejected) - len(fresh)
        if not fresh:
            return
        touched = {r.partition for r in fresh}
        dlq_parts = {self.dlq.dlq_partition(p) for p in touched}
        dlq_progress = self.quarantine.progress(
            {dp: progress_app_id("dlq", self.topic, dp) for dp in dlq_parts}, refresh=False
        )
        already = self.dlq.already_sent(dlq_progress, touched)
        to_send = [r for r in fresh if (r.partition, r.offset) not in already]
        ends = self.dlq.send(to_send)
        stats.dead_lettered += len(to_send)
        stats.dead_letters_already_sent += len(fresh) - len(to_send)
        txns = {progress_app_id("quarantine", self.topic, p): last_offset[p] for p in touched}
        txns.update({progress_app_id("dlq", self.topic, dp): end for dp, end in ends.items()})
        outcome = self.quarantine.append(
            quarantine_table(self.topic, fresh, ingested_at),
            txns,
            metadata={"dataplat.topic": self.topic, "dataplat.rows": str(len(fresh))},
            remaining=lambda data: _keep_after(
                data, self.quarantine.progress(self._app_ids("quarantine", touched), refresh=False)
            ),
        )
        stats.commit_conflicts += outcome.conflicts
        if outcome.rows < len(fresh):  # a concurrent writer quarantined some of them first
            stats.already_committed += len(fresh) - outcome.rows
            stats.invalid -= len(fresh) - outcome.rows

    # -- a whole offset range (the sensor-driven bronze run) ------------------------------

    def positions(self) -> TopicPositions:
        return topic_positions(self.topic, self.client_config, self.bronze)

    def pending_ranges(self, max_messages: int | None = None) -> list[OffsetRanges]:
        """Everything in Kafka now that bronze does not have yet, as bounded ranges."""
        from dataplat_ingestion.offsets import next_offsets, plan_runs

        positions = self.positions()
        start = next_offsets(positions.committed, positions.low)
        return plan_runs(self.topic, start, positions.high, max_messages or self.options.batch_size * 10)

    def ingest_range(
        self, ranges: OffsetRanges | list[OffsetRanges], run_id: str, mode: str = "sensor", record: bool = True
    ) -> IngestStats:
        """Read exactly ``ranges`` and ingest them, one Delta commit per batch."""
        all_ranges = [ranges] if isinstance(ranges, OffsetRanges) else list(ranges)
        for r in all_ranges:
            if r.topic != self.topic:
                raise ValueError(f"ranges are for {r.topic!r}, this ingestor handles {self.topic!r}")
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        total = IngestStats(topic=self.topic)
        for one in all_ranges:
            total.merge(self._ingest_one_range(one))
        total.duration_s = time.perf_counter() - started
        total.remaining_lag = self.remaining_lag()
        if record:
            self.record_metrics(total, run_id, mode, started_at, "; ".join(str(r) for r in all_ranges))
        return total

    def _ingest_one_range(self, ranges: OffsetRanges) -> IngestStats:
        """Read and ingest one range as a two-stage pipeline: while a writer thread converts and
        commits batch N (Arrow and delta-rs release the GIL), this thread reads and validates
        batch N+1. Commits stay strictly in order; at most two batches are in memory."""
        stats = IngestStats(topic=self.topic)
        partitions = [r.partition for r in ranges.ranges]
        hint = self.bronze.progress(self._app_ids("bronze", partitions))
        pending: Future[IngestStats] | None = None
        with (
            RangeReader(self.client_config, ranges, self.options.batch_size) as reader,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="bronze-writer") as writer,
        ):
            waited = time.perf_counter()
            for batch in reader.batches():
                stats.add_stage("read", time.perf_counter() - waited)
                prepared = self.prepare_batch(batch, committed_hint=hint)
                del batch  # the prepared batch keeps only what it needs
                if pending is not None:
                    stats.merge(self._log_batch(pending.result()))
                pending = writer.submit(self.write_batch, prepared)
                waited = time.perf_counter()
            if pending is not None:
                stats.merge(self._log_batch(pending.result()))
            self._commit_for_lag(reader.consumer, stats.last_offsets)
        return stats

    def _log_batch(self, stats: IngestStats) -> IngestStats:
        log.info(
            "ingested batch",
            topic=self.topic,
            consumed=stats.consumed,
            valid=stats.valid,
            invalid=stats.invalid,
            skipped=stats.already_committed,
            seconds=round(stats.duration_s, 3),
        )
        return stats

    def _commit_for_lag(self, consumer: Consumer, last_offsets: Mapping[int, int]) -> None:
        """Mirror progress into Kafka's group offsets, only so lag shows in standard tools."""
        if not last_offsets:
            return
        try:
            consumer.commit(
                offsets=[TopicPartition(self.topic, p, off + 1) for p, off in last_offsets.items()], asynchronous=False
            )
        except Exception as exc:
            log.warning("could not mirror offsets to Kafka (lag display only)", topic=self.topic, error=str(exc))

    def remaining_lag(self) -> int | None:
        """Messages in Kafka not yet in bronze (from the Delta progress, not Kafka commits)."""
        try:
            return self.positions().lag
        except Exception as exc:
            log.warning("could not compute lag", topic=self.topic, error=str(exc))
            return None

    def record_metrics(
        self, stats: IngestStats, run_id: str, mode: str, started_at: datetime, ranges: str | None
    ) -> None:
        row = metrics_row(stats, run_id, mode, started_at, datetime.now(UTC), ranges)
        self.metrics_table.append(row, {}, metadata={"dataplat.run_id": run_id})

    def close(self) -> None:
        self.dlq.close()


def summarize_rejections(stats: IngestStats) -> str:
    return json.dumps(stats.rejections_by_reason, sort_keys=True)


def open_ingestor(
    topic: str,
    client_config: Mapping[str, str],
    layout: lake.LakeLayout,
    options: IngestOptions,
    contract: TopicContract | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> TopicIngestor:
    """A ready :class:`TopicIngestor` for ``topic`` (its contract, DLQ and partition counts)."""
    from confluent_kafka.admin import AdminClient

    from dataplat_resources import topics
    from dataplat_resources.contracts import contract_for
    from dataplat_resources.kafka_client import topic_partitions

    contract = contract or contract_for(topic)
    dlq = topics.dlq_topic(topic)
    dlq_partitions = len(topic_partitions(AdminClient(dict(client_config)), dlq))
    return TopicIngestor(contract, topic, layout, client_config, dlq, dlq_partitions, options, storage_options)


@dataclass(frozen=True)
class TopicPositions:
    """Where a topic stands: Kafka's low/high watermarks and bronze's committed offsets."""

    low: dict[int, int]
    high: dict[int, int]
    committed: dict[int, int]

    @property
    def lag(self) -> int:
        from dataplat_ingestion.offsets import next_offsets

        start = next_offsets(self.committed, self.low)
        return sum(max(0, self.high[p] - start[p]) for p in self.high)


@kafka_retry
def topic_positions(
    topic: str,
    client_config: Mapping[str, str],
    bronze: DeltaAppendTable,
) -> TopicPositions:
    """Read end offsets (never payloads) and the Delta progress of ``topic``."""
    consumer = Consumer(consumer_config(client_config, group_id="dataplat-positions"))
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            raise RuntimeError(
                f"topic {topic!r} is not available: {found.error.str() if found and found.error else 'missing'}"
            )
        partitions = sorted(found.partitions)
        low, high = {}, {}
        for p in partitions:
            low[p], high[p] = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
    finally:
        consumer.close()
    committed = bronze.progress({p: progress_app_id("bronze", topic, p) for p in partitions})
    return TopicPositions(low, high, committed)
