"""Bronze data-quality rules: passing and failing cases (pure, no servers)."""

from __future__ import annotations

import pyarrow as pa

from dataplat_ingestion.arrow_convert import bronze_schema
from dataplat_ingestion.checks import duplicate_ids, error_rate_verdict, offset_contiguity, schema_diff
from dataplat_resources import lake, topics
from dataplat_resources.contracts import contract_for


def offsets(pairs: list[tuple[int, int]]) -> pa.Table:
    return pa.table(
        {lake.KAFKA_PARTITION: pa.array([p for p, _ in pairs], pa.int32()), lake.KAFKA_OFFSET: [o for _, o in pairs]}
    )


def test_contiguous_offsets_across_bronze_and_quarantine_pass() -> None:
    bronze = offsets([(0, 0), (0, 1), (0, 3), (1, 10), (1, 11)])
    quarantine = offsets([(0, 2)])
    report = offset_contiguity([bronze, quarantine], committed={0: 3, 1: 11})
    assert report.ok, report.describe()
    assert report.figures()["rows"] == 6


def test_gap_is_reported_with_its_range() -> None:
    report = offset_contiguity([offsets([(0, 0), (0, 1), (0, 5)])])
    assert not report.ok
    assert report.partitions[0].gaps == [(2, 5)]
    assert "3 offsets missing [2,5)" in report.describe()


def test_overlap_between_tables_is_reported() -> None:
    report = offset_contiguity([offsets([(0, 0), (0, 1)]), offsets([(0, 1)])])
    assert not report.ok and report.figures()["duplicate_offsets"] == 1


def test_rows_beyond_the_progress_marker_are_reported() -> None:
    report = offset_contiguity([offsets([(0, 0), (0, 1), (0, 2)])], committed={0: 1})
    assert not report.ok and report.beyond_progress == {0: 1}


def test_empty_tables_are_fine() -> None:
    assert offset_contiguity([]).ok


def test_duplicate_ids() -> None:
    assert duplicate_ids(pa.array(["a", "b", "c"])).ok
    report = duplicate_ids(pa.array(["a", "b", "a", "c", "b"]))
    assert not report.ok and report.duplicates == 2 and sorted(report.examples) == ["a", "b"]


def test_schema_diff() -> None:
    expected = bronze_schema(contract_for(topics.APP_EVENTS))
    assert schema_diff(expected, expected).ok
    drifted = expected.remove(expected.get_field_index("user_id")).append(pa.field("surprise", pa.int64()))
    drifted = drifted.set(drifted.get_field_index("session_id"), pa.field("session_id", pa.int64()))
    diff = schema_diff(drifted, expected)
    assert diff.missing == ["user_id"] and diff.unexpected == ["surprise"]
    assert diff.wrong_type == ["session_id: int64 != string"]
    assert "missing columns: user_id" in diff.describe()


def test_error_rate_levels() -> None:
    assert error_rate_verdict(1, 100, 0.05, 0.2).level == "ok"
    assert error_rate_verdict(10, 100, 0.05, 0.2).level == "warn"
    assert error_rate_verdict(30, 100, 0.05, 0.2).level == "error"
    assert error_rate_verdict(0, 0, 0.05, 0.2).rate == 0.0
