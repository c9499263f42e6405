"""Exactly-once Delta appends: progress markers, and conflicts between racing writers
(deterministic interleavings, real delta-rs tables)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from dataplat_ingestion.batch import _keep_after
from dataplat_ingestion.delta_store import DeltaAppendTable, progress_app_id

SCHEMA = pa.schema([("_kafka_partition", pa.int32()), ("_kafka_offset", pa.int64())])
APP = progress_app_id("bronze", "t", 0)


def rows(first: int, last: int) -> pa.Table:
    offsets = list(range(first, last + 1))
    return pa.table(
        {"_kafka_partition": pa.array([0] * len(offsets), pa.int32()), "_kafka_offset": offsets}, schema=SCHEMA
    )


def writer(uri: str) -> DeltaAppendTable:
    return DeltaAppendTable(uri, SCHEMA, [])


def append(table: DeltaAppendTable, first: int, last: int):
    return table.append(
        rows(first, last),
        {APP: last},
        remaining=lambda data: _keep_after(data, table.progress({0: APP}, refresh=False)),
    )


def offsets(uri: str) -> list[int]:
    return sorted(DeltaTable(uri).to_pyarrow_table().column("_kafka_offset").to_pylist())


def test_progress_is_committed_with_the_rows(tmp_path: Path) -> None:
    uri = str(tmp_path / "t")
    table = writer(uri)
    assert table.progress({0: APP}) == {}
    append(table, 0, 9)
    assert table.progress({0: APP}) == {0: 9}
    assert DeltaTable(uri).transaction_version(APP) == 9


def test_two_writers_that_both_saw_no_table_never_double_write(tmp_path: Path) -> None:
    uri = str(tmp_path / "t")
    a, b = writer(uri), writer(uri)
    assert a.progress({0: APP}) == {} and b.progress({0: APP}) == {}  # neither sees a table
    append(a, 0, 9)  # a creates the table and commits first
    outcome = append(b, 0, 9)  # b's commit must conflict, re-read, and write nothing
    assert outcome.conflicts >= 1 and outcome.rows == 0
    assert offsets(uri) == list(range(10))


def test_a_stale_writer_writes_only_what_is_missing(tmp_path: Path) -> None:
    uri = str(tmp_path / "t")
    a, b = writer(uri), writer(uri)
    append(a, 0, 4)
    assert a.progress({0: APP}) == {0: 4} and b.progress({0: APP}) == {0: 4}
    append(a, 5, 9)  # a moves on; b still believes 4 is the last committed offset
    outcome = append(b, 5, 14)
    assert outcome.conflicts >= 1 and outcome.rows == 5
    assert offsets(uri) == list(range(15))
    assert DeltaTable(uri).transaction_version(APP) == 14


def test_nothing_left_to_write_makes_no_commit(tmp_path: Path) -> None:
    uri = str(tmp_path / "t")
    table = writer(uri)
    append(table, 0, 9)
    version = DeltaTable(uri).version()
    assert table.append(rows(0, 0).slice(0, 0), {}).version is None
    assert DeltaTable(uri).version() == version


@pytest.mark.parametrize("bad", ["not json", "[1, 2]"])
def test_storage_options_must_be_a_json_object(bad: str) -> None:
    from dataplat_resources.resources import DeltaLakeResource

    with pytest.raises(ValueError, match="DATAPLAT_LAKE_STORAGE_OPTIONS"):
        DeltaLakeResource(lake_uri="/tmp/x", storage_options_json=bad).storage_options()
