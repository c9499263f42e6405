"""Clickstream sessions: gap rule, hour boundary, extension by a later batch, late events, replay."""

from __future__ import annotations

from pyspark.sql import functions as F

from dataplat_processing import check_session_invariants, run_clickstream_sessions
from dataplat_processing._facts import from_spark
from dataplat_processing.silver.sessions import session_rows
from dataplat_processing.tables import SESSIONS_JOB
from tests.spark_fixtures import DAY0, click, ts, uncommit_last_batch

COMPARED = [
    "user_id",
    "session_id",
    "session_date",
    "session_start",
    "session_end",
    "duration_s",
    "events",
    "page_views",
    "bounce",
    "entry_page",
    "exit_page",
    "reached_product",
    "reached_cart",
    "reached_checkout",
    "reached_confirmation",
    "funnel_step",
]


def _sessions(spark, layout) -> dict[str, list]:
    rows = spark.read.format("delta").load(layout.silver("clickstream_sessions")).orderBy("session_start").collect()
    out: dict[str, list] = {}
    for r in rows:
        out.setdefault(r.user_id, []).append(r)
    return out


def _span(row) -> tuple:
    return from_spark(row.session_start), from_spark(row.session_end)


def _assert_equals_full_recompute(spark, layout) -> None:
    """The incremental result must equal sessionizing all of bronze in one go."""
    bronze = spark.read.format("delta").load(layout.bronze("clickstream"))
    expected = session_rows(bronze).select(*COMPARED)
    actual = spark.read.format("delta").load(layout.silver("clickstream_sessions")).select(*COMPARED)
    assert expected.exceptAll(actual).count() == 0
    assert actual.exceptAll(expected).count() == 0


def test_sessions_incremental_late_and_replay(spark, layout, bronze):
    # batch 1 -- a: a session across the 11:00 hour boundary; b: a bounce; c: two sessions 50 min apart;
    # d: events exactly 30 min apart (same session), then 30 min 1 s later (new session)
    bronze.clicks(
        [
            click(ts(50), user="a", page_type="home", url="/"),
            click(ts(55), user="a", page_type="product", url="/p/1"),
            click(ts(56), user="a", page_type="product", action="click", url="/p/1"),
            click(ts(65), user="a", page_type="cart", url="/cart"),
            click(ts(0), user="b", page_type="home", url="/"),
            click(ts(0.5), user="b", page_type="home", action="scroll", url="/"),
            click(ts(-60), user="c", page_type="home"),
            click(ts(-10), user="c", page_type="search"),
            click(ts(0), user="d"),
            click(ts(30), user="d"),
            click(ts(60 + 1 / 60), user="d"),
        ]
    )
    first = run_clickstream_sessions(spark, layout)
    assert (first.batches, first.input_rows, first.users_touched) == (1, 11, 4)
    s = _sessions(spark, layout)
    (a,) = s["a"]
    assert _span(a) == (ts(50), ts(65)) and a.duration_s == 15 * 60
    assert (a.events, a.page_views, a.bounce, a.entry_page, a.exit_page) == (4, 3, False, "/", "/cart")
    assert (a.reached_product, a.reached_cart, a.reached_checkout, a.funnel_step) == (True, True, False, 2)
    (b,) = s["b"]
    assert (b.events, b.page_views, b.bounce, b.funnel_step) == (2, 1, True, 0)
    assert [_span(r) for r in s["c"]] == [(ts(-60), ts(-60)), (ts(-10), ts(-10))]
    assert [_span(r) for r in s["d"]] == [(ts(0), ts(30)), (ts(60 + 1 / 60), ts(60 + 1 / 60))]

    # batch 2 -- a continues 25 min after 11:05 (extends the same session); c: a late event 25 min after
    # each of its two sessions bridges them into one
    bronze.clicks(
        [
            click(ts(90), user="a", page_type="checkout", url="/checkout"),
            click(ts(91), user="a", page_type="confirmation", url="/thanks"),
            click(ts(-35), user="c", page_type="product"),
        ]
    )
    second = run_clickstream_sessions(spark, layout)
    assert second.sessions_removed == 1  # c's second session was absorbed into its first
    s = _sessions(spark, layout)
    (a2,) = s["a"]
    assert a2.session_id == a.session_id  # same start, same session, rewritten
    assert _span(a2) == (ts(50), ts(91))
    assert (a2.events, a2.exit_page, a2.reached_confirmation, a2.funnel_step) == (6, "/thanks", True, 4)
    assert [_span(r) for r in s["c"]] == [(ts(-60), ts(-10))]

    # batch 3 -- a late event 20 min before a's session moves its start (new id, old row replaced),
    # and an event 40 min after its end starts a new session
    bronze.clicks([click(ts(30), user="a", page_type="home", url="/"), click(ts(131), user="a")])
    third = run_clickstream_sessions(spark, layout)
    assert third.sessions_removed == 1
    s = _sessions(spark, layout)
    assert [_span(r) for r in s["a"]] == [(ts(30), ts(91)), (ts(131), ts(131))]
    assert s["a"][0].session_id != a.session_id

    check = check_session_invariants(spark, layout, expect_all_bronze=True)
    assert check.passed, check
    assert check.figures["sessions"] == 6 and check.figures["events"] == 16
    _assert_equals_full_recompute(spark, layout)

    funnel = {
        r.step_name: (r.sessions, r.conversion_from_previous)
        for r in spark.read.format("delta").load(layout.silver("clickstream_funnel")).collect()
        if r.session_date == DAY0
    }
    assert funnel["sessions"] == (6, 1.0)
    assert funnel["product"] == (2, 2 / 6)  # a (all the way) and c (product, then search)
    assert funnel["cart"] == (1, 0.5)
    assert funnel["confirmation"] == (1, 1.0)

    # replay of batch 3: same result
    before = sorted(
        tuple(r)
        for r in spark.read.format("delta").load(layout.silver("clickstream_sessions")).select(*COMPARED).collect()
    )
    uncommit_last_batch(SESSIONS_JOB.checkpoint(layout))
    assert run_clickstream_sessions(spark, layout).batches == 1
    after = sorted(
        tuple(r)
        for r in spark.read.format("delta").load(layout.silver("clickstream_sessions")).select(*COMPARED).collect()
    )
    assert after == before

    # failing case: a duplicated, overlapping session
    path = layout.silver("clickstream_sessions")
    dup = spark.read.format("delta").load(path).where(F.col("user_id") == "b").withColumn("session_id", F.lit("x"))
    dup.write.format("delta").mode("append").save(path)
    bad = check_session_invariants(spark, layout)
    assert not bad.passed and bad.figures["too_close_to_next"] == 1


def test_session_invariant_failures_are_reported(spark, layout, bronze):
    bronze.clicks([click(ts(0), user="z"), click(ts(5), user="z", page_type="product")])
    run_clickstream_sessions(spark, layout)
    path = layout.silver("clickstream_sessions")
    spark.sql(f"UPDATE delta.`{path}` SET session_end = session_start - INTERVAL 1 MINUTE, events = 0")
    bad = check_session_invariants(spark, layout)
    assert not bad.passed
    assert bad.figures["start_after_end"] == 1 and bad.figures["no_events"] == 1 and bad.figures["bad_duration"] == 1
