"""Debezium changes -> current-state tables (one per source table) and an SCD2 history.

``silver/cdc_users_current`` and ``silver/cdc_orders_current``: one row per primary key with the
row's columns plus ``is_deleted``, ``op``, ``lsn``, ``tx_id``, ``changed_at`` (commit time),
``deleted_at``. Live rows are ``is_deleted = false`` (:func:`current_state` or the
``cdc_users_live``/``cdc_orders_live`` temp views of :func:`register_live_views`).

Ordering: the LSN (``source.lsn``, the change's position in the Postgres WAL) is the only order
trusted; arrival order is not. A micro-batch keeps the highest-LSN change per key, then MERGEs
with the guard ``s.lsn > t.lsn``:

- an update arriving before its insert is applied (inserted from its after image); the insert,
  arriving later with a lower LSN, is ignored;
- a delete keeps a tombstone (``is_deleted = true`` with the delete's LSN and the last row image),
  so an older change arriving later can never resurrect the row, while a genuine re-insert (higher
  LSN) revives it;
- a replayed batch changes nothing (every LSN is already <= the stored one; the MERGE also
  carries the batch's txn guard).

``silver/cdc_history`` (partitioned by ``source_table``): one row per (source_table, id, lsn), i.e.
every version, with ``op``, ``is_deleted``, the row image ``row`` (struct with the union of user and
order columns), ``valid_from`` (commit time), ``valid_to`` (the next version's ``valid_from``, null
while current) and ``is_current``. A delete is a version too (``is_deleted = true``), so the current
version of a deleted row is its tombstone. Versions arriving out of order are slotted in by LSN:
for every key a batch touches, ``valid_to``/``is_current`` are recomputed over all its versions.
"""

from __future__ import annotations

import time
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from dataplat_processing import _delta
from dataplat_processing._stream import run_available_now
from dataplat_processing.results import CdcResult
from dataplat_processing.tables import CDC_CURRENT_TABLES, CDC_HISTORY, CDC_JOB
from dataplat_resources.lake import LakeLayout

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("id", "email", "full_name", "country", "tier", "created_at", "updated_at"),
    "orders": ("id", "user_id", "status", "total_amount", "currency", "item_count", "created_at", "updated_at"),
}
META_COLUMNS = ("is_deleted", "op", "lsn", "tx_id", "changed_at", "deleted_at")
HISTORY_KEYS = ("source_table", "id", "lsn")
HISTORY_PARTITION_BY = ("source_table",)
# Among changes of one key, the winner: highest LSN, then latest capture, then latest Kafka offset.
_LATEST_FIRST = ("lsn", "captured_at", "_kafka_offset")


def changes(bronze: DataFrame) -> DataFrame:
    """Bronze CDC rows -> one flat row per change, with the relevant image as ``row``."""
    image = F.when(F.col("op") == "d", F.col("before")).otherwise(F.col("after"))
    return bronze.select(
        F.col("source.table").alias("source_table"),
        image["id"].alias("id"),
        F.col("source.lsn").alias("lsn"),
        F.col("source.txId").alias("tx_id"),
        "op",
        F.timestamp_millis(F.col("source.ts_ms")).alias("committed_at"),
        F.timestamp_millis(F.col("ts_ms")).alias("captured_at"),
        image.alias("row"),
        "_kafka_partition",
        "_kafka_offset",
    ).where(F.col("id").isNotNull() & F.col("lsn").isNotNull() & F.col("source_table").isNotNull())


def latest_per_key(flat: DataFrame, table: str) -> DataFrame:
    """The winning change per primary key of ``table``, as a current-state row."""
    w = Window.partitionBy("id").orderBy(*[F.col(c).desc() for c in _LATEST_FIRST])
    latest = (
        flat.where(F.col("source_table") == table)
        .withColumn("_rank", F.row_number().over(w))
        .where(F.col("_rank") == 1)
    )
    deleted = F.col("op") == "d"
    return latest.select(
        *[F.col(f"row.{c}").alias(c) for c in TABLE_COLUMNS[table]],
        deleted.alias("is_deleted"),
        "op",
        "lsn",
        "tx_id",
        F.col("committed_at").alias("changed_at"),
        F.when(deleted, F.col("committed_at")).alias("deleted_at"),
    )


def history_versions(flat: DataFrame) -> DataFrame:
    """One row per (source_table, id, lsn) with SCD2 columns still to be computed."""
    w = Window.partitionBy(*HISTORY_KEYS).orderBy(F.col("captured_at").desc(), F.col("_kafka_offset").desc())
    return (
        flat.withColumn("_rank", F.row_number().over(w))
        .where(F.col("_rank") == 1)
        .select(
            *HISTORY_KEYS,
            "tx_id",
            "op",
            (F.col("op") == "d").alias("is_deleted"),
            "row",
            F.col("committed_at").alias("valid_from"),
        )
    )


