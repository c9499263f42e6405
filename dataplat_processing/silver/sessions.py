"""Clickstream sessions per user (30-minute inactivity gap) and the purchase funnel per day.

Output ``silver/clickstream_sessions`` (partitioned by ``session_date``, the UTC date of the
start), one row per (user_id, session_id): ``session_start``/``session_end``, ``duration_s``,
``events``, ``page_views``, ``bounce`` (exactly one page view), entry and exit page (first/last
page view; first/last event if the session has none), funnel flags (``reached_product``, ``_cart``,
``_checkout``, ``_confirmation``: the page type was seen at all) and ``funnel_step`` (0-4: how far
the session went through product -> cart -> checkout -> confirmation *in that order*).
A new session starts when a user's next event comes more than :data:`SESSION_GAP` after the
previous one. ``session_id`` is derived from (user_id, session_start), so it changes when a late
event moves a session's start; the row is then replaced.

Why recompute instead of stateful streaming: a session depends on its neighbours (a late event can
bridge two sessions into one, an event in the next micro-batch extends one across an hour or day
boundary), so each micro-batch:

1. sessionizes its own events per user into "islands" (same gap rule);
2. finds stored sessions of those users overlapping an island padded by the gap;
3. for an island touching stored sessions, re-reads from bronze every event of the user between
   the earliest and latest of them (an island touching none is complete with the batch's events:
   earlier events would be in a stored session, later ones will extend it in a later batch);
4. sessionizes those events and, in one MERGE, replaces the touched sessions (rewrites those that
   still exist, deletes those absorbed into another).

The result equals sessionizing all of bronze at once, whatever the order and batching of arrival;
a replayed batch recomputes the same sessions (and the MERGE also carries the batch's txn guard).
Bronze is read at its latest version, which may already hold events of later micro-batches; those
batches recompute the same ranges again, so the result converges.

Limit: stored sessions are looked up in the ``session_date`` partitions from ``max_session_days``
(default 2) before the batch's earliest event, so a single continuous session (no 30-minute pause)
longer than that would be split. :func:`~dataplat_processing.checks.check_session_invariants`
detects it.

``silver/clickstream_funnel`` (per ``session_date`` and step) holds sessions reaching each step in
order, conversion from the previous step and from the first; it is rebuilt for every date touched.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from dataplat_processing import _delta
from dataplat_processing._facts import from_spark, ts_literal
from dataplat_processing._stream import run_available_now
from dataplat_processing.results import SessionsResult
from dataplat_processing.tables import FUNNEL, SESSIONS, SESSIONS_JOB
from dataplat_resources.lake import LakeLayout

SESSION_GAP = timedelta(minutes=30)
DEFAULT_MAX_SESSION_DAYS = 2
FUNNEL_STEPS = ("product", "cart", "checkout", "confirmation")  # page types, in funnel order
KEYS = ("user_id", "session_id")
PARTITION_BY = ("session_date",)
FUNNEL_PARTITION_BY = ("session_date",)
_ORDER = ("event_time", "sequence_number", "event_id")


def _gap_seconds(gap: timedelta) -> int:
    return int(gap.total_seconds())


def sessionize(events: DataFrame, gap: timedelta = SESSION_GAP) -> DataFrame:
    """Add ``_session_seq`` (per user, increasing) to events: a new session after a gap > ``gap``."""
    w = Window.partitionBy("user_id").orderBy(*_ORDER)
    previous = F.lag("event_time").over(w)
    new = previous.isNull() | (
        (F.unix_micros("event_time") - F.unix_micros(previous)) > F.lit(_gap_seconds(gap) * 1_000_000)
    )
    return events.withColumn("_new", new.cast("int")).withColumn(
        "_session_seq", F.sum("_new").over(w.rowsBetween(Window.unboundedPreceding, Window.currentRow))
    )


def _first_url(items: Column, last: bool = False) -> Column:
    page_views = F.filter(items, lambda x: x["action"] == F.lit("page_view"))
    chosen = F.when(F.size(page_views) > 0, page_views).otherwise(items)
    return F.element_at(chosen, -1 if last else 1)


def session_rows(events: DataFrame, gap: timedelta = SESSION_GAP) -> DataFrame:
    """Clickstream events (bronze columns) -> one row per session with all its figures."""
    steps = F.array(*[F.lit(s) for s in FUNNEL_STEPS])
    item = F.struct(
        F.col("event_time").alias("t"),
        F.col("sequence_number").alias("seq"),
        F.col("event_id").alias("id"),
        "action",
        "page_type",
        "page_url",
    )
    grouped = (
        sessionize(events, gap)
        .groupBy("user_id", "_session_seq")
        .agg(
            F.min("event_time").alias("session_start"),
            F.max("event_time").alias("session_end"),
            F.count(F.lit(1)).alias("events"),
            F.sum((F.col("action") == "page_view").cast("int")).alias("page_views"),
            F.array_sort(F.collect_list(item)).alias("_items"),
            *[F.max((F.col("page_type") == s).cast("int")).alias(f"_reached_{s}") for s in FUNNEL_STEPS],
        )
    )
    entry, exit_ = _first_url(F.col("_items")), _first_url(F.col("_items"), last=True)
    funnel_step = F.aggregate(
        F.col("_items"),
        F.lit(0),
        lambda acc, x: F.when(
            (acc < len(FUNNEL_STEPS)) & (x["page_type"] == F.element_at(steps, acc + 1)), acc + 1
        ).otherwise(acc),
    )
    return grouped.select(
        "user_id",
        F.substring(
            F.sha2(F.concat_ws("|", "user_id", F.unix_micros("session_start").cast("string")), 256), 1, 32
        ).alias("session_id"),
        F.to_date("session_start").alias("session_date"),
        "session_start",
        "session_end",
        ((F.unix_micros("session_end") - F.unix_micros("session_start")) / 1_000_000).alias("duration_s"),
        F.col("events").cast("long").alias("events"),
        F.col("page_views").cast("long").alias("page_views"),
        (F.col("page_views") == 1).alias("bounce"),
        entry["page_url"].alias("entry_page"),
        entry["page_type"].alias("entry_page_type"),
        exit_["page_url"].alias("exit_page"),
        exit_["page_type"].alias("exit_page_type"),
        *[(F.col(f"_reached_{s}") == 1).alias(f"reached_{s}") for s in FUNNEL_STEPS],
        funnel_step.alias("funnel_step"),
        F.current_timestamp().alias("updated_at"),
    )


def funnel_rows(sessions: DataFrame) -> DataFrame:
    """Per session_date: sessions reaching each funnel step in order, and conversion rates."""
    per_day = sessions.groupBy("session_date").agg(
        F.count(F.lit(1)).alias("sessions"),
        *[F.sum((F.col("funnel_step") >= i + 1).cast("long")).alias(s) for i, s in enumerate(FUNNEL_STEPS)],
    )
    names = ["sessions", *FUNNEL_STEPS]
    stacked = per_day.select(
        "session_date",
        F.explode(
            F.array(
                *[
                    F.struct(
                        F.lit(i).alias("step"),
                        F.lit(name).alias("step_name"),
                        F.col(name).alias("reached"),
                        F.col(names[max(i - 1, 0)]).alias("previous"),
                        F.col("sessions").alias("first"),
                    )
                    for i, name in enumerate(names)
                ]
            )
        ).alias("s"),
    ).select("session_date", "s.*")
    return stacked.select(
        "session_date",
        "step",
        "step_name",
        F.col("reached").cast("long").alias("sessions"),
        F.when(F.col("previous") > 0, F.col("reached") / F.col("previous")).alias("conversion_from_previous"),
        F.when(F.col("first") > 0, F.col("reached") / F.col("first")).alias("conversion_from_start"),
        F.current_timestamp().alias("updated_at"),
    )


def _date_list(dates: list[Any]) -> str:
    return ", ".join(f"DATE'{d.isoformat()}'" for d in sorted(set(dates)))


def _process(layout: LakeLayout, gap: timedelta, max_session_days: int, batch: DataFrame, batch_id: int) -> dict:
    spark = batch.sparkSession
    job = SESSIONS_JOB.name
    sessions_path, funnel_path = layout.silver(SESSIONS), layout.silver(FUNNEL)
    gap_us = _gap_seconds(gap) * 1_000_000
    events = batch.where(F.col("user_id").isNotNull() & F.col("event_time").isNotNull())
    islands = (
        sessionize(events.select("user_id", "event_time", "sequence_number", "event_id"), gap)
        .groupBy("user_id", "_session_seq")
        .agg(F.min("event_time").alias("lo"), F.max("event_time").alias("hi"))
        .drop("_session_seq")
    )
    islands = islands.localCheckpoint(eager=True)
    bounds = islands.agg(F.min("lo"), F.max("hi"), F.countDistinct("user_id")).first()
    if bounds[0] is None:
        return {}
    lo, hi, users = from_spark(bounds[0]), from_spark(bounds[1]), int(bounds[2])

    touched = None
    extended = None  # islands widened to the stored sessions they touch
    if _delta.is_delta(spark, sessions_path):
        stored = (
            _delta.read_delta(spark, sessions_path)
            .where(
                F.col("session_date").between(
                    F.lit((lo - timedelta(days=max_session_days)).date()), F.lit((hi + gap).date())
                )
            )
            .select("user_id", "session_id", "session_date", "session_start", "session_end")
        )
        touches = (
            (F.col("s.user_id") == F.col("i.user_id"))
            & (F.unix_micros("s.session_start") <= F.unix_micros("i.hi") + F.lit(gap_us))
            & (F.unix_micros("s.session_end") >= F.unix_micros("i.lo") - F.lit(gap_us))
        )
        touched = (
            stored.alias("s").join(islands.alias("i"), touches).select("s.*").distinct().localCheckpoint(eager=True)
        )
        extended = (
            islands.alias("i")
            .join(touched.alias("s"), touches)
            .groupBy("i.user_id", "i.lo", "i.hi")
            .agg(
                F.least(F.min("i.lo"), F.min("s.session_start")).alias("range_lo"),
                F.greatest(F.max("i.hi"), F.max("s.session_end")).alias("range_hi"),
            )
            .select("user_id", "range_lo", "range_hi")
            .localCheckpoint(eager=True)
        )
    # Islands touching no stored session are sessionized from the batch alone (their other events, if
    # any, come in later batches, which will extend them); extended ranges are re-read from bronze.
    span = extended.agg(F.min("range_lo"), F.max("range_hi"), F.count(F.lit(1))).first() if extended else None
    if span is None or not span[2]:
        in_range = events
    else:
        range_lo, range_hi = from_spark(span[0]), from_spark(span[1])
        r = extended.alias("r")
        r = F.broadcast(r) if span[2] < 200_000 else r
        within = (
            (F.col("b.user_id") == F.col("r.user_id"))
            & (F.col("b.event_time") >= F.col("r.range_lo"))
            & (F.col("b.event_time") <= F.col("r.range_hi"))
        )
        bronze = (
            _delta.read_delta(spark, SESSIONS_JOB.source(layout))
            .where(F.col("event_date").between(F.lit(range_lo.date()), F.lit(range_hi.date())))
            .where(F.col("event_time").between(ts_literal(range_lo), ts_literal(range_hi)))  # file skipping
            .where(F.col("user_id").isNotNull())
        )
        in_range = (
            events.alias("b").join(r, within, "left_anti").unionByName(bronze.alias("b").join(r, within, "left_semi"))
        )
    new_sessions = session_rows(in_range, gap).localCheckpoint(eager=True)
    counts = new_sessions.agg(F.count(F.lit(1)), F.sum("events")).first()
    written, events_read = int(counts[0]), int(counts[1] or 0)

    removed = 0
    if touched is not None:
        gone = touched.join(new_sessions.select(*KEYS), list(KEYS), "left_anti").localCheckpoint(eager=True)
        removed = gone.count()
        source = new_sessions.withColumn("_delete", F.lit(False)).unionByName(
            gone.select(*KEYS, "session_date").withColumn("_delete", F.lit(True)), allowMissingColumns=True
        )
        old_dates = [r[0] for r in touched.select("session_date").distinct().collect()]
    else:
        source = new_sessions.withColumn("_delete", F.lit(False))
        old_dates = []
    _delta.upsert(
        spark,
        source,
        sessions_path,
        KEYS,
        app_id=f"{job}:{SESSIONS}",
        version=batch_id,
        partition_by=PARTITION_BY,
        delete_condition="s._delete",
        drop_columns=("_delete",),
    )

    dates = old_dates + [r[0] for r in new_sessions.select("session_date").distinct().collect()]
    if dates:
        predicate = f"session_date IN ({_date_list(dates)})"
        day_sessions = _delta.read_delta(spark, sessions_path).where(predicate)
        _delta.overwrite_where(
            funnel_rows(day_sessions),
            funnel_path,
            predicate,
            FUNNEL_PARTITION_BY,
            app_id=f"{job}:{FUNNEL}",
            version=batch_id,
        )
    return {
        "users_touched": users,
        "events_resessionized": events_read,
        "sessions_written": written,
        "sessions_removed": removed,
        "funnel_days_updated": len(set(dates)),
    }


def run_clickstream_sessions(
    spark: SparkSession,
    layout: LakeLayout,
    *,
    gap: timedelta = SESSION_GAP,
    max_session_days: int = DEFAULT_MAX_SESSION_DAYS,
    max_files_per_trigger: int | None = None,
) -> SessionsResult:
    """Bring sessions and the funnel up to date with every clickstream event committed since the last run."""
    started = time.perf_counter()
    run = run_available_now(
        spark,
        layout,
        SESSIONS_JOB,
        lambda df, batch_id, _rows: _process(layout, gap, max_session_days, df, batch_id),
        max_files_per_trigger=max_files_per_trigger,
    )
    f = run.figures
    return SessionsResult(
        job=SESSIONS_JOB.name,
        duration_s=round(time.perf_counter() - started, 3),
        batches=len(run.batch_ids),
        input_rows=run.input_rows,
        source_version=run.source_version,
        skipped=run.skipped,
        users_touched=int(f.get("users_touched", 0)),
        events_resessionized=int(f.get("events_resessionized", 0)),
        sessions_written=int(f.get("sessions_written", 0)),
        sessions_removed=int(f.get("sessions_removed", 0)),
        funnel_days_updated=int(f.get("funnel_days_updated", 0)),
    )
