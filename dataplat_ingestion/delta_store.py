"""Append-only Delta tables whose commits carry Kafka progress as app transactions.

Each commit records, per Kafka partition, the last offset it covers as
``Transaction(app_id, version=<offset>)`` in the *same* commit as the rows. Reading
``transaction_version(app_id)`` back tells exactly what is already in the table, so a retried,
duplicated or crashed run writes nothing twice (the approach of delta-io/kafka-delta-ingest).
Two writers racing on the same partition conflict in delta-rs ("Concurrent transaction
failed"); the loser reloads the progress and retries with what is still missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from dataplat_resources.logging import get_logger

log = get_logger(__name__)

# delta-rs writes a checkpoint every N commits, which keeps log replay (and thus the
# transaction_version lookups each batch makes) fast.
TABLE_CONFIGURATION = {"delta.checkpointInterval": "50", "delta.logRetentionDuration": "interval 7 days"}
MAX_CONFLICT_RETRIES = 20


def progress_app_id(kind: str, topic: str, partition: int) -> str:
    """App id of one partition's progress: ``dataplat/bronze/topic_app_events/3``."""
    return f"dataplat/{kind}/{topic}/{partition}"


@dataclass(frozen=True)
class CommitOutcome:
    version: int | None  # table version written, None when nothing was left to write
    rows: int
    conflicts: int


class DeltaAppendTable:
    """One Delta table that only grows, with exactly-once progress markers."""

    def __init__(
        self,
        uri: str,
        schema: pa.Schema,
        partition_by: list[str],
        storage_options: Mapping[str, str] | None = None,
    ) -> None:
        self.uri = uri
        self.schema = schema
        self.partition_by = partition_by
        self.storage_options = dict(storage_options or {})
        self._table: DeltaTable | None = None

    def table(self, refresh: bool = True) -> DeltaTable | None:
        """The table at its latest version, or None when it does not exist yet."""
        if self._table is None:
            try:
                self._table = DeltaTable(self.uri, storage_options=self.storage_options or None)
            except TableNotFoundError:
                return None
        elif refresh:
            self._table.update_incremental()
        return self._table

    def ensure(self) -> DeltaTable:
        """The table as last read (never refreshed here), created first if it does not exist.

        Not refreshing matters: a commit's conflict check starts from the snapshot it was
        built on. Progress is read from that snapshot, so a concurrent writer that committed
        the same partitions since then makes this commit fail instead of double-writing. When
        progress was read before the table existed, that snapshot is version 0 (the empty
        table): whoever created it and committed first, this commit still sees the conflict.
        """
        table = self._table  # exactly the snapshot progress() read, or None: there was no table then
        if table is None:
            try:
                DeltaTable.create(
                    self.uri,
                    self.schema,
                    mode="ignore",
                    partition_by=self.partition_by or None,
                    configuration=TABLE_CONFIGURATION,
                    storage_options=self.storage_options or None,
                )
            except Exception as exc:
                log.info("delta table created concurrently", table=self.uri, error=str(exc))
            table = DeltaTable(self.uri, version=0, storage_options=self.storage_options or None)
            self._table = table
        return table

    def progress(self, app_ids: Mapping[int, str], refresh: bool = True) -> dict[int, int]:
        """Last committed version (offset) per key, for the keys that have one."""
        table = self.table(refresh=refresh)
        if table is None:
            return {}
        found = {}
        for key, app_id in app_ids.items():
            version = table.transaction_version(app_id)
            if version is not None:
                found[key] = version
        return found

    def append(
        self,
        data: pa.Table,
        transactions: Mapping[str, int],
        metadata: Mapping[str, str] | None = None,
        remaining: Callable[[pa.Table], pa.Table] | None = None,
    ) -> CommitOutcome:
        """Append ``data`` and the progress markers in one commit.

        The commit is built on the snapshot :meth:`progress` last read, so it fails on a
        concurrent commit of the same partitions. Then ``remaining`` is called on the data to
        drop what the winner already wrote (it re-reads progress); markers that no longer
        advance are dropped too. Returns what was finally committed.
        """
        table = self.ensure()
        conflicts = 0
        while True:
            txns = [Transaction(app_id=a, version=v) for a, v in transactions.items() if v is not None]
            if not data.num_rows and not txns:
                return CommitOutcome(None, 0, conflicts)
            try:
                write_deltalake(
                    table,
                    data.cast(self.schema) if data.schema != self.schema else data,
                    mode="append",
                    partition_by=self.partition_by or None,
                    writer_properties=WriterProperties(compression="ZSTD", compression_level=1),
                    commit_properties=CommitProperties(
                        app_transactions=txns, custom_metadata=dict(metadata or {}), max_commit_retries=5
                    ),
                )
                table.update_incremental()
                return CommitOutcome(table.version(), data.num_rows, conflicts)
            except CommitFailedError as exc:
                conflicts += 1
                if conflicts > MAX_CONFLICT_RETRIES:
                    raise
                log.warning(
                    "delta commit conflict; re-reading progress", table=self.uri, attempt=conflicts, error=str(exc)
                )
                table.update_incremental()
                committed = {a: table.transaction_version(a) for a in transactions}
                transactions = {
                    a: v
                    for a, v in transactions.items()
                    if committed[a] is None or v > committed[a]  # type: ignore[operator]
                }
                data = remaining(data) if remaining is not None else data
