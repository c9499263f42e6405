"""Every contract rule, with a valid and an invalid case, checked through the public path the
ingestion tier uses: ``contract_for(topic).validate_json(bytes)`` and ``field_issues``.

Pure and fast: no servers. Valid baselines come from ``tests/factories.py``; each case applies a
few changes (dotted paths) to a baseline and states the expected issue path and reason. Rules
enforced by model validators (cross-field rules, CDC transitions) are reported at the root of
the message (path ``""``) with a reason naming the fields, so those cases check the reason.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from pydantic import BaseModel, ValidationError

from dataplat_resources import topics
from dataplat_resources.contracts import CONTRACTS, EventType, contract_for, describe, field_issues
from dataplat_resources.contracts.app_events import Device, EventProperties, Geo
from dataplat_resources.contracts.cdc import CdcSource, OrderRow, OrderStatus, UserRow
from dataplat_resources.contracts.clickstream import ClickAction, ClickEvent, PageType, Viewport
from dataplat_resources.contracts.external import (
    LocationRecord,
    MarketRecord,
    SocialTrendRecord,
    WeatherRecord,
)
from dataplat_resources.contracts.registry import TopicContract
from tests import factories as f

# -- baselines ------------------------------------------------------------------------------------


def location(n: int = 0, **overrides: Any) -> dict[str, Any]:
    """factories.py has no maps/location record yet; this is the same shape as its builders."""
    record = {
        "event_id": f"00000000-0000-4000-8000-{40_000_000 + n:012d}",
        "event_time": f.iso(f.BASE_TIME + timedelta(minutes=n)),
        "provider": "maps",
        "batch_id": "l1",
        "batch_seq": 0,
        "batch_size": 1,
        "kind": "location",
        "place_id": f"pl_{n}",
        "name": "Main St Store",
        "category": "store",
        "city": "Austin",
        "country": "US",
        "lat": 30.27,
        "lon": -97.74,
        "traffic_index": 3.5,
    }
    record.update(overrides)
    return record


def social_trend(n: int = 0, **overrides: Any) -> dict[str, Any]:
    record = {
        "event_id": f"00000000-0000-4000-8000-{50_000_000 + n:012d}",
        "event_time": f.iso(f.BASE_TIME + timedelta(minutes=n)),
        "provider": "trends",
        "batch_id": "s1",
        "batch_seq": 0,
        "batch_size": 1,
        "kind": "social_trend",
        "platform": "tiktok",
        "topic": "running shoes",
        "country": "US",
        "mentions": 1200,
        "sentiment": 0.4,
    }
    record.update(overrides)
    return record


T0 = f.BASE_TIME
T1 = f.BASE_TIME + timedelta(minutes=5)


def _user_update() -> dict[str, Any]:
    return f.cdc_change(
        "users", "u", 20, before=f.user_row(7, T0), after=f.user_row(7, T1, tier="plus", updated_at=f.iso(T1))
    )


def _order_update(old: str = "pending", new: str = "paid") -> dict[str, Any]:
    return f.cdc_change(
        "orders", "u", 30, before=f.order_row(9, 7, T0, old), after=f.order_row(9, 7, T1, new, updated_at=f.iso(T1))
    )


# Each baseline is valid (test_baselines_are_valid) and names its topic.
BASES: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "app": (topics.APP_EVENTS, f.app_event),  # mobile (ios) product_view
    "web": (topics.APP_EVENTS, f.web_purchase),  # web purchase
    "click": (topics.CLICKSTREAM, f.click_event),  # page_view
    "user_c": (topics.CDC_CHANGES, lambda: f.cdc_change("users", "c", 10, after=f.user_row(7, T0))),
    "user_u": (topics.CDC_CHANGES, _user_update),
    "user_d": (topics.CDC_CHANGES, lambda: f.cdc_change("users", "d", 40, before=f.user_row(7, T0))),
    "order_c": (topics.CDC_CHANGES, lambda: f.cdc_change("orders", "c", 11, after=f.order_row(9, 7, T0))),
    "order_u": (topics.CDC_CHANGES, _order_update),
    "weather": (topics.EXTERNAL_DATA, f.weather),
    "location": (topics.EXTERNAL_DATA, location),
    "social": (topics.EXTERNAL_DATA, social_trend),
    "market": (topics.EXTERNAL_DATA, f.market),
}

DELETE = object()  # a change that removes the key


def apply(record: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``record`` with dotted-path changes applied (``DELETE`` removes the key)."""
    out = copy.deepcopy(record)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = out
        for part in parents:
            if node.get(part) is None:  # absent or null (a CDC image): start an object
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise TypeError(f"{path}: {part} is not an object in the baseline")
        if value is DELETE:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return out


def issues_of(topic: str, raw: bytes | dict[str, Any]) -> list[tuple[str, str, str]]:
    """(path, reason, error type) for every issue; empty when the message is valid."""
    data = raw if isinstance(raw, bytes) else orjson.dumps(raw)
    try:
        contract_for(topic).validate_json(data)
    except ValidationError as exc:
        return [(i.path, i.reason, i.error_type) for i in field_issues(exc)]
    return []


@dataclass(frozen=True)
class Case:
    base: str
    changes: dict[str, Any] = field(default_factory=dict)
    path: str | None = None  # None: valid
    reason: str = ""  # a fragment of the reason

    @property
    def topic(self) -> str:
        return BASES[self.base][0]

    def record(self) -> dict[str, Any]:
        return apply(BASES[self.base][1](), self.changes)

    def id(self) -> str:
        shown = ",".join(f"{k}=<del>" if v is DELETE else f"{k}={_short(v)}" for k, v in self.changes.items())
        return f"{self.base}[{shown}]"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:10]}..({len(text)})"


def ok(base: str, **changes: Any) -> Case:
    return Case(base, _paths(changes))


def bad(base: str, path: str, reason: str, **changes: Any) -> Case:
    return Case(base, _paths(changes), path, reason)


def _paths(changes: dict[str, Any]) -> dict[str, Any]:
    # Python keywords cannot hold dots: ``geo__lat=1`` means ``geo.lat``.
    return {k.replace("__", "."): v for k, v in changes.items()}


