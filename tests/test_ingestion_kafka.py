"""Exactly-once ingestion against the real broker and real Delta tables."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from dataplat_ingestion import dead_letters as dl
from dataplat_ingestion.batch import IngestOptions, TopicIngestor, open_ingestor
from dataplat_ingestion.offsets import OffsetRanges, PartitionRange
from dataplat_resources import lake, topics
from dataplat_resources.contracts import contract_for
from dataplat_resources.kafka_client import ensure_topics
from tests.conftest import KafkaCluster
from tests.corpus import MARKER, produce_corpus, read_all

pytestmark = pytest.mark.kafka
APP = contract_for(topics.APP_EVENTS)
PARTITIONS = 3


@pytest.fixture
def topic(kafka: KafkaCluster, unique_topic) -> str:
    name = unique_topic("app", PARTITIONS)
    ensure_topics(kafka.admin(), {topics.dlq_topic(name): PARTITIONS})
    return name


def make_ingestor(kafka: KafkaCluster, topic: str, lake_dir: Path, batch_size: int = 1_000) -> TopicIngestor:
    return open_ingestor(
        topic,
        kafka.settings.client_config(),
        lake.LakeLayout(str(lake_dir)),
        IngestOptions(batch_size=batch_size),
        contract=APP,
    )


def full_range(topic: str, produced) -> OffsetRanges:
    ends: dict[int, int] = {}
    for item in produced:
        ends[item.partition] = max(ends.get(item.partition, 0), item.offset + 1)
    return OffsetRanges(topic, tuple(PartitionRange(p, 0, e) for p, e in sorted(ends.items())))


def bronze_offsets(lake_dir: Path, topic: str) -> Counter:
    table = DeltaTable(lake.LakeLayout(str(lake_dir)).bronze(topic)).to_pyarrow_table(
        columns=[lake.KAFKA_PARTITION, lake.KAFKA_OFFSET]
    )
    return Counter(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))


def test_valid_land_once_and_every_bad_kind_is_dead_lettered_and_quarantined(
    kafka: KafkaCluster, topic: str, tmp_path: Path
) -> None:
    produced = produce_corpus(kafka.bootstrap, topic, valid=3_000, partitions=PARTITIONS, bad_every=40)
    valid = {(p.partition, p.offset) for p in produced if p.invalid_kind is None}
    invalid = {(p.partition, p.offset): p for p in produced if p.invalid_kind is not None}
    assert len({p.invalid_kind for p in invalid.values()}) == 13  # every kind of bad input is in the corpus

    ingestor = make_ingestor(kafka, topic, tmp_path)
    stats = ingestor.ingest_range(full_range(topic, produced), run_id="t1", mode="test")
    ingestor.close()

    assert stats.balanced and stats.consumed == len(produced)
    assert (stats.valid, stats.invalid, stats.dead_lettered) == (len(valid), len(invalid), len(invalid))
    assert stats.remaining_lag == 0
    landed = bronze_offsets(tmp_path, topic)
    assert set(landed) == valid and max(landed.values()) == 1

    quarantine = DeltaTable(lake.LakeLayout(str(tmp_path)).quarantine(topic)).to_pyarrow_table()
    rows = {(r[lake.KAFKA_PARTITION], r[lake.KAFKA_OFFSET]): r for r in quarantine.to_pylist()}
    assert set(rows) == set(invalid)
    for origin, row in rows.items():
        item = invalid[origin]
        assert row["invalid_marker"] == item.invalid_kind
        assert row["value"] == item.value and row["key"] == item.key  # raw bytes kept
        assert row["error_message"] and row["error_stage"] in ("VALUE_CONVERTER", "TRANSFORMATION")

    letters = read_all(kafka.bootstrap, topics.dlq_topic(topic), PARTITIONS)
    assert len(letters) == len(invalid)
    for msg in letters:
        origin = dl.origin_of(msg.headers())
        assert origin is not None and origin[0] == topic
        item = invalid[(origin[1], origin[2])]
        headers = dict(msg.headers())
        assert msg.value() == item.value and msg.key() == item.key and msg.partition() == origin[1]
        assert headers[MARKER].decode() == item.invalid_kind
        for name in (dl.H_CLASS, dl.H_MESSAGE, dl.H_STAGE, dl.H_REASON):
            assert headers[name], name
    by_kind = {invalid[dl.origin_of(m.headers())[1:]].invalid_kind: dict(m.headers()) for m in letters}
    assert b"user_id" in by_kind["wrong_type"][dl.H_DETAILS]  # field path and reason travel with the letter
    assert by_kind["tombstone"][dl.H_REASON] == b"tombstone"
    assert by_kind["oversized"][dl.H_REASON] == b"oversized"


def test_replayed_and_overlapping_ranges_write_nothing_twice(kafka: KafkaCluster, topic: str, tmp_path: Path) -> None:
    produced = produce_corpus(kafka.bootstrap, topic, valid=1_500, partitions=PARTITIONS, bad_every=100)
    whole = full_range(topic, produced)
    first_half = OffsetRanges(topic, tuple(PartitionRange(r.partition, 0, r.end // 2) for r in whole.ranges))
    overlapping = OffsetRanges(topic, tuple(PartitionRange(r.partition, r.end // 4, r.end) for r in whole.ranges))

    ingestor = make_ingestor(kafka, topic, tmp_path, batch_size=300)
    ingestor.ingest_range(first_half, run_id="a", mode="test")
    version = DeltaTable(ingestor.bronze.uri).version()
    replay = ingestor.ingest_range(first_half, run_id="b", mode="test")
    assert replay.valid == 0 and replay.invalid == 0 and replay.already_committed == first_half.total
    assert DeltaTable(ingestor.bronze.uri).version() == version  # not even an empty commit
    ingestor.ingest_range(overlapping, run_id="c", mode="test")
    ingestor.close()

    landed = bronze_offsets(tmp_path, topic)
    assert max(landed.values()) == 1
    assert sum(landed.values()) == sum(1 for p in produced if p.invalid_kind is None)
    assert len(read_all(kafka.bootstrap, topics.dlq_topic(topic), PARTITIONS)) == sum(
        1 for p in produced if p.invalid_kind
    )


class CrashAfterDeadLettersError(RuntimeError):
    pass


def test_crash_between_dead_letters_and_commit_resends_nothing(kafka: KafkaCluster, topic: str, tmp_path: Path) -> None:
    """The DLQ write and the Delta commits are not atomic; a restart must neither lose nor repeat."""
    produced = produce_corpus(kafka.bootstrap, topic, valid=800, partitions=PARTITIONS, bad_every=20)
    ranges = full_range(topic, produced)
    crashing = make_ingestor(kafka, topic, tmp_path, batch_size=5_000)

    def crash(*args, **kwargs) -> None:
        raise CrashAfterDeadLettersError("simulated crash after the dead letters were sent")

    crashing.quarantine.append = crash  # type: ignore[method-assign]
    with pytest.raises(CrashAfterDeadLettersError):
        crashing.ingest_range(ranges, run_id="crash", mode="test")
    crashing.close()
    invalid = sum(1 for p in produced if p.invalid_kind)
    assert len(read_all(kafka.bootstrap, topics.dlq_topic(topic), PARTITIONS)) == invalid  # sent, not recorded

    restarted = make_ingestor(kafka, topic, tmp_path, batch_size=5_000)
    stats = restarted.ingest_range(ranges, run_id="restart", mode="test")
    restarted.close()
    assert stats.dead_lettered == 0 and stats.dead_letters_already_sent == invalid
    assert len(read_all(kafka.bootstrap, topics.dlq_topic(topic), PARTITIONS)) == invalid
    quarantine = DeltaTable(lake.LakeLayout(str(tmp_path)).quarantine(topic)).to_pyarrow_table()
    assert quarantine.num_rows == invalid
    assert sum(bronze_offsets(tmp_path, topic).values()) == len(produced) - invalid


def _ingest_in_process(bootstrap: str, topic: str, lake_dir: str, ranges: list[dict], barrier) -> tuple[int, int]:
    from dataplat_resources.settings import KafkaSettings

    settings = KafkaSettings(bootstrap_server=bootstrap)
    ingestor = open_ingestor(
        topic, settings.client_config(), lake.LakeLayout(lake_dir), IngestOptions(batch_size=200), contract=APP
    )
    barrier.wait(timeout=60)  # both start together, before either has created the table
    stats = ingestor.ingest_range(OffsetRanges.from_config(topic, ranges), run_id="race", mode="test", record=False)
    ingestor.close()
    return stats.valid, stats.commit_conflicts


def test_two_processes_racing_on_the_same_range_never_double_write(
    kafka: KafkaCluster, topic: str, tmp_path: Path
) -> None:
    produced = produce_corpus(kafka.bootstrap, topic, valid=4_000, partitions=PARTITIONS, bad_every=1_000)
    ranges = full_range(topic, produced).to_config()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(2) as pool:
        barrier = manager.Barrier(2)
        results = pool.starmap(_ingest_in_process, [(kafka.bootstrap, topic, str(tmp_path), ranges, barrier)] * 2)
    landed = bronze_offsets(tmp_path, topic)
    valid = sum(1 for p in produced if p.invalid_kind is None)
    assert sum(landed.values()) == valid and max(landed.values()) == 1
    assert sum(v for v, _ in results) == valid  # together they wrote each row exactly once


def test_metrics_row_is_recorded_per_run(kafka: KafkaCluster, topic: str, tmp_path: Path) -> None:
    produced = produce_corpus(kafka.bootstrap, topic, valid=500, partitions=PARTITIONS, bad_every=50)
    ingestor = make_ingestor(kafka, topic, tmp_path)
    stats = ingestor.ingest_range(full_range(topic, produced), run_id="metrics-run", mode="test")
    ingestor.close()
    table = DeltaTable(lake.LakeLayout(str(tmp_path)).ingestion_metrics).to_pyarrow_table()
    row = table.filter(pc.equal(table.column("run_id"), "metrics-run")).to_pylist()
    assert len(row) == 1
    assert row[0]["consumed"] == stats.consumed == len(produced)
    assert row[0]["invalid"] == stats.invalid and row[0]["error_rate"] == pytest.approx(stats.error_rate, abs=1e-6)
    assert row[0]["kafka_latency_p99_ms"] >= row[0]["kafka_latency_p50_ms"] > 0
    assert row[0]["messages_per_s"] > 0 and row[0]["remaining_lag"] == 0
