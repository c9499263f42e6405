"""Compaction and checkpoints keep the tables fast without touching data or exactly-once progress."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from dataplat_assets.ingestion.maintenance import delta_maintenance_job
from dataplat_ingestion.delta_store import DeltaAppendTable, progress_app_id
from dataplat_ingestion.maintenance import maintain_table
from dataplat_resources.lake import LakeLayout
from dataplat_resources.resources import DeltaLakeResource

SCHEMA = pa.schema([("_kafka_partition", pa.int32()), ("_kafka_offset", pa.int64()), ("event_date", pa.date32())])


def small_commits(uri: str, commits: int, rows: int = 10) -> DeltaAppendTable:
    table = DeltaAppendTable(uri, SCHEMA, ["event_date"])
    import datetime as dt

    for i in range(commits):
        offsets = list(range(i * rows, (i + 1) * rows))
        data = pa.table(
            {
                "_kafka_partition": pa.array([0] * rows, pa.int32()),
                "_kafka_offset": offsets,
                "event_date": [dt.date(2026, 11, 24)] * rows,
            },
            schema=SCHEMA,
        )
        table.progress({0: progress_app_id("bronze", "t", 0)})
        table.append(data, {progress_app_id("bronze", "t", 0): offsets[-1]})
    return table


def test_compaction_rewrites_small_files_and_keeps_rows_and_progress(tmp_path: Path) -> None:
    uri = str(tmp_path / "bronze" / "t")
    small_commits(uri, commits=30)
    before = DeltaTable(uri)
    assert len(before.file_uris()) == 30
    result = maintain_table(uri, small_file_threshold=10, vacuum=False)
    assert result is not None and result.compacted and result.files_after == 1
    after = DeltaTable(uri)
    offsets = sorted(after.to_pyarrow_table().column("_kafka_offset").to_pylist())
    assert offsets == list(range(300))
    assert after.transaction_version(progress_app_id("bronze", "t", 0)) == 299  # exactly-once state survives
    assert (Path(uri) / "_delta_log" / "_last_checkpoint").exists()

    # Ingestion goes on after maintenance, still exactly once.
    table = DeltaAppendTable(uri, SCHEMA, ["event_date"])
    assert table.progress({0: progress_app_id("bronze", "t", 0)}) == {0: 299}


def test_below_threshold_only_checkpoints(tmp_path: Path) -> None:
    uri = str(tmp_path / "bronze" / "t")
    small_commits(uri, commits=3)
    result = maintain_table(uri, small_file_threshold=10)
    assert result is not None and not result.compacted and result.files_after == 3


def test_missing_table_is_skipped(tmp_path: Path) -> None:
    assert maintain_table(str(tmp_path / "nope")) is None


@pytest.mark.parametrize("commits", [70])
def test_the_scheduled_job_maintains_every_ingestion_table(tmp_path: Path, commits: int) -> None:
    layout = LakeLayout(str(tmp_path / "lake"))
    small_commits(layout.bronze("topic_app_events"), commits=commits)
    result = delta_maintenance_job.execute_in_process(
        resources={"lake": DeltaLakeResource(lake_uri=layout.root)}, instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    done = result.output_for_node("compact_delta_tables")
    assert list(done) == [layout.bronze("topic_app_events")]
    assert done[layout.bronze("topic_app_events")]["compacted"] is True
    assert len(DeltaTable(layout.bronze("topic_app_events")).file_uris()) == 1