def check(case: Case) -> None:
    found = issues_of(case.topic, case.record())
    if case.path is None:
        assert found == [], f"expected valid, got {found}"
        return
    assert found, f"expected {case.path!r}: {case.reason!r}, but the message was accepted"
    assert len(found) == 1, f"expected exactly one issue, got {found}"
    path, reason, _ = found[0]
    assert path == case.path, f"expected the issue at {case.path!r}, got {found}"
    assert case.reason in reason, f"expected {case.reason!r} in the reason, got {reason!r}"


def cases(*groups: list[Case]) -> list[Any]:
    return [pytest.param(c, id=c.id()) for group in groups for c in group]


@pytest.mark.parametrize("base", sorted(BASES))
def test_baselines_are_valid(base: str) -> None:
    topic, build = BASES[base]
    assert issues_of(topic, build()) == []


# -- registry and error formatting -----------------------------------------------------------------


def test_every_source_topic_has_exactly_one_contract() -> None:
    assert set(CONTRACTS) == set(topics.SOURCE_TOPICS)
    for topic, contract in CONTRACTS.items():
        assert contract_for(topic) is contract
        assert contract.dlq_topic == topics.dlq_topic(topic)
        assert contract.name == topics.short_name(topic)


def test_contract_for_an_unknown_topic_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="topic_app_events"):
        contract_for("topic_nope")
    with pytest.raises(KeyError):
        contract_for(topics.dlq_topic(topics.APP_EVENTS))  # dead letters are not validated


@pytest.mark.parametrize("topic", sorted(CONTRACTS))
def test_validate_json_accepts_bytes_and_str(topic: str) -> None:
    base = next(name for name, (t, _) in BASES.items() if t == topic)
    raw = orjson.dumps(BASES[base][1]())
    contract: TopicContract = contract_for(topic)
    assert contract.validate_json(raw) == contract.validate_json(raw.decode())


@pytest.mark.parametrize(
    ("topic", "record", "path"),
    [
        pytest.param(topics.CDC_CHANGES, apply(BASES["user_c"][1](), {"after.email": "x"}), "after.email", id="cdc"),
        pytest.param(topics.EXTERNAL_DATA, f.weather(humidity_pct=-1.0), "humidity_pct", id="external"),
    ],
)
def test_field_issues_drop_union_tags(topic: str, record: dict[str, Any], path: str) -> None:
    """Paths say where in the message, not which union branch pydantic tried ('users', 'weather')."""
    assert [p for p, _, _ in issues_of(topic, record)] == [path]


def _error(topic: str, record: dict[str, Any] | bytes) -> ValidationError:
    data = record if isinstance(record, bytes) else orjson.dumps(record)
    with pytest.raises(ValidationError) as info:
        contract_for(topic).validate_json(data)
    return info.value


def test_describe_is_one_line_of_path_and_reason() -> None:
    error = _error(topics.APP_EVENTS, apply(f.app_event(), {"user_id": "", "geo.lat": 91.0}))
    assert describe(error) == (
        "user_id: String should have at least 1 character; geo.lat: Input should be less than or equal to 90"
    )
    root = _error(topics.APP_EVENTS, f.app_event(platform="web"))
    assert describe(root) == "source 'mobile_app' does not match platform 'web'"  # no "path: " at the root
    assert str(field_issues(root)[0]) == describe(root)


def test_describe_caps_the_number_of_issues() -> None:
    record = {f"unknown_{i}": i for i in range(5)}  # 9 missing fields + 5 unknown ones
    error = _error(topics.APP_EVENTS, record)
    assert len(field_issues(error)) == 14
    text = describe(error)
    assert text.endswith("; and 4 more")
    assert text.count("; ") == 10  # ten issues, then the count of the rest


def test_not_json_is_an_issue_at_the_root() -> None:
    for raw in (b"", b"{", b"\xff\xfe", b"[]", b"null", b"42"):
        found = issues_of(topics.APP_EVENTS, raw)
        assert found and found[0][0] == ""


# -- required fields (the lists are the spec; the model must agree) -------------------------------

REQUIRED: dict[str, tuple[type[BaseModel], str, str, tuple[str, ...]]] = {
    # model: (model, baseline, path prefix, required fields)
    "AppEvent": (
        contract_for(topics.APP_EVENTS).models[0],
        "app",
        "",
        ("event_id", "event_type", "event_time", "user_id", "session_id", "source", "platform", "device", "geo"),
    ),
    "Device": (Device, "app", "device.", ("os", "os_version", "model")),
    "Geo": (Geo, "app", "geo.", ("country", "city", "lat", "lon")),
    "ClickEvent": (
        ClickEvent,
        "click",
        "",
        (
            "event_id", "event_time", "user_id", "session_id", "action", "page_url", "page_type",
            "sequence_number", "viewport",
        ),
    ),
    "Viewport": (Viewport, "click", "viewport.", ("width", "height")),
    "CdcSource": (
        CdcSource,
        "user_c",
        "source.",
        ("version", "connector", "name", "db", "schema", "table", "lsn", "txId", "ts_ms"),
    ),
    "UserRow": (
        UserRow,
        "user_c",
        "after.",
        ("id", "email", "full_name", "country", "tier", "created_at", "updated_at"),
    ),
    "OrderRow": (
        OrderRow,
        "order_c",
        "after.",
        ("id", "user_id", "status", "total_amount", "currency", "item_count", "created_at", "updated_at"),
    ),
    "WeatherRecord": (
        WeatherRecord,
        "weather",
        "",
        (
            "event_id", "event_time", "provider", "batch_id", "batch_seq", "batch_size", "kind", "city", "country",
            "lat", "lon", "temperature_c", "humidity_pct", "wind_speed_kmh", "precipitation_mm", "condition",
        ),
    ),
    "LocationRecord": (
        LocationRecord,
        "location",
        "",
        (
            "event_id", "event_time", "provider", "batch_id", "batch_seq", "batch_size", "kind", "place_id", "name",
            "category", "city", "country", "lat", "lon", "traffic_index",
        ),
    ),
    "SocialTrendRecord": (
        SocialTrendRecord,
        "social",
        "",
        (
            "event_id", "event_time", "provider", "batch_id", "batch_seq", "batch_size", "kind", "platform", "topic",
            "country", "mentions", "sentiment",
        ),
    ),
    "MarketRecord": (
        MarketRecord,
        "market",
        "",
        (
            "event_id", "event_time", "provider", "batch_id", "batch_seq", "batch_size", "kind", "symbol", "exchange",
            "currency", "price", "low", "high", "volume", "change_pct",
        ),
    ),
}  # fmt: skip

