"""Hand-built, contract-valid events for tests (the simulators are tested separately).

Each builder returns a plain dict; ``to_json`` gives the bytes a producer would send.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

BASE_TIME = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


def iso(ts: datetime) -> str:
    return ts.isoformat()


def to_json(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)


def app_event(n: int = 0, **overrides: Any) -> dict[str, Any]:
    """A mobile product_view by default; ``n`` makes ids and times distinct."""
    event = {
        "event_id": str(uuid.UUID(int=n + 1, version=4)),
        "event_type": "product_view",
        "event_time": iso(BASE_TIME + timedelta(seconds=n)),
        "user_id": f"user_{n % 50}",
        "session_id": f"s_{n // 10}",
        "source": "mobile_app",
        "platform": "ios",
        "device": {"os": "ios", "os_version": "17.4", "model": "iPhone 15", "app_version": "5.2.1"},
        "geo": {"country": "US", "city": "Austin", "lat": 30.27, "lon": -97.74},
        "properties": {"product_id": f"p_{n % 20}", "category": "shoes", "price": 59.9},
    }
    for key, value in overrides.items():
        event[key] = value
    return event


def web_purchase(n: int = 0, **overrides: Any) -> dict[str, Any]:
    event = app_event(
        n,
        event_type="purchase",
        source="web",
        platform="web",
        device={"os": "macos", "os_version": "14.5", "model": "MacBook", "browser": "safari"},
        properties={"order_id": f"o_{n}", "revenue": 120.5, "currency": "USD"},
    )
    event.update(overrides)
    return event


def click_event(n: int = 0, **overrides: Any) -> dict[str, Any]:
    event = {
        "event_id": str(uuid.UUID(int=10_000_000 + n, version=4)),
        "event_time": iso(BASE_TIME + timedelta(seconds=n)),
        "user_id": f"user_{n % 50}",
        "session_id": f"w_{n // 10}",
        "action": "page_view",
        "page_url": f"/product/{n % 20}",
        "page_type": "product",
        "referrer_url": "/",
        "sequence_number": n % 10,
        "time_on_page_ms": 5000,
        "viewport": {"width": 1440, "height": 900},
    }
    event.update(overrides)
    return event


def user_row(user_id: int, ts: datetime, **overrides: Any) -> dict[str, Any]:
    row = {
        "id": user_id,
        "email": f"user{user_id}@example.com",
        "full_name": f"User {user_id}",
        "country": "DE",
        "tier": "free",
        "created_at": iso(ts),
        "updated_at": iso(ts),
    }
    row.update(overrides)
    return row


def order_row(order_id: int, user_id: int, ts: datetime, status: str = "pending", **overrides: Any) -> dict[str, Any]:
    row = {
        "id": order_id,
        "user_id": user_id,
        "status": status,
        "total_amount": 42.0,
        "currency": "EUR",
        "item_count": 2,
        "created_at": iso(ts),
        "updated_at": iso(ts),
    }
    row.update(overrides)
    return row


def cdc_change(
    table: str, op: str, lsn: int, before: dict | None = None, after: dict | None = None, tx_id: int | None = None
) -> dict[str, Any]:
    ts_ms = int((BASE_TIME + timedelta(milliseconds=lsn)).timestamp() * 1000)
    return {
        "before": before,
        "after": after,
        "source": {
            "version": "2.7.0.Final",
            "connector": "postgresql",
            "name": "shop",
            "db": "shop",
            "schema": "public",
            "table": table,
            "lsn": lsn,
            "txId": tx_id if tx_id is not None else lsn,
            "ts_ms": ts_ms,
            "snapshot": "true" if op == "r" else "false",
        },
        "op": op,
        "ts_ms": ts_ms + 5,
    }


def weather(n: int = 0, **overrides: Any) -> dict[str, Any]:
    record = {
        "event_id": str(uuid.UUID(int=20_000_000 + n, version=4)),
        "event_time": iso(BASE_TIME + timedelta(minutes=n)),
        "provider": "openweather",
        "batch_id": "b1",
        "batch_seq": 0,
        "batch_size": 1,
        "kind": "weather",
        "city": "Austin",
        "country": "US",
        "lat": 30.27,
        "lon": -97.74,
        "temperature_c": 21.5,
        "humidity_pct": 40.0,
        "wind_speed_kmh": 12.0,
        "precipitation_mm": 0.0,
        "condition": "clear",
    }
    record.update(overrides)
    return record


def market(n: int = 0, **overrides: Any) -> dict[str, Any]:
    record = {
        "event_id": str(uuid.UUID(int=30_000_000 + n, version=4)),
        "event_time": iso(BASE_TIME + timedelta(minutes=n)),
        "provider": "exchange-feed",
        "batch_id": "m1",
        "batch_seq": 0,
        "batch_size": 1,
        "kind": "market",
        "symbol": "IDX.US",
        "exchange": "NYSE",
        "currency": "USD",
        "price": 100.0,
        "low": 99.0,
        "high": 101.0,
        "volume": 1000,
        "change_pct": 0.5,
    }
    record.update(overrides)
    return record
