"""Data-quality rules for bronze tables, as plain functions over Arrow data.

Dagster asset checks call these; tests call them directly with hand-made tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataplat_resources import lake


@dataclass
class PartitionOffsets:
    partition: int
    first: int
    last: int
    rows: int
    gaps: list[tuple[int, int]]  # missing [start, end) ranges
    duplicates: int

    @property
    def missing(self) -> int:
        return sum(end - start for start, end in self.gaps)


@dataclass
class ContiguityReport:
    partitions: list[PartitionOffsets] = field(default_factory=list)
    beyond_progress: dict[int, int] = field(default_factory=dict)  # rows above the committed marker

    @property
    def ok(self) -> bool:
        return not self.beyond_progress and all(not p.gaps and not p.duplicates for p in self.partitions)

    def figures(self) -> dict[str, int]:
        return {
            "partitions": len(self.partitions),
            "rows": sum(p.rows for p in self.partitions),
            "missing_offsets": sum(p.missing for p in self.partitions),
            "duplicate_offsets": sum(p.duplicates for p in self.partitions),
            "rows_beyond_progress": sum(self.beyond_progress.values()),
        }

    def describe(self) -> str:
        problems = []
        for p in self.partitions:
            if p.gaps:
                shown = ", ".join(f"[{a},{b})" for a, b in p.gaps[:5])
                problems.append(f"partition {p.partition}: {p.missing} offsets missing {shown}")
            if p.duplicates:
                problems.append(f"partition {p.partition}: {p.duplicates} offsets ingested more than once")
        for partition, rows in self.beyond_progress.items():
            problems.append(f"partition {partition}: {rows} rows above the committed progress marker")
        return "; ".join(problems) if problems else "offsets contiguous, no overlaps"


def offset_contiguity(offsets_by_table: list[pa.Table], committed: Mapping[int, int] | None = None) -> ContiguityReport:
    """Are (partition, offset) pairs across bronze and quarantine gap-free and unique?

    Offsets start wherever ingestion started (retention may have removed older ones); from
    there to the last offset every offset must appear exactly once in one of the tables.
    """
    parts = [t.select([lake.KAFKA_PARTITION, lake.KAFKA_OFFSET]) for t in offsets_by_table if t.num_rows]
    report = ContiguityReport()
    if not parts:
        return report
    both = pa.concat_tables(parts)
    partitions = both.column(lake.KAFKA_PARTITION).to_numpy()
    offsets = both.column(lake.KAFKA_OFFSET).to_numpy()
    order = np.lexsort((offsets, partitions))
    partitions, offsets = partitions[order], offsets[order]
    for partition in np.unique(partitions):
        mask = partitions == partition
        offs = offsets[mask]
        diffs = np.diff(offs)
        gaps = [(int(offs[i]) + 1, int(offs[i + 1])) for i in np.nonzero(diffs > 1)[0]]
        report.partitions.append(
            PartitionOffsets(
                partition=int(partition),
                first=int(offs[0]),
                last=int(offs[-1]),
                rows=int(offs.size),
                gaps=gaps,
                duplicates=int(np.count_nonzero(diffs == 0)),
            )
        )
        if committed is not None and int(partition) in committed:
            above = int(np.count_nonzero(offs > committed[int(partition)]))
            if above:
                report.beyond_progress[int(partition)] = above
    return report


@dataclass
class DuplicateReport:
    rows: int
    distinct: int
    examples: list[str]

    @property
    def duplicates(self) -> int:
        return self.rows - self.distinct

    @property
    def ok(self) -> bool:
        return self.duplicates == 0


def duplicate_ids(ids: pa.Array | pa.ChunkedArray, examples: int = 5) -> DuplicateReport:
    """How many ids appear more than once, with a few examples."""
    rows = len(ids)
    if rows == 0:
        return DuplicateReport(0, 0, [])
    counts = pc.value_counts(ids)
    values, freq = counts.field("values"), counts.field("counts")
    repeated = pc.filter(values, pc.greater(freq, 1))
    return DuplicateReport(rows, len(counts), [str(v) for v in repeated.slice(0, examples).to_pylist()])


@dataclass(frozen=True)
class SchemaDiff:
    missing: list[str]
    unexpected: list[str]
    wrong_type: list[str]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.wrong_type)

    def describe(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"missing columns: {', '.join(self.missing)}")
        if self.unexpected:
            parts.append(f"columns not in the contract: {', '.join(self.unexpected)}")
        if self.wrong_type:
            parts.append(f"wrong types: {'; '.join(self.wrong_type)}")
        return "; ".join(parts) if parts else "schema matches the contract"


def _strip_nullability(data_type: pa.DataType) -> pa.DataType:
    if pa.types.is_struct(data_type):
        return pa.struct([pa.field(f.name, _strip_nullability(f.type)) for f in data_type])
    if pa.types.is_large_string(data_type) or pa.types.is_string_view(data_type):
        return pa.string()
    if pa.types.is_large_binary(data_type) or pa.types.is_binary_view(data_type):
        return pa.binary()
    return data_type


def schema_diff(actual: pa.Schema, expected: pa.Schema) -> SchemaDiff:
    """Compare column names and types (nullability and string encodings aside)."""
    actual_types = {f.name: _strip_nullability(f.type) for f in actual}
    expected_types = {f.name: _strip_nullability(f.type) for f in expected}
    return SchemaDiff(
        missing=[n for n in expected_types if n not in actual_types],
        unexpected=[n for n in actual_types if n not in expected_types],
        wrong_type=[
            f"{n}: {actual_types[n]} != {t}"
            for n, t in expected_types.items()
            if n in actual_types and actual_types[n] != t
        ],
    )


@dataclass(frozen=True)
class ErrorRateVerdict:
    rate: float
    level: str  # ok | warn | error


def error_rate_verdict(invalid: int, processed: int, warn_above: float, error_above: float) -> ErrorRateVerdict:
    rate = invalid / processed if processed else 0.0
    level = "error" if rate > error_above else "warn" if rate > warn_above else "ok"
    return ErrorRateVerdict(rate, level)