# Removing these is refused by the union's discriminator, at the root (test_union_discriminators).
DISCRIMINATORS = {("CdcSource", "table")} | {
    (name, "kind") for name in ("WeatherRecord", "LocationRecord", "SocialTrendRecord", "MarketRecord")
}


@pytest.mark.parametrize("model_name", sorted(REQUIRED))
def test_required_fields_are_the_documented_ones(model_name: str) -> None:
    model, _, _, required = REQUIRED[model_name]
    declared = {info.alias or name for name, info in model.model_fields.items() if info.is_required()}
    assert declared == set(required)


REQUIRED_CASES = [
    Case(base, {prefix + name: DELETE}, prefix + name, "Field required")
    for model_name, (_, base, prefix, required) in REQUIRED.items()
    for name in required
    if (model_name, name) not in DISCRIMINATORS
]


@pytest.mark.parametrize("case", cases(REQUIRED_CASES))
def test_missing_required_field_is_refused_at_its_path(case: Case) -> None:
    check(case)


@pytest.mark.parametrize(
    ("base", "changes", "reason"),
    [
        pytest.param("user_c", {"source.table": DELETE}, "source.table must be 'users' or 'orders'", id="cdc-no-table"),
        pytest.param("user_c", {"source": DELETE}, "source.table must be 'users' or 'orders'", id="cdc-no-source"),
        pytest.param("user_c", {"source": "shop"}, "source.table must be 'users' or 'orders'", id="cdc-source-string"),
        pytest.param(
            "user_c", {"source.table": "products"}, "source.table must be 'users' or 'orders'", id="cdc-table"
        ),
        pytest.param("weather", {"kind": DELETE}, "Unable to extract tag using discriminator 'kind'", id="no-kind"),
        pytest.param("weather", {"kind": "satellite"}, "does not match any of the expected tags", id="unknown-kind"),
        pytest.param("weather", {"kind": 1}, "does not match any of the expected tags", id="kind-not-a-string"),
    ],
)
def test_union_discriminators(base: str, changes: dict[str, Any], reason: str) -> None:
    check(Case(base, changes, "", reason))


OPTIONAL_CASES = [
    ok("app", properties=DELETE, event_type="login"),  # properties default to {}
    ok("app", properties={}, event_type="app_open"),
    ok("app", device__browser=DELETE),
    ok("web", device__app_version=DELETE),
    ok("click", referrer_url=DELETE, time_on_page_ms=DELETE, ip_country=DELETE, element_id=DELETE),
    ok("click", referrer_url=None, time_on_page_ms=None, ip_country=None),
    ok("user_c", source__snapshot=DELETE),  # defaults to "false"
    ok("user_c", before=DELETE),
    ok("user_d", after=DELETE),
]


@pytest.mark.parametrize("case", cases(OPTIONAL_CASES))
def test_optional_fields_may_be_absent_or_null(case: Case) -> None:
    check(case)


# -- types and strictness ------------------------------------------------------------------------

STRICT_CASES = [
    # numbers as strings are refused: no "12" for 12
    bad("app", "geo.lat", "valid number", geo__lat="30.27"),
    bad("app", "properties.price", "valid number", properties__price="59.9"),
    bad("app", "properties.quantity", "valid integer", properties__quantity="2"),
    bad("click", "sequence_number", "valid integer", sequence_number="3"),
    bad("click", "viewport.width", "valid integer", viewport__width="1440"),
    bad("user_c", "source.lsn", "valid integer", source__lsn="10"),
    bad("user_c", "ts_ms", "valid integer", ts_ms="1795176000005"),
    bad("weather", "humidity_pct", "valid number", humidity_pct="40"),
    bad("market", "volume", "valid integer", volume="1000"),
    # fractional numbers and booleans are not integers, booleans are not numbers
    bad("app", "properties.quantity", "valid integer", properties__quantity=2.0),
    bad("app", "properties.quantity", "valid integer", properties__quantity=True),
    bad("app", "properties.price", "valid number", properties__price=True),
    bad("click", "sequence_number", "valid integer", sequence_number=3.5),
    bad("order_c", "after.item_count", "valid integer", after__item_count=2.0),
    bad("social", "mentions", "valid integer", mentions=False),
    # numbers, booleans and null are not strings
    bad("app", "user_id", "valid string", user_id=12),
    bad("app", "session_id", "valid string", session_id=True),
    bad("app", "user_id", "valid string", user_id=None),
    bad("app", "geo.city", "valid string", geo__city=1),
    bad("click", "page_url", "valid string", page_url=5),
    bad("user_c", "after.full_name", "valid string", after__full_name=["User"]),
    bad("market", "symbol", "valid string", symbol=1),
    # ids, timestamps and nested objects have their own types
    bad("app", "event_id", "UUID input should be a string", event_id=5),
    bad("app", "event_id", "valid UUID", event_id="not-a-uuid"),
    bad("app", "event_time", "valid datetime", event_time=1_795_176_000),
    bad("app", "event_time", "valid datetime", event_time=None),
    bad("app", "device", "Input should be an object", device="iPhone"),
    bad("app", "geo", "Input should be an object", geo=[30.27, -97.74]),
    bad("app", "properties", "Input should be an object", properties=None),
    bad("click", "viewport", "Input should be an object", viewport="1440x900"),
    bad("user_c", "source.lsn", "valid integer", source__lsn={"x": 1}),
    bad("user_c", "after", "Input should be an object", after="{}"),
    # integers are accepted where a number is expected (JSON has one number type)
    ok("app", geo__lat=30, geo__lon=-97),
    ok("weather", temperature_c=21, humidity_pct=40, precipitation_mm=0),
    ok("market", price=100, low=99, high=101),
]