def with_validity(versions: DataFrame) -> DataFrame:
    """``valid_to``/``is_current`` from the LSN order of each key's versions."""
    w = Window.partitionBy("source_table", "id").orderBy("lsn")
    return versions.select(
        *versions.columns,
        F.lead("valid_from").over(w).alias("valid_to"),
        F.lead("lsn").over(w).isNull().alias("is_current"),
    )


def _process(layout: LakeLayout, batch: DataFrame, batch_id: int) -> dict[str, Any]:
    spark = batch.sparkSession
    job = CDC_JOB.name
    flat = changes(batch).localCheckpoint(eager=True)
    stats = flat.groupBy("source_table").agg(F.count(F.lit(1)), F.sum((F.col("op") == "d").cast("long"))).collect()
    per_table = {r[0]: int(r[1]) for r in stats}
    deletes = sum(int(r[2] or 0) for r in stats)
    for table, name in CDC_CURRENT_TABLES.items():
        if not per_table.get(table):
            continue
        _delta.upsert(
            spark,
            latest_per_key(flat, table),
            layout.silver(name),
            ["id"],
            app_id=f"{job}:{name}",
            version=batch_id,
            update_condition="s.lsn > t.lsn",
        )

    # History: recompute validity over every version of the touched keys, but MERGE only the rows that
    # are new or whose valid_to/is_current changed (in order arrival: the new versions + one closed).
    history_path = layout.silver(CDC_HISTORY)
    new = history_versions(flat)
    if _delta.is_delta(spark, history_path):
        touched = new.select("source_table", "id").distinct()
        stored = (
            _delta.read_delta(spark, history_path)
            .join(touched, ["source_table", "id"], "left_semi")
            .select(*new.columns, F.col("valid_to").alias("_old_valid_to"), F.col("is_current").alias("_old_current"))
            .localCheckpoint(eager=True)
        )
        added = new.join(stored.select(*HISTORY_KEYS), list(HISTORY_KEYS), "left_anti")
        versions = stored.unionByName(added, allowMissingColumns=True)
    else:
        added = new
        versions = new.select(
            "*", F.lit(None).cast("timestamp").alias("_old_valid_to"), F.lit(None).cast("boolean").alias("_old_current")
        )
    rebuilt = with_validity(versions)
    changed = (
        rebuilt.where(
            F.col("_old_current").isNull()
            | ~F.col("valid_to").eqNullSafe(F.col("_old_valid_to"))
            | (F.col("is_current") != F.col("_old_current"))
        )
        .drop("_old_valid_to", "_old_current")
        .localCheckpoint(eager=True)
    )
    added_count = added.count()
    _delta.upsert(
        spark,
        changed,
        history_path,
        HISTORY_KEYS,
        app_id=f"{job}:{CDC_HISTORY}",
        version=batch_id,
        partition_by=HISTORY_PARTITION_BY,
        update_condition="NOT (t.valid_to <=> s.valid_to) OR t.is_current <> s.is_current",
    )
    return {
        "changes": sum(per_table.values()),
        "users_changes": per_table.get("users", 0),
        "orders_changes": per_table.get("orders", 0),
        "deletes": deletes,
        "history_versions": added_count,
    }


def run_cdc(spark: SparkSession, layout: LakeLayout, *, max_files_per_trigger: int | None = None) -> CdcResult:
    """Apply every change committed to bronze since the last run to the current-state and history tables."""
    started = time.perf_counter()
    run = run_available_now(
        spark,
        layout,
        CDC_JOB,
        lambda df, batch_id, _rows: _process(layout, df, batch_id),
        max_files_per_trigger=max_files_per_trigger,
    )
    f = run.figures
    return CdcResult(
        job=CDC_JOB.name,
        duration_s=round(time.perf_counter() - started, 3),
        batches=len(run.batch_ids),
        input_rows=run.input_rows,
        source_version=run.source_version,
        skipped=run.skipped,
        changes=int(f.get("changes", 0)),
        users_changes=int(f.get("users_changes", 0)),
        orders_changes=int(f.get("orders_changes", 0)),
        deletes=int(f.get("deletes", 0)),
        history_versions=int(f.get("history_versions", 0)),
    )


def current_state(spark: SparkSession, layout: LakeLayout, table: str, include_deleted: bool = False) -> DataFrame:
    """The current rows of a source table (``users``/``orders``); tombstones only if asked for."""
    df = _delta.read_delta(spark, layout.silver(CDC_CURRENT_TABLES[table]))
    return df if include_deleted else df.where(~F.col("is_deleted")).drop("deleted_at")


def register_live_views(spark: SparkSession, layout: LakeLayout) -> list[str]:
    """Temp views ``cdc_<table>_live`` over the live (not deleted) rows of each current table."""
    names = []
    for table, name in CDC_CURRENT_TABLES.items():
        if _delta.is_delta(spark, layout.silver(name)):
            view = f"cdc_{table}_live"
            current_state(spark, layout, table).createOrReplaceTempView(view)
            names.append(view)
    return names


def replay_current_state(flat: DataFrame, table: str) -> DataFrame:
    """The current state computed in one pass over a full change log (what the MERGEs must equal)."""
    return latest_per_key(flat, table)
