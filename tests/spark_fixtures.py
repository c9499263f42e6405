"""Spark test fixtures: one shared local session and bronze tables built exactly as ingestion builds them.

Messages are contract-valid JSON (checked with the contract's own validator), turned into the
bronze Arrow table by ``dataplat_ingestion.arrow_convert.to_bronze_table`` and appended with
``deltalake.write_deltalake(..., partition_by=["event_date"])``, like the real ingestion.

The fixtures are registered for ``tests/spark/`` by ``tests/spark/conftest.py``; the builders are
plain functions any test can import.
"""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from deltalake import write_deltalake

from dataplat_ingestion.arrow_convert import ValidRows, to_bronze_table
from dataplat_resources import lake, topics
from dataplat_resources.contracts import contract_for
from dataplat_resources.lake import LakeLayout
from dataplat_resources.settings import PROJECT_ROOT, PlatformSettings

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
DAY0 = T0.date()


def ts(minutes: float = 0.0, base: datetime = T0) -> datetime:
    """``T0 + minutes``: tests speak in minutes from a fixed origin."""
    return base + timedelta(minutes=minutes)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- message builders (every builder returns a contract-valid dict) --------------------------------


def app_event(
    when: datetime,
    *,
    user: str = "u1",
    event_type: str = "page_view",
    platform: str = "web",
    country: str = "US",
    city: str = "Austin",
    revenue: float | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    web = platform == "web"
    device: dict[str, Any] = {"os": "windows" if web else platform, "os_version": "11", "model": "Desktop"}
    if web:
        device["browser"] = "chrome"
    else:
        device["app_version"] = "6.0.0"
    props: dict[str, Any] = {}
    if event_type == "page_view":
        props["page"] = "/home"
    elif event_type == "screen_view":
        props["screen"] = "home"
    elif event_type in ("product_view", "add_to_cart", "remove_from_cart"):
        props.update(product_id="p1", price=10.0)
        if event_type != "product_view":
            props["quantity"] = 1
    elif event_type == "purchase":
        props.update(order_id=f"o-{uuid.uuid4().hex[:8]}", revenue=revenue or 10.0, currency="USD")
    elif event_type == "search":
        props["search_query"] = "shoes"
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "event_time": iso(when),
        "user_id": user,
        "session_id": f"s-{user}",
        "source": "web" if web else "mobile_app",
        "platform": platform,
        "device": device,
        "geo": {"country": country, "city": city, "lat": 30.2, "lon": -97.7},
        "properties": props,
    }


def click(
    when: datetime,
    *,
    user: str = "u1",
    page_type: str = "home",
    action: str = "page_view",
    url: str | None = None,
    seq: int = 0,
) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_time": iso(when),
        "user_id": user,
        "session_id": f"s-{user}",
        "action": action,
        "page_url": url or f"/{page_type}",
        "page_type": page_type,
        "sequence_number": seq,
        "viewport": {"width": 1920, "height": 1080},
    }
    if action in ("click", "form_submit"):
        msg["element_id"] = "btn"
    if action == "scroll":
        msg["scroll_depth_pct"] = 50
    return msg


def _source(table: str, lsn: int, when: datetime, snapshot: str = "false") -> dict[str, Any]:
    return {
        "version": "2.7.0",
        "connector": "postgresql",
        "name": "shop",
        "db": "shop",
        "schema": "public",
        "table": table,
        "lsn": lsn,
        "txId": lsn,
        "ts_ms": int(when.timestamp() * 1000),
        "snapshot": snapshot,
    }


def user_row(uid: int, tier: str = "free", email: str | None = None, when: datetime = T0) -> dict[str, Any]:
    return {
        "id": uid,
        "email": email or f"user{uid}@example.com",
        "full_name": f"User {uid}",
        "country": "US",
        "tier": tier,
        "created_at": iso(T0),
        "updated_at": iso(when),
    }


def order_row(oid: int, status: str = "pending", amount: float = 20.0, when: datetime = T0) -> dict[str, Any]:
    return {
        "id": oid,
        "user_id": 1,
        "status": status,
        "total_amount": amount,
        "currency": "USD",
        "item_count": 1,
        "created_at": iso(T0),
        "updated_at": iso(when),
    }