UNKNOWN_FIELD_CASES = [
    bad("app", "extra", "Extra inputs are not permitted", extra=1),
    bad("app", "device.screen", "Extra inputs are not permitted", device__screen="6.1in"),
    bad("app", "geo.zip", "Extra inputs are not permitted", geo__zip="78701"),
    bad("app", "properties.color", "Extra inputs are not permitted", properties__color="red"),
    bad("click", "viewport.dpr", "Extra inputs are not permitted", viewport__dpr=2),
    bad("click", "EventTime", "Extra inputs are not permitted", EventTime="2026-11-20T12:00:00Z"),
    bad("user_c", "source.sequence", "Extra inputs are not permitted", source__sequence="[1,2]"),
    bad("user_c", "after.phone", "Extra inputs are not permitted", after__phone="+1"),
    bad("user_c", "transaction", "Extra inputs are not permitted", transaction=None),
    bad("order_u", "before.notes", "Extra inputs are not permitted", before__notes="x"),
    bad("weather", "uv_index", "Extra inputs are not permitted", uv_index=3),
    bad("market", "bid", "Extra inputs are not permitted", bid=99.5),
]


@pytest.mark.parametrize("case", cases(STRICT_CASES, UNKNOWN_FIELD_CASES))
def test_strict_types_and_no_unknown_fields(case: Case) -> None:
    check(case)


# -- lengths, patterns and numeric ranges (boundaries accepted, one step beyond refused) -----------

LENGTH_CASES = [
    ok("app", user_id="u"),
    ok("app", user_id="u" * 255),
    bad("app", "user_id", "at least 1 character", user_id=""),
    bad("app", "user_id", "at most 255 characters", user_id="u" * 256),
    ok("app", session_id="s" * 128),
    bad("app", "session_id", "at least 1 character", session_id=""),
    bad("app", "session_id", "at most 128 characters", session_id="s" * 129),
    ok("app", device__os_version="1" * 32),
    bad("app", "device.os_version", "at most 32 characters", device__os_version="1" * 33),
    bad("app", "device.model", "at least 1 character", device__model=""),
    bad("app", "device.model", "at most 64 characters", device__model="m" * 65),
    ok("app", geo__city="c" * 85),
    bad("app", "geo.city", "at most 85 characters", geo__city="c" * 86),
    bad("app", "geo.city", "at least 1 character", geo__city=""),
    ok("app", properties__product_id="p" * 64, properties__category="c" * 64),
    bad("app", "properties.product_id", "at most 64 characters", properties__product_id="p" * 65),
    bad("app", "properties.category", "at least 1 character", properties__category=""),
    ok("app", event_type="search", properties={"search_query": "q" * 512}),
    bad("app", "properties.search_query", "at most 512", event_type="search", properties={"search_query": "q" * 513}),
    ok("app", event_type="screen_view", properties={"screen": "s" * 255}),
    bad("app", "properties.screen", "at most 255", event_type="screen_view", properties={"screen": "s" * 256}),
    bad("web", "properties.page", "at most 2048", event_type="page_view", properties={"page": "/" * 2049}),
    bad("web", "properties.order_id", "at most 64", properties__order_id="o" * 65),
    bad("click", "element_id", "at least 1 character", action="click", element_id=""),
    bad("user_c", "after.full_name", "at most 255", after__full_name="n" * 256),
    bad("user_c", "source.version", "at most 32", source__version="v" * 33),
    bad("user_c", "source.db", "at most 63", source__db="d" * 64),
    bad("user_c", "source.schema", "at least 1 character", source__schema=""),
    bad("weather", "batch_id", "at most 64", batch_id="b" * 65),
    bad("weather", "provider", "at least 1 character", provider=""),
    bad("location", "name", "at most 255", name="n" * 256),
    bad("social", "topic", "at most 100", topic="t" * 101),
    ok("market", exchange="XX"),
    bad("market", "exchange", "at least 2", exchange="X"),
    bad("market", "exchange", "at most 16", exchange="X" * 17),
]

PATTERN_CASES = [
    bad("app", "geo.country", "should match pattern", geo__country="us"),
    bad("app", "geo.country", "should match pattern", geo__country="USA"),
    ok("app", device__app_version="10.0.12"),
    bad("app", "device.app_version", "should match pattern", device__app_version="5.2"),
    bad("app", "device.app_version", "should match pattern", device__app_version="v5.2.1"),
    bad("web", "properties.currency", "should match pattern", properties__currency="usd"),
    bad("web", "properties.currency", "should match pattern", properties__currency="US"),
    ok("click", page_url="/", referrer_url="https://example.com/a?b=c"),
    ok("click", page_url="http://shop.example.com/p/1"),
    bad("click", "page_url", "should match pattern", page_url="ftp://x/y"),
    bad("click", "page_url", "should match pattern", page_url="product/1"),
    bad("click", "page_url", "should match pattern", page_url="/a b"),
    bad("click", "page_url", "at least 1 character", page_url=""),
    bad("click", "referrer_url", "at most 2048", referrer_url="/" + "a" * 2048),
    bad("click", "ip_country", "should match pattern", ip_country="de"),
    ok("user_c", after__email="a@b.co"),
    bad("user_c", "after.email", "should match pattern", after__email="user.example.com"),
    bad("user_c", "after.email", "should match pattern", after__email="a b@example.com"),
    bad("user_c", "after.email", "should match pattern", after__email="a@example"),
    bad("user_c", "after.email", "at most 254", after__email="a" * 243 + "@example.com"),
    bad("order_c", "after.currency", "should match pattern", after__currency="EURO"),
    ok("market", symbol="A"),
    ok("market", symbol="BRK.B"),
    bad("market", "symbol", "should match pattern", symbol="idx"),
    bad("market", "symbol", "should match pattern", symbol="1ABC"),
    bad("market", "symbol", "should match pattern", symbol="A" * 13),
    bad("weather", "country", "should match pattern", country="U1"),
]

