"""Small Delta/Hadoop helpers shared by the jobs: existence checks, idempotent writes, MERGE.

Idempotency: every write made inside a ``foreachBatch`` carries a Delta transaction identifier
(``txnAppId`` = job + table, ``txnVersion`` = the micro-batch id). Delta records the highest version
per app id in the table's log and silently skips a write whose version is not higher, so a batch
replayed after a crash (same batch id, same checkpoint) never writes twice. Appends use the writer
options; MERGE uses the session confs ``spark.databricks.delta.write.txnAppId/txnVersion``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from pyspark.sql import DataFrame, SparkSession

TXN_APP_ID_CONF = "spark.databricks.delta.write.txnAppId"
TXN_VERSION_CONF = "spark.databricks.delta.write.txnVersion"
# Tables kept up to date by MERGE get deletion vectors: a MERGE then marks the replaced rows instead
# of rewriting every file that holds one, so a micro-batch costs what it changes, not the table size.
# (delta-rs reads such tables with DeltaTable.to_pyarrow_table/QueryBuilder, not to_pyarrow_dataset.)
MERGE_TABLE_PROPERTIES: dict[str, str] = {"delta.enableDeletionVectors": "true"}


def _hadoop_path(spark: SparkSession, path: str):
    jvm = spark.sparkContext._jvm  # type: ignore[attr-defined]
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())  # type: ignore[attr-defined]
    return fs, hpath


def path_exists(spark: SparkSession, path: str) -> bool:
    """Whether a file or folder exists, on any file system Spark can reach."""
    fs, hpath = _hadoop_path(spark, path)
    return bool(fs.exists(hpath))


def delete_path(spark: SparkSession, path: str) -> bool:
    """Recursively delete a folder (checkpoint or table); ``False`` if there was nothing."""
    fs, hpath = _hadoop_path(spark, path)
    if not fs.exists(hpath):
        return False
    return bool(fs.delete(hpath, True))


def read_text_file(spark: SparkSession, path: str) -> str | None:
    fs, hpath = _hadoop_path(spark, path)
    if not fs.exists(hpath):
        return None
    stream = fs.open(hpath)
    try:
        jvm = spark.sparkContext._jvm  # type: ignore[attr-defined]
        return jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
    finally:
        stream.close()


def list_names(spark: SparkSession, path: str) -> list[str]:
    fs, hpath = _hadoop_path(spark, path)
    if not fs.exists(hpath):
        return []
    return [status.getPath().getName() for status in fs.listStatus(hpath)]


def is_delta(spark: SparkSession, path: str) -> bool:
    return path_exists(spark, f"{path.rstrip('/')}/_delta_log")


def read_delta(spark: SparkSession, path: str, version: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(path)


def latest_version(spark: SparkSession, path: str) -> int | None:
    """The table's current version, or ``None`` when it is not a Delta table yet."""
    if not is_delta(spark, path):
        return None
    from delta.tables import DeltaTable

    row = DeltaTable.forPath(spark, path).history(1).select("version").first()
    return int(row[0]) if row else None


def has_rows(spark: SparkSession, path: str) -> bool:
    return is_delta(spark, path) and bool(read_delta(spark, path).limit(1).count())


@contextmanager
def idempotent_dml(spark: SparkSession, app_id: str, version: int) -> Iterator[None]:
    """Make the DML (MERGE/UPDATE/DELETE) run inside this block skip itself if already committed."""
    spark.conf.set(TXN_APP_ID_CONF, app_id)
    spark.conf.set(TXN_VERSION_CONF, str(version))
    try:
        yield
    finally:
        spark.conf.unset(TXN_APP_ID_CONF)
        spark.conf.unset(TXN_VERSION_CONF)


def append_idempotent(
    df: DataFrame,
    path: str,
    app_id: str,
    version: int,
    partition_by: Sequence[str] = (),
    *,
    table_properties: Mapping[str, str] | None = None,
) -> None:
    """Append (creating the table if needed, with ``table_properties``); a replay of the same
    (app_id, version) is a no-op."""
    writer = df.write.format("delta").mode("append").option("txnAppId", app_id).option("txnVersion", version)
    for key, value in (table_properties or {}).items():
        writer = writer.option(key, value)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)


def overwrite_where(
    df: DataFrame,
    path: str,
    predicate: str,
    partition_by: Sequence[str] = (),
    *,
    app_id: str | None = None,
    version: int | None = None,
) -> None:
    """Replace exactly the rows matching ``predicate`` (Delta ``replaceWhere``); creates the table if needed.

    Delta refuses the write if a new row does not satisfy the predicate, so a range can never leak
    into a neighbour's rows.
    """
    writer = df.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
    if app_id is not None and version is not None:
        writer = writer.option("txnAppId", app_id).option("txnVersion", version)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)


def upsert(
    spark: SparkSession,
    source: DataFrame,
    path: str,
    keys: Sequence[str],
    *,
    app_id: str,
    version: int,
    partition_by: Sequence[str] = (),
    update_condition: str | None = None,
    delete_condition: str | None = None,
    drop_columns: Sequence[str] = (),
) -> None:
    """MERGE ``source`` into the table at ``path`` on ``keys`` (creating it on first use).

    ``update_condition`` guards updates (e.g. ``s.lsn > t.lsn``); rows for which ``delete_condition``
    holds delete the matching target row and are never inserted. Columns in ``drop_columns`` (control
    columns of the source) are not written.
    """
    from delta.tables import DeltaTable

    columns = [c for c in source.columns if c not in drop_columns]
    if not is_delta(spark, path):
        first = source.alias("s").where(f"NOT ({delete_condition})") if delete_condition else source
        append_idempotent(
            first.select(*columns), path, app_id, version, partition_by, table_properties=MERGE_TABLE_PROPERTIES
        )
        return
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    assignments = {f"`{c}`": f"s.`{c}`" for c in columns}
    target = DeltaTable.forPath(spark, path).alias("t")
    merge = target.merge(source.alias("s"), on)
    if delete_condition:
        merge = merge.whenMatchedDelete(condition=delete_condition)
    merge = merge.whenMatchedUpdate(condition=update_condition, set=assignments)
    insert_condition = f"NOT ({delete_condition})" if delete_condition else None
    merge = merge.whenNotMatchedInsert(condition=insert_condition, values=assignments)
    with idempotent_dml(spark, app_id, version):
        merge.execute()