def change(
    table: str,
    op: str,
    lsn: int,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    when = when or ts(lsn / 1000)
    return {
        "source": _source(table, lsn, when, "true" if op == "r" else "false"),
        "op": op,
        "ts_ms": int(when.timestamp() * 1000) + 5,
        "before": before,
        "after": after,
    }


def weather(when: datetime, city: str = "Austin", country: str = "US", temp: float = 20.0) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_time": iso(when),
        "provider": "openweather",
        "batch_id": "b1",
        "batch_seq": 0,
        "batch_size": 1,
        "kind": "weather",
        "city": city,
        "country": country,
        "lat": 30.2,
        "lon": -97.7,
        "temperature_c": temp,
        "humidity_pct": 50.0,
        "wind_speed_kmh": 10.0,
        "precipitation_mm": 0.0,
        "condition": "clear",
    }


def market(when: datetime, symbol: str = "AMZN", price: float = 200.0) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_time": iso(when),
        "provider": "exchange",
        "batch_id": "b1",
        "batch_seq": 0,
        "batch_size": 1,
        "kind": "market",
        "symbol": symbol,
        "exchange": "NASDAQ",
        "currency": "USD",
        "price": price,
        "low": price,
        "high": price,
        "volume": 100,
        "change_pct": 0.5,
    }


# --- bronze writer ---------------------------------------------------------------------------------


@dataclass
class Bronze:
    """Appends contract-valid messages to a lake's bronze tables the way ingestion does."""

    layout: LakeLayout
    _offsets: dict[str, itertools.count] = field(default_factory=dict)

    def append(self, topic: str, messages: list[dict[str, Any]], ingested_at: datetime | None = None) -> int:
        contract = contract_for(topic)
        values = [json.dumps(m).encode() for m in messages]
        for value in values:
            contract.validate_json(value)  # refuse to build a test on an invalid message
        counter = self._offsets.setdefault(topic, itertools.count())
        offsets = [next(counter) for _ in values]
        rows = ValidRows(
            values=values,
            partitions=[0] * len(values),
            offsets=offsets,
            timestamps_ms=[int(datetime.now(UTC).timestamp() * 1000)] * len(values),
            keys=[None] * len(values),
        )
        table, bad = to_bronze_table(contract, topic, rows, ingested_at or datetime.now(UTC))
        assert not bad, bad
        write_deltalake(self.layout.bronze(topic), table, mode="append", partition_by=lake.BRONZE_PARTITION_COLUMNS)
        return table.num_rows

    def app_events(self, messages: list[dict[str, Any]]) -> int:
        return self.append(topics.APP_EVENTS, messages)

    def clicks(self, messages: list[dict[str, Any]]) -> int:
        return self.append(topics.CLICKSTREAM, messages)

    def cdc(self, messages: list[dict[str, Any]]) -> int:
        return self.append(topics.CDC_CHANGES, messages)

    def external(self, messages: list[dict[str, Any]]) -> int:
        return self.append(topics.EXTERNAL_DATA, messages)


# --- pytest fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local[2] session for every Spark test: UI off, 2 shuffle partitions."""
    from dataplat_resources.spark import SparkTuning, build_spark_session

    home = tmp_path_factory.mktemp("spark_home")
    settings = PlatformSettings(
        DATAPLAT_HOME=home,
        DATAPLAT_JARS_DIR=Path(os.environ.get("DATAPLAT_JARS_DIR", PROJECT_ROOT / ".jars")),
        SPARK_MASTER="local[2]",
        SPARK_REMOTE=None,
    )
    tuning = SparkTuning(SPARK_SHUFFLE_PARTITIONS=2, SPARK_DRIVER_MEMORY="1g", SPARK_LOG_LEVEL="ERROR")
    session = build_spark_session(settings, "dataplat-tests", ui_enabled=False, tuning=tuning)
    yield session
    session.stop()


@pytest.fixture
def layout(tmp_path: Path) -> LakeLayout:
    return LakeLayout(str(tmp_path / "lake"))


def uncommit_last_batch(checkpoint: str) -> int:
    """Forget that the last micro-batch was committed, as if the process died right after its writes:
    the next run replays that batch (same id, same offsets). Returns the batch id."""
    commits = Path(checkpoint) / "commits"
    last = max(int(p.name) for p in commits.iterdir() if p.name.isdigit())
    (commits / str(last)).unlink()
    crc = commits / f".{last}.crc"
    if crc.exists():
        crc.unlink()
    return last


@pytest.fixture
def bronze(layout: LakeLayout) -> Bronze:
    return Bronze(layout)


__all__ = [
    "DAY0",
    "T0",
    "Bronze",
    "app_event",
    "bronze",
    "change",
    "click",
    "date",
    "iso",
    "layout",
    "market",
    "order_row",
    "spark",
    "ts",
    "uncommit_last_batch",
    "user_row",
    "weather",
]