RANGE_CASES = [
    ok("app", geo__lat=90.0, geo__lon=180.0),
    ok("app", geo__lat=-90.0, geo__lon=-180.0),
    bad("app", "geo.lat", "less than or equal to 90", geo__lat=90.0001),
    bad("app", "geo.lat", "greater than or equal to -90", geo__lat=-90.5),
    bad("app", "geo.lon", "less than or equal to 180", geo__lon=180.5),
    bad("app", "geo.lon", "greater than or equal to -180", geo__lon=-181),
    ok("app", properties__price=0.0),
    ok("app", properties__price=1_000_000.0),
    bad("app", "properties.price", "greater than or equal to 0", properties__price=-0.01),
    bad("app", "properties.price", "less than or equal to 1000000", properties__price=1_000_000.5),
    ok("app", properties__quantity=1),
    ok("app", properties__quantity=1000),
    bad("app", "properties.quantity", "greater than or equal to 1", properties__quantity=0),
    bad("app", "properties.quantity", "less than or equal to 1000", properties__quantity=1001),
    ok("web", properties__revenue=0.01),
    bad("web", "properties.revenue", "greater than 0", properties__revenue=0.0),
    bad("web", "properties.revenue", "less than or equal to 10000000", properties__revenue=10_000_000.01),
    ok("app", properties__duration_ms=0),
    bad("app", "properties.duration_ms", "greater than or equal to 0", properties__duration_ms=-1),
    bad("app", "properties.duration_ms", "less than or equal to 86400000", properties__duration_ms=86_400_001),
    ok("click", viewport={"width": 120, "height": 10_000}),
    bad("click", "viewport.width", "greater than or equal to 120", viewport__width=119),
    bad("click", "viewport.height", "less than or equal to 10000", viewport__height=10_001),
    ok("click", sequence_number=0),
    ok("click", sequence_number=100_000),
    bad("click", "sequence_number", "greater than or equal to 0", sequence_number=-1),
    bad("click", "sequence_number", "less than or equal to 100000", sequence_number=100_001),
    bad("click", "time_on_page_ms", "greater than or equal to 0", time_on_page_ms=-5),
    bad("click", "time_on_page_ms", "less than or equal to 86400000", time_on_page_ms=86_400_001),
    ok("click", action="scroll", scroll_depth_pct=0),
    ok("click", action="scroll", scroll_depth_pct=100),
    bad("click", "scroll_depth_pct", "less than or equal to 100", action="scroll", scroll_depth_pct=101),
    bad("click", "scroll_depth_pct", "greater than or equal to 0", action="scroll", scroll_depth_pct=-1),
    ok("user_c", after__id=2**62),
    bad("user_c", "after.id", "greater than or equal to 1", after__id=0),
    bad("user_c", "after.id", "less than or equal to", after__id=2**62 + 1),
    bad("order_c", "after.user_id", "greater than or equal to 1", after__user_id=-7),
    ok("order_c", after__total_amount=0.0),
    bad("order_c", "after.total_amount", "greater than or equal to 0", after__total_amount=-1.0),
    bad("order_c", "after.total_amount", "less than or equal to 1000000", after__total_amount=1e6 + 1),
    bad("order_c", "after.item_count", "greater than or equal to 1", after__item_count=0),
    bad("order_c", "after.item_count", "less than or equal to 1000", after__item_count=1001),
    ok("user_c", source__lsn=0, source__txId=0),
    bad("user_c", "source.lsn", "greater than or equal to 0", source__lsn=-1),
    bad("user_c", "source.txId", "greater than or equal to 0", source__txId=-1),
    ok("weather", temperature_c=-90.0, condition="snow"),
    ok("weather", temperature_c=60.0),
    bad("weather", "temperature_c", "greater than or equal to -90", temperature_c=-90.1),
    bad("weather", "temperature_c", "less than or equal to 60", temperature_c=60.1),
    ok("weather", humidity_pct=0.0),
    ok("weather", humidity_pct=100.0),
    bad("weather", "humidity_pct", "greater than or equal to 0", humidity_pct=-0.1),
    bad("weather", "humidity_pct", "less than or equal to 100", humidity_pct=100.1),
    bad("weather", "wind_speed_kmh", "greater than or equal to 0", wind_speed_kmh=-1.0),
    bad("weather", "wind_speed_kmh", "less than or equal to 500", wind_speed_kmh=500.1),
    ok("weather", precipitation_mm=500.0, condition="rain"),
    bad("weather", "precipitation_mm", "greater than or equal to 0", precipitation_mm=-0.1),
    bad("weather", "precipitation_mm", "less than or equal to 500", precipitation_mm=501.0, condition="rain"),
    bad("weather", "lat", "less than or equal to 90", lat=91.0),
    bad("location", "lon", "greater than or equal to -180", lon=-180.1),
    ok("location", traffic_index=0.0),
    ok("location", traffic_index=10.0),
    bad("location", "traffic_index", "greater than or equal to 0", traffic_index=-0.1),
    bad("location", "traffic_index", "less than or equal to 10", traffic_index=10.1),
    ok("social", sentiment=-1.0, mentions=0),
    ok("social", sentiment=1.0, mentions=100_000_000),
    bad("social", "sentiment", "greater than or equal to -1", sentiment=-1.01),
    bad("social", "sentiment", "less than or equal to 1", sentiment=1.01),
    bad("social", "mentions", "greater than or equal to 0", mentions=-1),
    bad("social", "mentions", "less than or equal to 100000000", mentions=100_000_001),
    bad("market", "price", "greater than 0", price=0.0),
    bad("market", "low", "greater than 0", low=-1.0),
    bad("market", "high", "less than or equal to 10000000", high=10_000_000.5),
    ok("market", volume=0, change_pct=-100.0),
    ok("market", change_pct=1000.0),
    bad("market", "volume", "greater than or equal to 0", volume=-1),
    bad("market", "change_pct", "greater than or equal to -100", change_pct=-100.5),
    bad("market", "change_pct", "less than or equal to 1000", change_pct=1000.5),
    ok("weather", batch_seq=99_999, batch_size=100_000),
    bad("weather", "batch_seq", "greater than or equal to 0", batch_seq=-1),
    bad("weather", "batch_seq", "less than or equal to 100000", batch_seq=100_001, batch_size=100_000),
    bad("weather", "batch_size", "greater than or equal to 1", batch_size=0),
    bad("weather", "batch_size", "less than or equal to 100000", batch_size=100_001),
]


@pytest.mark.parametrize("case", cases(LENGTH_CASES, PATTERN_CASES, RANGE_CASES))
def test_lengths_patterns_and_ranges(case: Case) -> None:
    check(case)


# -- enums: every member accepted, anything else refused ------------------------------------------

