"""One definition of an app event's measurable facts, shared by silver, gold and the checks.

Silver windows, gold hours and gold days all count events, purchases and revenue through
:func:`app_event_facts`, so their totals can be reconciled exactly: revenue is cast to a decimal
per row before any sum, so hourly sums add up to daily sums to the last cent (doubles would not).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType

UNKNOWN = "unknown"  # stands in for a missing dimension, so group keys are never null
REVENUE_ROW = DecimalType(18, 4)
REVENUE_SUM = DecimalType(38, 4)
PURCHASE = "purchase"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def revenue_sum(column: str | Column = "revenue") -> Column:
    """Sum of revenue, 0 (not null) when there is none."""
    return F.coalesce(F.sum(column), F.lit(0)).cast(REVENUE_SUM)


def app_event_facts(bronze: DataFrame) -> DataFrame:
    """Bronze app events -> the columns every aggregate uses, with non-null dimensions."""
    is_purchase = F.col("event_type") == F.lit(PURCHASE)
    return bronze.select(
        "event_id",
        F.coalesce("event_type", F.lit(UNKNOWN)).alias("event_type"),
        "event_time",
        "user_id",
        F.coalesce("platform", F.lit(UNKNOWN)).alias("platform"),
        F.coalesce(F.col("geo.country"), F.lit(UNKNOWN)).alias("country"),
        F.when(is_purchase, F.col("properties.revenue").cast(REVENUE_ROW)).alias("revenue"),
        F.coalesce(is_purchase, F.lit(False)).alias("is_purchase"),
        "event_date",
    )


def utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{value!r} has no timezone; pass an aware datetime (UTC)")
    return value


def from_spark(value: datetime | None) -> datetime | None:
    """A timestamp collected from Spark (naive, in the Python process's local zone) -> aware UTC."""
    if value is None:
        return None
    return value.astimezone(UTC)  # a naive value is taken as local time, as PySpark produced it


def micros(value: datetime) -> int:
    """Exact microseconds since the epoch (float ``timestamp()`` can be off by one)."""
    return (utc(value) - EPOCH) // timedelta(microseconds=1)


def ts_literal(value: datetime) -> Column:
    """A timestamp literal that is exact whatever the session time zone."""
    return F.timestamp_micros(F.lit(micros(value)))


def sql_ts(value: datetime) -> str:
    """A timestamp for SQL predicates (e.g. replaceWhere), exact whatever the session time zone."""
    return f"timestamp_micros({micros(value)})"


def in_time_range(column: str, start: datetime, end: datetime) -> Column:
    """``start <= column < end``."""
    return (F.col(column) >= ts_literal(start)) & (F.col(column) < ts_literal(end))


def event_date_range(start: datetime, end: datetime) -> Column:
    """The bronze partitions (``event_date``, UTC) that can hold events of ``[start, end)``."""
    last = (utc(end) - timedelta(microseconds=1)).date()
    return F.col("event_date").between(F.lit(utc(start).date()), F.lit(last))


def dates_between(start: date, end: date) -> list[date]:
    """Days of ``[start, end)``."""
    return [start + timedelta(days=i) for i in range((end - start).days)]
