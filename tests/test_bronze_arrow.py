"""Validated bytes -> bronze Arrow rows (pure, no servers)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa

from dataplat_ingestion.arrow_convert import ValidRows, bronze_schema, to_bronze_table
from dataplat_ingestion.checks import schema_diff
from dataplat_resources import lake, topics
from dataplat_resources.contracts import CONTRACTS, contract_for
from tests import factories as f

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def rows(values: list[bytes], partition: int = 0, keys: list[bytes | None] | None = None) -> ValidRows:
    n = len(values)
    return ValidRows(
        values=values,
        partitions=[partition] * n,
        offsets=list(range(n)),
        timestamps_ms=[1_795_000_000_000 + i for i in range(n)],
        keys=keys if keys is not None else [b"k"] * n,
    )


def test_every_contract_gives_a_bronze_schema_with_kafka_metadata() -> None:
    for contract in CONTRACTS.values():
        schema = bronze_schema(contract)
        for column in (
            lake.EVENT_ID,
            lake.EVENT_TIME,
            lake.EVENT_DATE,
            lake.KAFKA_PARTITION,
            lake.KAFKA_OFFSET,
            lake.INGESTED_AT,
        ):
            assert column in schema.names, (contract.topic, column)


def test_app_events_convert_with_timezones_normalised_to_utc() -> None:
    contract = contract_for(topics.APP_EVENTS)
    event = f.app_event(1, event_time="2026-11-20T14:00:00.250000+02:00")
    table, bad = to_bronze_table(contract, "topic_app_events", rows([f.to_json(event)]), NOW)
    assert bad == []
    row = table.to_pylist()[0]
    assert row["event_time"] == datetime(2026, 11, 20, 12, 0, 0, 250000, tzinfo=UTC)
    assert row["event_date"] == date(2026, 11, 20)
    assert row["geo"]["city"] == "Austin" and row["device"]["app_version"] == "5.2.1"
    assert row["_kafka_topic"] == "topic_app_events" and row["_kafka_key"] == "k"
    assert schema_diff(table.schema, bronze_schema(contract)).ok


def test_cdc_rows_get_event_id_and_time_from_the_envelope() -> None:
    contract = contract_for(topics.CDC_CHANGES)
    change = f.cdc_change("orders", "c", lsn=777, after=f.order_row(5, 1, f.BASE_TIME))
    table, bad = to_bronze_table(contract, "topic_cdc_changes", rows([f.to_json(change)]), NOW)
    assert bad == []
    row = table.to_pylist()[0]
    assert row["event_id"] == "orders:777"
    assert row["event_time"] == datetime.fromtimestamp(change["source"]["ts_ms"] / 1000, UTC)
    assert row["after"]["status"] == "pending" and row["before"] is None


def test_rows_that_do_not_fit_are_isolated_and_the_rest_kept() -> None:
    contract = contract_for(topics.APP_EVENTS)
    good = [f.to_json(f.app_event(i)) for i in range(9)]
    values = [*good[:4], b'{"event_type": 5}', *good[4:]]
    table, bad = to_bronze_table(contract, "t", rows(values), NOW)
    assert [i for i, _ in bad] == [4]
    assert table.num_rows == 9
    assert table.column(lake.KAFKA_OFFSET).to_pylist() == [0, 1, 2, 3, 5, 6, 7, 8, 9]


def test_pretty_printed_json_and_non_utf8_keys_are_handled() -> None:
    contract = contract_for(topics.CLICKSTREAM)
    import json

    pretty = json.dumps(f.click_event(1), indent=2).encode()
    table, bad = to_bronze_table(contract, "t", rows([pretty], keys=[b"\xff\xfe"]), NOW)
    assert bad == [] and table.num_rows == 1
    assert table.column(lake.KAFKA_KEY).to_pylist() == ["\ufffd\ufffd"]


def test_empty_batch_gives_empty_table_with_schema() -> None:
    contract = contract_for(topics.EXTERNAL_DATA)
    table, bad = to_bronze_table(contract, "t", ValidRows(), NOW)
    assert table.num_rows == 0 and bad == [] and table.schema == bronze_schema(contract)
    assert isinstance(table, pa.Table)