ENUM_SPEC: dict[str, tuple[str, ...]] = {
    # The closed sets producers and consumers agree on. Adding a member is a contract change.
    "event_type": (
        "app_open", "app_background", "screen_view", "page_view", "search", "product_view", "add_to_cart",
        "remove_from_cart", "checkout_start", "purchase", "login", "logout", "signup",
    ),
    "click_action": ("page_view", "click", "scroll", "form_submit"),
    "page_type": ("home", "category", "product", "search", "cart", "checkout", "confirmation", "account", "help"),
    "op": ("c", "u", "d", "r"),
    "order_status": ("pending", "paid", "shipped", "delivered", "cancelled", "refunded"),
}  # fmt: skip


def test_closed_sets_match_the_spec() -> None:
    assert tuple(e.value for e in EventType) == ENUM_SPEC["event_type"]
    assert tuple(e.value for e in ClickAction) == ENUM_SPEC["click_action"]
    assert tuple(e.value for e in PageType) == ENUM_SPEC["page_type"]
    assert tuple(e.value for e in OrderStatus) == ENUM_SPEC["order_status"]


ENUM_CASES = [
    *(ok("web", device__os=os) for os in ("ios", "android", "windows", "macos", "linux", "chromeos")),
    *(ok("web", device__browser=b) for b in ("chrome", "safari", "firefox", "edge", "other")),
    *(ok("click", page_type=p) for p in ENUM_SPEC["page_type"]),
    ok("user_c", after__tier="premium"),
    *(ok("order_c", after__status=s) for s in ENUM_SPEC["order_status"]),
    *(ok("weather", condition=c) for c in ("clouds", "rain", "storm", "fog")),
    *(ok("location", category=c) for c in ("store", "warehouse", "pickup_point", "restaurant", "transit")),
    *(ok("social", platform=p) for p in ("x", "instagram", "tiktok", "reddit")),
    bad("app", "event_type", "Input should be 'app_open'", event_type="click"),
    bad("app", "event_type", "Input should be", event_type="Product_View"),
    bad("app", "event_type", "Input should be", event_type=""),
    bad("app", "event_type", "Input should be", event_type=3),
    bad("app", "source", "Input should be 'mobile_app' or 'web'", source="kiosk"),
    bad("app", "platform", "Input should be 'ios', 'android' or 'web'", platform="windows"),
    bad("app", "device.os", "Input should be", device__os="symbian"),
    bad("web", "device.browser", "Input should be", device__browser="opera"),
    bad("click", "action", "Input should be 'page_view', 'click', 'scroll' or 'form_submit'", action="hover"),
    bad("click", "page_type", "Input should be", page_type="blog"),
    bad("user_c", "op", "Input should be 'c', 'u', 'd' or 'r'", op="x"),
    bad("user_c", "op", "Input should be", op="create"),
    bad("user_c", "after.tier", "Input should be 'free', 'plus' or 'premium'", after__tier="gold"),
    bad("order_c", "after.status", "Input should be 'pending'", after__status="lost"),
    bad("user_c", "source.connector", "Input should be 'postgresql'", source__connector="mysql"),
    bad("user_c", "source.snapshot", "Input should be 'true', 'false'", source__snapshot="yes"),
    bad("user_c", "source.snapshot", "Input should be", source__snapshot=False),
    bad("weather", "condition", "Input should be 'clear'", condition="hail"),
    bad("location", "category", "Input should be", category="office"),
    bad("social", "platform", "Input should be 'x'", platform="myspace"),
]


@pytest.mark.parametrize("case", cases(ENUM_CASES))
def test_enums(case: Case) -> None:
    check(case)


# -- timestamps ----------------------------------------------------------------------------------

TIMESTAMPED = ("app", "click", "weather", "location", "social", "market")


def _now_plus(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


@pytest.mark.parametrize("base", TIMESTAMPED)
@pytest.mark.parametrize(
    "value",
    [
        "2026-11-20T12:00:00Z",
        "2026-11-20T12:00:00+00:00",
        "2026-11-20T17:30:00+05:30",
        "2026-11-20T04:00:00-08:00",
        "2026-11-20T12:00:00.123456Z",
        "2000-01-01T00:00:00Z",  # the earliest accepted instant
        "2000-01-01T00:30:00+00:30",
    ],
)
def test_event_time_with_a_timezone_is_accepted(base: str, value: str) -> None:
    check(ok(base, event_time=value))


@pytest.mark.parametrize("base", TIMESTAMPED)
@pytest.mark.parametrize("minutes", [0, 30, 59])
def test_event_time_up_to_an_hour_ahead_is_accepted(base: str, minutes: int) -> None:
    """Client clocks drift: a little in the future is skew, not an error."""
    check(ok(base, event_time=_now_plus(minutes)))


@pytest.mark.parametrize("base", TIMESTAMPED)
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2026-11-20T12:00:00", "timezone info"),  # naive: which 12:00?
        ("2026-11-20T12:00:00.5", "timezone info"),
        ("1999-12-31T23:59:59Z", "greater than or equal to 2000-01-01"),
        ("2000-01-01T00:30:00+01:00", "greater than or equal to 2000-01-01"),  # 1999-12-31T23:30Z
        ("1970-01-01T00:00:00Z", "greater than or equal to 2000-01-01"),  # epoch zero: a default, not a time
        ("2999-01-01T00:00:00Z", "in the future"),
        ("2026-13-01T00:00:00Z", "month value is outside"),
        ("2026-11-20", "valid datetime"),
        ("yesterday", "valid datetime"),
        ("", "valid datetime"),
    ],
)
def test_event_time_refusals(base: str, value: str, reason: str) -> None:
    check(bad(base, "event_time", reason, event_time=value))


@pytest.mark.parametrize("base", TIMESTAMPED)
def test_event_time_more_than_an_hour_ahead_is_refused(base: str) -> None:
    check(bad(base, "event_time", "more than 1:00:00 in the future", event_time=_now_plus(62)))


CDC_TIME_CASES = [
    ok("user_c", after__created_at="2026-11-20T13:00:00+01:00"),
    bad("user_c", "after.created_at", "timezone info", after__created_at="2026-11-20T12:00:00"),
    bad("order_c", "after.updated_at", "timezone info", after__updated_at="2026-11-20T12:00:00"),
    bad("user_c", "after.updated_at", "valid datetime", after__updated_at=1_795_176_000_000),
    ok("user_c", source__ts_ms=946_684_800_000, ts_ms=946_684_800_000),  # 2000-01-01, epoch millis
    bad("user_c", "source.ts_ms", "greater than or equal to 946684800000", source__ts_ms=946_684_799_999),
    bad("user_c", "ts_ms", "less than or equal to 4102444800000", ts_ms=4_102_444_800_001),
    bad("user_c", "ts_ms", "greater than or equal to", ts_ms=1_795_176_000),  # seconds, not millis
    bad("user_c", "", "source.ts_ms (commit time) is after ts_ms (capture time)", ts_ms=946_684_800_000),
]


