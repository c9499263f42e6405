"""App events enriched with the external context valid at the event's time and place (AS-OF joins).

Output ``silver/enriched_app_events`` (partitioned by ``event_date``): every app event with

- weather: the latest observation for the event's (geo.city, geo.country) at or before
  ``event_time`` and not older than :data:`WEATHER_TOLERANCE` (3 h): ``weather_*`` columns and
  ``weather_matched``;
- market: the latest tick of the country's market proxy symbol (:data:`COUNTRY_MARKET_SYMBOL`) at
  or before ``event_time`` and not older than :data:`MARKET_TOLERANCE` (24 h): ``market_*`` columns
  and ``market_matched``.

Unmatched events are kept, with ``*_matched = false`` and null context (never dropped).

AS-OF join as an interval join: each observation is valid from its time until the next
observation of its key, and at most for the tolerance, so an event matches at most one interval
(``from <= event_time < until``: "at or before", inclusive). The intervals (small: observations,
not events) are bucketed by hour and broadcast, so events are neither shuffled nor sorted: the
join streams them through a hash lookup on (key, hour) with a range check.

The context is what bronze held when the event's micro-batch ran: an observation ingested after
the event was processed is not applied retroactively (re-run the job from a reset to re-enrich).
Writes are appends guarded by the batch id (a replayed batch is skipped).

Market proxy symbols: the simulated feed carries single stocks, not indices, so each country maps
to a large local listing from the simulator's tickers (a stand-in for its index); countries with
no local listing use the closest regional proxy. Edit the table below to change it.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from dataplat_processing import _delta
from dataplat_processing._facts import from_spark, ts_literal
from dataplat_processing._stream import run_available_now
from dataplat_processing.results import EnrichmentResult
from dataplat_processing.tables import ENRICHED, ENRICHMENT_JOB
from dataplat_resources import topics
from dataplat_resources.lake import LakeLayout

WEATHER_TOLERANCE = timedelta(hours=3)
MARKET_TOLERANCE = timedelta(hours=24)
PARTITION_BY = ("event_date",)

# country -> market proxy symbol (from simulators.world.TICKERS)
COUNTRY_MARKET_SYMBOL: dict[str, str] = {
    "US": "AMZN",  # NASDAQ
    "CA": "SHOP",  # Shopify (Canadian, NYSE-listed)
    "MX": "MELI",  # MercadoLibre: Latin American e-commerce
    "BR": "MELI",
    "GB": "ULVR",  # LSE
    "DE": "SAP",  # XETRA
    "FR": "MC",  # EPA
    "ES": "ITX",  # BME
    "IT": "MC",  # no Italian listing: the largest euro-area consumer stock
    "NL": "ASML",  # AMS
    "PL": "ZAL",  # no Polish listing: Zalando (XETRA), large in Poland
    "CZ": "SAP",  # no Czech listing: XETRA proxy
    "TR": "ULVR",  # no Turkish listing: LSE proxy
    "JP": "SONY",  # TSE
    "IN": "RELIANCE",  # NSE
    "AU": "AMZN",  # no Australian listing: US proxy
}

WEATHER_FIELDS = ("temperature_c", "humidity_pct", "wind_speed_kmh", "precipitation_mm", "condition")
MARKET_FIELDS = ("price", "change_pct", "currency", "exchange")
_KAFKA_COLUMNS = ("_kafka_topic", "_kafka_partition", "_kafka_offset", "_kafka_timestamp", "_kafka_key")
BROADCAST_MAX_ROWS = 2_000_000  # observation intervals broadcast to the events up to this many


def asof_join(
    left: DataFrame,
    right: DataFrame,
    *,
    keys: list[str],
    left_time: str,
    right_time: str,
    tolerance: timedelta,
    context: str,
    broadcast_max_rows: int = BROADCAST_MAX_ROWS,
) -> DataFrame:
    """``left`` plus, as struct column ``context``, the latest ``right`` row with equal ``keys`` and
    ``right_time <= left_time`` no older than ``tolerance`` (null if none), and ``<context>_matched``.

    Every ``left`` row is kept exactly once (the validity intervals of one key never overlap). Keys
    with nulls never match. Of several ``right`` rows with the same keys and instant, one is kept
    (the greatest payload), so the result is deterministic.
    """
    payload = [c for c in right.columns if c not in keys]
    if right_time not in payload:
        raise ValueError(f"{right_time!r} must be a non-key column of the right side")
    rk = [f"_asof_k{i}" for i in range(len(keys))]
    one_per_instant = right.groupBy(*[F.col(k).alias(a) for k, a in zip(keys, rk, strict=True)], right_time).agg(
        F.max(F.struct(*[F.col(c) for c in payload])).alias("_asof_obs")
    )
    tol_us = int(tolerance.total_seconds()) * 1_000_000
    start_us = F.unix_micros(right_time)
    next_us = F.lead(start_us).over(Window.partitionBy(*rk).orderBy(right_time))
    intervals = one_per_instant.select(
        *rk,
        "_asof_obs",
        start_us.alias("_asof_from"),
        # valid until the next observation, and for at most the tolerance (inclusive)
        F.least(F.coalesce(next_us, start_us + tol_us + 1), start_us + tol_us + 1).alias("_asof_until"),
    )
    hour_us = 3_600 * 1_000_000
    intervals = intervals.select(
        "*",
        F.explode(
            F.sequence(F.floor(F.col("_asof_from") / hour_us), F.floor((F.col("_asof_until") - 1) / hour_us))
        ).alias("_asof_hour"),
    )
    if intervals.count() <= broadcast_max_rows:
        intervals = F.broadcast(intervals)
    t_us = F.unix_micros(F.col(left_time))
    condition = [F.col(k) == F.col(a) for k, a in zip(keys, rk, strict=True)]
    condition += [
        F.floor(t_us / hour_us) == F.col("_asof_hour"),
        F.col("_asof_from") <= t_us,
        t_us < F.col("_asof_until"),
    ]
    joined = left.join(intervals, condition, "left")
    matched = F.col("_asof_obs").isNotNull()
    return joined.select(
        *[left[c] for c in left.columns],
        F.col("_asof_obs").alias(context),
        matched.alias(f"{context}_matched"),
    )


def _symbol_column() -> F.Column:
    mapping = F.create_map(*[F.lit(x) for kv in sorted(COUNTRY_MARKET_SYMBOL.items()) for x in kv])
    return mapping[F.col("geo.country")]


def enrich(events: DataFrame, external: DataFrame) -> DataFrame:
    """Bronze app events + bronze external records -> enriched rows (all events kept)."""
    weather = external.where(F.col("kind") == "weather").select(
        "city", "country", F.col("event_time").alias("observed_at"), *WEATHER_FIELDS
    )
    market = external.where(F.col("kind") == "market").select(
        "symbol", F.col("event_time").alias("observed_at"), *MARKET_FIELDS
    )
    base = events.select(
        *[c for c in events.columns if c not in _KAFKA_COLUMNS],
        F.col("geo.city").alias("_city"),
        F.col("geo.country").alias("_country"),
        _symbol_column().alias("market_symbol"),
    )
    with_weather = asof_join(
        base,
        weather.withColumnRenamed("city", "_city").withColumnRenamed("country", "_country"),
        keys=["_city", "_country"],
        left_time="event_time",
        right_time="observed_at",
        tolerance=WEATHER_TOLERANCE,
        context="_weather",
    )
    with_market = asof_join(
        with_weather,
        market.withColumnRenamed("symbol", "market_symbol"),
        keys=["market_symbol"],
        left_time="event_time",
        right_time="observed_at",
        tolerance=MARKET_TOLERANCE,
        context="_market",
    )
    return with_market.select(
        *[c for c in base.columns if c not in ("_city", "_country", "market_symbol")],
        *[F.col(f"_weather.{c}").alias(f"weather_{c}") for c in WEATHER_FIELDS],
        F.col("_weather.observed_at").alias("weather_observed_at"),
        F.col("_weather_matched").alias("weather_matched"),
        "market_symbol",
        *[F.col(f"_market.{c}").alias(f"market_{c}") for c in MARKET_FIELDS],
        F.col("_market.observed_at").alias("market_observed_at"),
        F.col("_market_matched").alias("market_matched"),
        F.current_timestamp().alias("enriched_at"),
    )


def _process(layout: LakeLayout, batch: DataFrame, batch_id: int) -> dict[str, Any]:
    spark = batch.sparkSession
    bounds = batch.agg(F.min("event_time"), F.max("event_time")).first()
    external_path = layout.bronze(topics.EXTERNAL_DATA)
    if bounds[0] is not None and _delta.is_delta(spark, external_path):
        lo = from_spark(bounds[0]) - max(WEATHER_TOLERANCE, MARKET_TOLERANCE)
        hi = from_spark(bounds[1])
        external = (
            _delta.read_delta(spark, external_path)
            .where(F.col("event_date").between(F.lit(lo.date()), F.lit(hi.date())))
            .where((F.col("event_time") >= ts_literal(lo)) & (F.col("event_time") <= ts_literal(hi)))
            .where(F.col("kind").isin("weather", "market"))
        )
    else:  # no external data yet: every event is kept, unmatched
        external = spark.createDataFrame([], _external_schema())
    enriched = enrich(batch, external).localCheckpoint(eager=True)
    counts = enriched.agg(
        F.count(F.lit(1)),
        F.sum(F.col("weather_matched").cast("long")),
        F.sum(F.col("market_matched").cast("long")),
    ).first()
    _delta.append_idempotent(
        enriched, layout.silver(ENRICHED), f"{ENRICHMENT_JOB.name}:{ENRICHED}", batch_id, PARTITION_BY
    )
    return {
        "rows_written": int(counts[0]),
        "weather_matched": int(counts[1] or 0),
        "market_matched": int(counts[2] or 0),
    }


def _external_schema() -> str:
    return "kind string, city string, country string, symbol string, event_time timestamp, " + ", ".join(
        f"{c} {'string' if c in ('condition', 'currency', 'exchange') else 'double'}"
        for c in (*WEATHER_FIELDS, *MARKET_FIELDS)
    )


def run_enrichment(
    spark: SparkSession, layout: LakeLayout, *, max_files_per_trigger: int | None = None
) -> EnrichmentResult:
    """Enrich every app event committed to bronze since the last run."""
    started = time.perf_counter()
    run = run_available_now(
        spark,
        layout,
        ENRICHMENT_JOB,
        lambda df, batch_id, _rows: _process(layout, df, batch_id),
        max_files_per_trigger=max_files_per_trigger,
    )
    f = run.figures
    return EnrichmentResult(
        job=ENRICHMENT_JOB.name,
        duration_s=round(time.perf_counter() - started, 3),
        batches=len(run.batch_ids),
        input_rows=run.input_rows,
        source_version=run.source_version,
        skipped=run.skipped,
        rows_written=int(f.get("rows_written", 0)),
        weather_matched=int(f.get("weather_matched", 0)),
        market_matched=int(f.get("market_matched", 0)),
    )
