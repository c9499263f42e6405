"""Enrichment: AS-OF weather and market context, tolerance, unmatched rows kept, replay."""

from __future__ import annotations

from dataplat_processing import check_table_keys, run_enrichment
from dataplat_processing._facts import from_spark
from dataplat_processing.tables import ENRICHMENT_JOB
from tests.spark_fixtures import app_event, market, ts, uncommit_last_batch, weather


def test_asof_weather_and_market(spark, layout, bronze):
    bronze.external(
        [
            weather(ts(-60), temp=15.0),  # Austin 09:00
            weather(ts(0), temp=20.0),  # Austin 10:00
            weather(ts(0), city="Berlin", country="DE", temp=9.0),
            weather(ts(5), temp=25.0),  # Austin 10:05
            market(ts(-30), symbol="AMZN", price=200.0),  # US proxy 09:30
            market(ts(-20), symbol="SAP", price=150.0),  # DE proxy 09:40
            market(ts(1), symbol="AMZN", price=201.0),
        ]
    )
    events = {
        "at_obs": app_event(ts(0), user="at_obs"),  # exactly at 10:00 -> that observation (inclusive)
        "before": app_event(ts(-1), user="before"),  # 09:59 -> the 09:00 observation
        "stale": app_event(ts(5 + 181), user="stale"),  # 13:06 -> last obs 10:05 is > 3 h old: unmatched
        "edge": app_event(ts(5 + 180), user="edge"),  # 13:05 -> the 10:05 obs, exactly 3 h old: matched
        "berlin": app_event(ts(2), user="berlin", city="Berlin", country="DE", platform="android"),
        "paris": app_event(ts(2), user="paris", city="Paris", country="FR"),  # no weather, no MC ticks
        "early": app_event(ts(-50), user="early"),  # 09:10: weather 09:00, no market tick yet
    }
    bronze.app_events(list(events.values()))
    result = run_enrichment(spark, layout)
    assert (result.input_rows, result.rows_written) == (7, 7)
    assert (result.weather_matched, result.market_matched) == (5, 5)

    rows = {r.user_id: r for r in spark.read.format("delta").load(layout.silver("enriched_app_events")).collect()}
    assert set(rows) == set(events)  # unmatched rows are kept
    assert (rows["at_obs"].weather_matched, rows["at_obs"].weather_temperature_c) == (True, 20.0)
    assert from_spark(rows["at_obs"].weather_observed_at) == ts(0)
    assert (rows["before"].weather_temperature_c, rows["before"].market_price) == (15.0, 200.0)
    assert (rows["stale"].weather_matched, rows["stale"].weather_temperature_c) == (False, None)
    assert (rows["stale"].market_matched, rows["stale"].market_price) == (True, 201.0)  # within 24 h
    assert (rows["edge"].weather_matched, rows["edge"].weather_temperature_c) == (True, 25.0)
    assert (rows["berlin"].weather_temperature_c, rows["berlin"].market_symbol, rows["berlin"].market_price) == (
        9.0,
        "SAP",
        150.0,
    )
    assert (rows["paris"].weather_matched, rows["paris"].market_matched, rows["paris"].market_symbol) == (
        False,
        False,
        "MC",
    )
    assert (rows["early"].weather_temperature_c, rows["early"].market_matched) == (15.0, False)
    assert rows["at_obs"].geo.city == "Austin" and rows["at_obs"].event_date is not None

    # a second batch enriches only the new event; a replay of it writes nothing twice
    bronze.app_events([app_event(ts(3), user="later")])
    assert run_enrichment(spark, layout).rows_written == 1
    uncommit_last_batch(ENRICHMENT_JOB.checkpoint(layout))
    assert run_enrichment(spark, layout).batches == 1
    keys = check_table_keys(spark, layout.silver("enriched_app_events"), ["event_id"])
    assert keys.passed and keys.figures["rows"] == 8

    # failing case of the generic key check: a duplicated row
    path = layout.silver("enriched_app_events")
    spark.read.format("delta").load(path).limit(1).write.format("delta").mode("append").save(path)
    dup = check_table_keys(spark, path, ["event_id"])
    assert not dup.passed and dup.figures["duplicate_keys"] == 1


def test_enrichment_without_external_data(spark, layout, bronze):
    bronze.app_events([app_event(ts(0))])
    result = run_enrichment(spark, layout)
    assert (result.rows_written, result.weather_matched, result.market_matched) == (1, 0, 0)