@pytest.mark.parametrize("case", cases(CDC_TIME_CASES))
def test_cdc_timestamps(case: Case) -> None:
    check(case)


# -- cross-field rules ---------------------------------------------------------------------------

# The properties each event type needs (the spec; the simulators and the silver jobs rely on them).
PROPERTY_RULES: dict[str, tuple[str, ...]] = {
    "product_view": ("product_id", "price"),
    "add_to_cart": ("product_id", "price", "quantity"),
    "remove_from_cart": ("product_id", "price", "quantity"),
    "purchase": ("order_id", "revenue", "currency"),
    "search": ("search_query",),
    "screen_view": ("screen",),
    "page_view": ("page",),
}
PROPERTY_VALUES: dict[str, Any] = {
    "product_id": "p_1", "price": 19.99, "quantity": 2, "order_id": "o_1", "revenue": 39.98, "currency": "USD",
    "search_query": "trail shoes", "screen": "Home", "page": "/home",
}  # fmt: skip
MOBILE_ONLY = ("app_open", "app_background", "screen_view")
WEB_DEVICE = {"os": "windows", "os_version": "11", "model": "PC", "browser": "edge"}


def _app(event_type: str, channel: str, props: dict[str, Any]) -> Case:
    base = "app" if channel == "mobile" else "web"
    extra = {"device": WEB_DEVICE} if channel == "web" else {}
    return Case(base, {"event_type": event_type, "properties": props, **extra})


@pytest.mark.parametrize("channel", ["mobile", "web"])
@pytest.mark.parametrize("event_type", ENUM_SPEC["event_type"])
def test_every_event_type_with_its_required_properties(event_type: str, channel: str) -> None:
    props = {name: PROPERTY_VALUES[name] for name in PROPERTY_RULES.get(event_type, ())}
    case = _app(event_type, channel, props)
    if channel == "web" and event_type in MOBILE_ONLY:
        case = Case(case.base, case.changes, "", f"event_type {event_type!r} only exists in the mobile app")
    check(case)


@pytest.mark.parametrize(
    ("event_type", "missing"),
    [(event_type, name) for event_type, names in PROPERTY_RULES.items() for name in names],
)
def test_event_type_without_a_required_property_is_refused(event_type: str, missing: str) -> None:
    props = {name: PROPERTY_VALUES[name] for name in PROPERTY_RULES[event_type] if name != missing}
    check(Case("app", {"event_type": event_type, "properties": props}, "", f"properties.{missing}"))
    check(Case("app", {"event_type": event_type, "properties": props}, "", f"{event_type} needs"))


def test_property_requirements_name_every_missing_property() -> None:
    check(
        Case(
            "app",
            {"event_type": "add_to_cart", "properties": {}},
            "",
            "properties.product_id and properties.price and properties.quantity",
        )
    )


def test_events_without_property_rules_accept_any_known_property() -> None:
    check(Case("app", {"event_type": "login", "properties": dict(PROPERTY_VALUES)}))


CONSISTENCY_CASES = [
    ok("app", platform="android", device__os="android"),
    bad("app", "", "source 'mobile_app' does not match platform 'web'", platform="web"),
    bad("web", "", "source 'web' does not match platform 'ios'", platform="ios"),
    bad("web", "", "source 'web' does not match platform 'android'", platform="android", device__os="android"),
    bad("web", "", "device.browser is required for web events", device__browser=DELETE),
    bad("web", "", "device.browser is required for web events", device__browser=None),
    bad("app", "", "device.app_version is required for mobile app events", device__app_version=DELETE),
    bad("app", "", "device.os 'android' does not match platform 'ios'", device__os="android"),
    bad("app", "", "device.os 'macos' does not match platform 'ios'", device__os="macos"),
    bad("app", "", "device.os 'ios' does not match platform 'android'", platform="android"),
    ok("web", device__app_version="1.0.0"),  # a web app may report its build; not required
    ok("app", device__browser="safari"),  # in-app browser; allowed
    # clickstream: what each action needs
    ok("click", action="click", element_id="buy-button"),
    ok("click", action="form_submit", element_id="checkout-form"),
    ok("click", action="scroll", scroll_depth_pct=50),
    ok("click", action="page_view", element_id="nav"),
    bad("click", "", "click needs element_id", action="click"),
    bad("click", "", "form_submit needs element_id", action="form_submit", element_id=None),
    bad("click", "", "scroll needs scroll_depth_pct", action="scroll"),
    bad("click", "", "scroll_depth_pct is only allowed on scroll", scroll_depth_pct=40),
    bad("click", "", "scroll_depth_pct is only allowed on scroll", action="click", element_id="b", scroll_depth_pct=1),
    # external: a record belongs to its batch
    ok("weather", batch_seq=4, batch_size=5),
    bad("weather", "", "batch_seq 5 is outside a batch of 5", batch_seq=5, batch_size=5),
    bad("market", "", "batch_seq 9 is outside a batch of 3", batch_seq=9, batch_size=3),
    # weather must be physical
    ok("weather", condition="snow", temperature_c=6.0, precipitation_mm=2.0),
    ok("weather", condition="snow", temperature_c=-12.0),
    bad("weather", "", "snow at 6.5 °C is not physical", condition="snow", temperature_c=6.5),
    ok("weather", condition="clear", precipitation_mm=0.0),
    ok("weather", condition="rain", precipitation_mm=3.2),
    bad("weather", "", "clear weather cannot have precipitation", condition="clear", precipitation_mm=0.1),
    # market ticks: low <= price <= high
    ok("market", price=99.0, low=99.0, high=101.0),
    ok("market", price=101.0, low=99.0, high=101.0),
    ok("market", price=100.0, low=100.0, high=100.0),
    bad("market", "", "price 98.5 is outside [low 99.0, high 101.0]", price=98.5),
    bad("market", "", "price 101.5 is outside [low 99.0, high 101.0]", price=101.5),
    bad("market", "", "is outside [low 101.0, high 99.0]", low=101.0, high=99.0),
]


@pytest.mark.parametrize("case", cases(CONSISTENCY_CASES))
def test_cross_field_rules(case: Case) -> None:
    check(case)


# -- CDC: Debezium envelope and row state transitions ---------------------------------------------

U0 = f.user_row(7, T0)
O0 = f.order_row(9, 7, T0)

ENVELOPE_CASES = [
    ok("user_c"),
    ok("user_d"),
    ok("user_u"),
    ok("order_c"),
    ok("user_u", after__updated_at=f.iso(T0)),  # same instant: not backwards
    bad("user_c", "", "op 'c' must not have a before image", before=U0),
    bad("user_c", "", "op 'c' needs an after image", after=None),
    bad("user_c", "", "op 'r' must not have a before image", op="r", source__snapshot="true", before=U0),
    bad("user_c", "", "op 'r' needs an after image", op="r", source__snapshot="true", after=None),
    bad("user_d", "", "op 'd' must not have an after image", after=U0),
    bad("user_d", "", "op 'd' needs a before image", before=None),
    bad("user_u", "", "op 'u' needs both before and after images", before=None),
    bad("user_u", "", "op 'u' needs both before and after images", after=DELETE),
    bad("user_u", "", "op 'u' changes the primary key (7 -> 8)", after__id=8),
    bad("order_u", "", "op 'u' changes the primary key (9 -> 10)", after__id=10),
    bad("user_u", "", "op 'u' moves updated_at backwards", after__updated_at="2026-11-20T11:59:59Z"),
    bad("order_u", "", "op 'u' moves updated_at backwards", after__updated_at="2026-11-20T11:00:00Z"),
    bad("order_u", "", "an order cannot move to another user", after__user_id=8),
    # snapshot reads: op 'r' exactly when source.snapshot is not "false"
    *(ok("user_c", op="r", source__snapshot=s) for s in ("true", "first", "last", "incremental")),
    bad("user_c", "", "op 'r' happens exactly when source.snapshot is not 'false'", op="r", source__snapshot="false"),
    bad("user_c", "", "op 'r' happens exactly when source.snapshot is not 'false'", op="r", source__snapshot=DELETE),
    bad("user_c", "", "op 'r' happens exactly when source.snapshot is not 'false'", source__snapshot="true"),
    bad("user_u", "", "op 'r' happens exactly when source.snapshot is not 'false'", source__snapshot="last"),
    bad("user_d", "", "op 'r' happens exactly when source.snapshot is not 'false'", source__snapshot="incremental"),
]


@pytest.mark.parametrize("case", cases(ENVELOPE_CASES))
def test_cdc_envelope(case: Case) -> None:
    check(case)


# The order lifecycle (spec): an update keeps the status or moves along one of these edges.
LIFECYCLE: dict[str, set[str]] = {
    "pending": {"paid", "cancelled"},
    "paid": {"shipped", "cancelled", "refunded"},
    "shipped": {"delivered", "refunded"},
    "delivered": {"refunded"},
    "cancelled": set(),
    "refunded": set(),
}


@pytest.mark.parametrize("new", ENUM_SPEC["order_status"])
@pytest.mark.parametrize("old", ENUM_SPEC["order_status"])
def test_order_status_transitions(old: str, new: str) -> None:
    found = issues_of(topics.CDC_CHANGES, _order_update(old, new))
    if new == old or new in LIFECYCLE[old]:
        assert found == []
    else:
        assert found == [("", f"order status cannot go from {old!r} to {new!r}", "value_error")]


@pytest.mark.parametrize("status", ENUM_SPEC["order_status"])
def test_order_status_is_not_checked_on_create_or_delete(status: str) -> None:
    """Only updates are transitions; a create or delete may carry any status (snapshots, imports)."""
    assert issues_of(topics.CDC_CHANGES, f.cdc_change("orders", "c", 1, after=f.order_row(1, 1, T0, status))) == []
    assert issues_of(topics.CDC_CHANGES, f.cdc_change("orders", "d", 2, before=f.order_row(1, 1, T0, status))) == []


@pytest.mark.parametrize(
    ("table", "image", "row", "expected"),
    [
        pytest.param(
            "users", "after", O0, {"after.email", "after.user_id", "after.status"}, id="order-row-under-users"
        ),
        pytest.param("orders", "after", U0, {"after.user_id", "after.email", "after.tier"}, id="user-row-under-orders"),
        pytest.param("orders", "before", U0, {"before.user_id", "before.email"}, id="user-before-under-orders"),
    ],
)
def test_row_image_type_follows_source_table(table: str, image: str, row: dict[str, Any], expected: set[str]) -> None:
    op = "c" if image == "after" else "d"
    found = issues_of(topics.CDC_CHANGES, f.cdc_change(table, op, 5, **{image: row}))
    paths = {path for path, _, _ in found}
    assert expected <= paths
    assert all(path.startswith(f"{image}.") for path in paths)


def test_a_tombstone_is_not_a_change() -> None:
    """Debezium may follow a delete with a null value; consumers skip it, the contract refuses it."""
    assert issues_of(topics.CDC_CHANGES, b"null")[0][0] == ""


def test_snapshot_field_name_is_schema_in_the_message() -> None:
    """Debezium's key is ``schema``; the model attribute is ``schema_name`` (``schema`` shadows BaseModel)."""
    record = BASES["user_c"][1]()
    model = contract_for(topics.CDC_CHANGES).validate_json(orjson.dumps(record))
    assert model.source.schema_name == "public"
    assert model.model_dump(mode="json", by_alias=True)["source"]["schema"] == "public"


# -- the ``properties`` object of app events -------------------------------------------------------


def test_event_properties_declares_only_the_documented_keys() -> None:
    assert set(EventProperties.model_fields) == {
        "screen", "page", "product_id", "category", "price", "quantity", "currency", "order_id", "revenue",
        "search_query", "duration_ms",
    }  # fmt: skip


def test_models_are_immutable() -> None:
    model = contract_for(topics.APP_EVENTS).validate_json(orjson.dumps(f.app_event()))
    with pytest.raises(ValidationError):
        model.user_id = "someone else"
