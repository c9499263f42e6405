"""Property-based tests of the contracts (hypothesis).

- Generated valid messages always validate and round-trip (model -> JSON -> model is equal).
- Removing a required field, giving it a value of the wrong JSON type, or pushing a number
  outside the range the published JSON Schema documents is always refused, with that field's
  path in the error.
- Arbitrary bytes and arbitrarily corrupted messages never crash validation: the result is a
  model or a ``ValidationError`` whose description can be formatted.

The strategies are written from the contract documentation, not derived from the models, so
they test the models instead of restating them. Field ranges for the mutations come from the
JSON Schema, the document producers outside this repository read.
"""

from __future__ import annotations

import copy
import functools
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from dataplat_resources import topics
from dataplat_resources.contracts import contract_for, describe, field_issues
from dataplat_resources.contracts.cdc import ORDER_TRANSITIONS, OrderStatus

PROFILE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies ----------------------------------------------------------------------------------

# Keep one day away from both bounds so any UTC offset stays inside [2000-01-01, now + 1 h].
_EARLIEST = datetime(2000, 1, 2)
_LATEST = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1)
_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8)), timezone(timedelta(hours=14))]
)
ASCII = string.ascii_letters + string.digits


def times() -> st.SearchStrategy[datetime]:
    return st.datetimes(min_value=_EARLIEST, max_value=_LATEST, timezones=_ZONES)


def text(min_size: int = 1, max_size: int = 64) -> st.SearchStrategy[str]:
    """Any Unicode text (no lone surrogates: they cannot be encoded as UTF-8 JSON)."""
    return st.text(st.characters(exclude_categories=("Cs",)), min_size=min_size, max_size=max_size)


def floats(low: float, high: float, *, exclude_low: bool = False) -> st.SearchStrategy[float]:
    return st.floats(low, high, exclude_min=exclude_low, allow_nan=False, allow_infinity=False)


def upper(n: int) -> st.SearchStrategy[str]:
    return st.text(string.ascii_uppercase, min_size=n, max_size=n)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def uuids() -> st.SearchStrategy[str]:
    return st.uuids().map(str)


def _drop_none(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v is not None}


def url() -> st.SearchStrategy[str]:
    path = st.text(ASCII + "/-_.?=&%", max_size=60)
    return st.builds(
        lambda scheme, p: f"{scheme}{p}", st.sampled_from(["/", "https://shop.example.com/", "http://a/"]), path
    )


PROPERTY_RULES = {
    "product_view": ("product_id", "price"),
    "add_to_cart": ("product_id", "price", "quantity"),
    "remove_from_cart": ("product_id", "price", "quantity"),
    "purchase": ("order_id", "revenue", "currency"),
    "search": ("search_query",),
    "screen_view": ("screen",),
    "page_view": ("page",),
}
EVENT_TYPES = (
    "app_open", "app_background", "screen_view", "page_view", "search", "product_view", "add_to_cart",
    "remove_from_cart", "checkout_start", "purchase", "login", "logout", "signup",
)  # fmt: skip
MOBILE_ONLY = {"app_open", "app_background", "screen_view"}
PROPERTY_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "screen": text(1, 255),
    "page": text(1, 300),
    "product_id": text(1, 64),
    "category": text(1, 64),
    "price": floats(0.0, 1_000_000.0),
    "quantity": st.integers(1, 1000),
    "currency": upper(3),
    "order_id": text(1, 64),
    "revenue": floats(0.0, 10_000_000.0, exclude_low=True),
    "search_query": text(1, 512),
    "duration_ms": st.integers(0, 86_400_000),
}


@st.composite
def app_events(draw: st.DrawFn) -> dict[str, Any]:
    source = draw(st.sampled_from(["mobile_app", "web"]))
    version = st.builds(lambda a, b, c: f"{a}.{b}.{c}", *(st.integers(0, 999),) * 3)
    browser = st.sampled_from(["chrome", "safari", "firefox", "edge", "other"])
    if source == "web":
        platform = "web"
        event_type = draw(st.sampled_from([e for e in EVENT_TYPES if e not in MOBILE_ONLY]))
        os = draw(st.sampled_from(["ios", "android", "windows", "macos", "linux", "chromeos"]))
        device = {"os": os, "browser": draw(browser), "app_version": draw(optional(version))}
    else:
        platform = draw(st.sampled_from(["ios", "android"]))
        event_type = draw(st.sampled_from(EVENT_TYPES))
        device = {"os": platform, "app_version": draw(version), "browser": draw(optional(browser))}
    device |= {"os_version": draw(text(1, 32)), "model": draw(text(1, 64))}
    required = PROPERTY_RULES.get(event_type, ())
    extra = draw(st.sets(st.sampled_from(sorted(PROPERTY_VALUES))))
    properties = {name: draw(PROPERTY_VALUES[name]) for name in sorted(set(required) | extra)}
    return {
        "event_id": draw(uuids()),
        "event_type": event_type,
        "event_time": draw(times()).isoformat(),
        "user_id": draw(text(1, 255)),
        "session_id": draw(text(1, 128)),
        "source": source,
        "platform": platform,
        "device": _drop_none(device),
        "geo": {
            "country": draw(upper(2)),
            "city": draw(text(1, 85)),
            "lat": draw(floats(-90.0, 90.0)),
            "lon": draw(floats(-180.0, 180.0)),
        },
        "properties": properties,
    }


@st.composite
def click_events(draw: st.DrawFn) -> dict[str, Any]:
    action = draw(st.sampled_from(["page_view", "click", "scroll", "form_submit"]))
    element = text(1, 64)
    record = {
        "event_id": draw(uuids()),
        "event_time": draw(times()).isoformat(),
        "user_id": draw(text(1, 255)),
        "session_id": draw(text(1, 128)),
        "action": action,
        "page_url": draw(url()),
        "page_type": draw(
            st.sampled_from(
                ["home", "category", "product", "search", "cart", "checkout", "confirmation", "account", "help"]
            )
        ),
        "referrer_url": draw(optional(url())),
        "element_id": draw(element if action in ("click", "form_submit") else optional(element)),
        "scroll_depth_pct": draw(st.integers(0, 100)) if action == "scroll" else None,
        "sequence_number": draw(st.integers(0, 100_000)),
        "time_on_page_ms": draw(optional(st.integers(0, 86_400_000))),
        "viewport": {"width": draw(st.integers(120, 10_000)), "height": draw(st.integers(120, 10_000))},
        "ip_country": draw(optional(upper(2))),
    }
    return _drop_none(record) if draw(st.booleans()) else record


_TS_MS_LOW = 946_684_800_000
_TS_MS_HIGH = 4_102_444_800_000


@st.composite
def cdc_changes(draw: st.DrawFn) -> dict[str, Any]:
    table = draw(st.sampled_from(["users", "orders"]))
    op = draw(st.sampled_from(["c", "u", "d", "r"]))
    row_id = draw(st.integers(1, 2**62))
    created = draw(times())
    updated = created + draw(st.timedeltas(timedelta(0), timedelta(days=30)))

    def row(at: datetime, status: str | None = None, user_id: int | None = None) -> dict[str, Any]:
        common = {"id": row_id, "created_at": created.isoformat(), "updated_at": at.isoformat()}
        if table == "users":
            local = draw(st.text(ASCII + "._-", min_size=1, max_size=30))
            domain = draw(st.text(string.ascii_lowercase, min_size=1, max_size=20))
            return common | {
                "email": f"{local}@{domain}.{draw(st.sampled_from(['com', 'de', 'co', 'shop']))}",
                "full_name": draw(text(1, 255)),
                "country": draw(upper(2)),
                "tier": draw(st.sampled_from(["free", "plus", "premium"])),
            }
        return common | {
            "user_id": user_id,
            "status": status,
            "total_amount": draw(floats(0.0, 1_000_000.0)),
            "currency": draw(upper(3)),
            "item_count": draw(st.integers(1, 1000)),
        }

    status = draw(st.sampled_from([s.value for s in OrderStatus]))
    owner = draw(st.integers(1, 2**62))
    before = after = None
    if op in ("c", "r"):
        after = row(updated, status, owner)
    elif op == "d":
        before = row(updated, status, owner)
    else:
        next_status = draw(st.sampled_from([status, *sorted(s.value for s in ORDER_TRANSITIONS[OrderStatus(status)])]))
        later = updated + draw(st.timedeltas(timedelta(0), timedelta(days=30)))
        before, after = row(updated, status, owner), row(later, next_status, owner)
    commit = draw(st.integers(_TS_MS_LOW, _TS_MS_HIGH))
    snapshot = draw(st.sampled_from(["true", "first", "last", "incremental"])) if op == "r" else "false"
    source = {
        "version": draw(text(1, 32)),
        "connector": "postgresql",
        "name": draw(text(1, 128)),
        "db": draw(text(1, 63)),
        "schema": draw(text(1, 63)),
        "table": table,
        "lsn": draw(st.integers(0, 2**63)),
        "txId": draw(st.integers(0, 2**40)),
        "ts_ms": commit,
        "snapshot": snapshot,
    }
    if snapshot == "false" and draw(st.booleans()):
        del source["snapshot"]  # the default
    return {
        "before": before,
        "after": after,
        "source": source,
        "op": op,
        "ts_ms": draw(st.integers(commit, _TS_MS_HIGH)),
    }


@st.composite
def external_records(draw: st.DrawFn) -> dict[str, Any]:
    batch_size = draw(st.integers(1, 100_000))
    record: dict[str, Any] = {
        "event_id": draw(uuids()),
        "event_time": draw(times()).isoformat(),
        "provider": draw(text(1, 64)),
        "batch_id": draw(text(1, 64)),
        "batch_seq": draw(st.integers(0, batch_size - 1)),
        "batch_size": batch_size,
    }
    kind = draw(st.sampled_from(["weather", "location", "social_trend", "market"]))
    place = {
        "city": draw(text(1, 85)),
        "country": draw(upper(2)),
        "lat": draw(floats(-90.0, 90.0)),
        "lon": draw(floats(-180.0, 180.0)),
    }
    if kind == "weather":
        condition = draw(st.sampled_from(["clear", "clouds", "rain", "snow", "storm", "fog"]))
        record |= place | {
            "temperature_c": draw(floats(-90.0, 6.0 if condition == "snow" else 60.0)),
            "humidity_pct": draw(floats(0.0, 100.0)),
            "wind_speed_kmh": draw(floats(0.0, 500.0)),
            "precipitation_mm": 0.0 if condition == "clear" else draw(floats(0.0, 500.0)),
            "condition": condition,
        }
    elif kind == "location":
        record |= place | {
            "place_id": draw(text(1, 64)),
            "name": draw(text(1, 255)),
            "category": draw(st.sampled_from(["store", "warehouse", "pickup_point", "restaurant", "transit"])),
            "traffic_index": draw(floats(0.0, 10.0)),
        }
    elif kind == "social_trend":
        record |= {
            "platform": draw(st.sampled_from(["x", "instagram", "tiktok", "reddit"])),
            "topic": draw(text(1, 100)),
            "country": draw(upper(2)),
            "mentions": draw(st.integers(0, 100_000_000)),
            "sentiment": draw(floats(-1.0, 1.0)),
        }
    else:
        low, price, high = sorted(draw(st.lists(floats(0.0, 10_000_000.0, exclude_low=True), min_size=3, max_size=3)))
        record |= {
            "symbol": draw(st.from_regex(r"\A[A-Z][A-Z0-9.\-]{0,11}\Z")),
            "exchange": draw(st.text(string.ascii_uppercase, min_size=2, max_size=16)),
            "currency": draw(upper(3)),
            "price": price,
            "low": low,
            "high": high,
            "volume": draw(st.integers(0, 10_000_000_000)),
            "change_pct": draw(floats(-100.0, 1000.0)),
        }
    return record | {"kind": kind}


VALID: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    topics.APP_EVENTS: app_events(),
    topics.CLICKSTREAM: click_events(),
    topics.CDC_CHANGES: cdc_changes(),
    topics.EXTERNAL_DATA: external_records(),
}
TOPICS = sorted(VALID)

# -- the documented shape, read from the JSON Schema ---------------------------------------------


@dataclass(frozen=True)
class Leaf:
    """A field of a message as the JSON Schema documents it."""

    path: tuple[str, ...]
    schema: dict[str, Any]  # the field's own schema, $refs resolved, the null branch removed
    required: bool

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = root["$defs"][node["$ref"].removeprefix("#/$defs/")]
    return node


def _non_null(root: dict[str, Any], node: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The schema without its ``null`` alternative, and every JSON type the field accepts."""
    node = _resolve(root, node)
    branches = [_resolve(root, b) for b in node.get("anyOf", [node])]
    types = {b.get("type", "object" if "properties" in b else "string") for b in branches}
    kept = [b for b in branches if b.get("type") != "null"]
    return (kept[0] if len(kept) == 1 else node), types


def _branch(root: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The model schema a message is checked against (unions choose by kind or source.table)."""
    if "oneOf" not in root:
        return root
    if "kind" in record:
        return _resolve(root, {"$ref": root["discriminator"]["mapping"][record["kind"]]})
    title = {"users": "UserChange", "orders": "OrderChange"}[record["source"]["table"]]
    return root["$defs"][title]


@functools.cache
def _schema(topic: str) -> dict[str, Any]:
    return contract_for(topic).json_schema()


def leaves(topic: str, record: dict[str, Any]) -> Iterator[Leaf]:
    """Every documented field whose parent object is present in ``record``."""
    root = _schema(topic)

    def walk(model: dict[str, Any], data: dict[str, Any], prefix: tuple[str, ...]) -> Iterator[Leaf]:
        required = set(model.get("required", ()))
        for name, prop in model["properties"].items():
            schema, _ = _non_null(root, prop)
            yield Leaf((*prefix, name), schema, name in required)
            child = data.get(name)
            if "properties" in schema and isinstance(child, dict):
                yield from walk(schema, child, (*prefix, name))

    yield from walk(_branch(root, record), record, ())


def accepted_types(topic: str, record: dict[str, Any], leaf: Leaf) -> set[str]:
    root = _schema(topic)
    node: dict[str, Any] = _branch(root, record)
    for part in leaf.path[:-1]:
        node, _ = _non_null(root, node["properties"][part])
    _, types = _non_null(root, node["properties"][leaf.path[-1]])
    if "number" in types:
        types.add("integer")  # JSON has one number type; 3 is a valid number
    return types


# Union discriminators: without them no branch can be chosen, so the error is at the root.
DISCRIMINATORS = {topics.CDC_CHANGES: {"source", "source.table"}, topics.EXTERNAL_DATA: {"kind"}}
ROOT_UNION_ERRORS = {"unknown_table", "union_tag_not_found", "union_tag_invalid"}
WRONG_VALUES: dict[str, Any] = {
    "string": "x",
    "integer": 7,
    "number": 1.5,
    "boolean": True,
    "object": {"unexpected": 1},
    "array": [1],
    "null": None,
}


def _get(record: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    node = record
    for part in path[:-1]:
        node = node[part]
    return node


def issues(topic: str, record: dict[str, Any] | bytes) -> list[tuple[str, str]]:
    raw = record if isinstance(record, bytes) else orjson.dumps(record)
    try:
        contract_for(topic).validate_json(raw)
    except ValidationError as exc:
        return [(i.path, i.error_type) for i in field_issues(exc)]
    return []


def assert_refused_at(topic: str, mutated: dict[str, Any], leaf: Leaf, error_types: set[str]) -> None:
    found = issues(topic, mutated)
    if leaf.dotted in DISCRIMINATORS.get(topic, ()):
        assert found and found[0][0] == "" and found[0][1] in ROOT_UNION_ERRORS, found
        return
    assert found, f"{leaf.dotted}: the mutated message was accepted"
    assert [path for path, _ in found] == [leaf.dotted], found
    assert found[0][1] in error_types, found


# -- properties ----------------------------------------------------------------------------------


@pytest.mark.parametrize("topic", TOPICS)
@PROFILE
@given(data=st.data())
def test_generated_valid_messages_validate_and_round_trip(topic: str, data: st.DataObject) -> None:
    record = data.draw(VALID[topic])
    adapter = contract_for(topic).adapter
    model = adapter.validate_json(orjson.dumps(record))
    again = adapter.validate_json(adapter.dump_json(model, by_alias=True))
    assert again == model
    assert adapter.dump_python(again, mode="json", by_alias=True) == adapter.dump_python(
        model, mode="json", by_alias=True
    )


@pytest.mark.parametrize("topic", TOPICS)
@PROFILE
@given(data=st.data())
def test_removing_a_required_field_is_refused_at_its_path(topic: str, data: st.DataObject) -> None:
    record = data.draw(VALID[topic])
    candidates = [leaf for leaf in leaves(topic, record) if leaf.required]
    leaf = data.draw(st.sampled_from(candidates), label="field")
    mutated = copy.deepcopy(record)
    del _get(mutated, leaf.path)[leaf.path[-1]]
    assert_refused_at(topic, mutated, leaf, {"missing"})


@pytest.mark.parametrize("topic", TOPICS)
@PROFILE
@given(data=st.data())
def test_a_required_field_of_the_wrong_type_is_refused_at_its_path(topic: str, data: st.DataObject) -> None:
    record = data.draw(VALID[topic])
    leaf = data.draw(st.sampled_from([leaf for leaf in leaves(topic, record) if leaf.required]), label="field")
    wrong = sorted(set(WRONG_VALUES) - accepted_types(topic, record, leaf))
    json_type = data.draw(st.sampled_from(wrong), label="wrong type")
    mutated = copy.deepcopy(record)
    _get(mutated, leaf.path)[leaf.path[-1]] = WRONG_VALUES[json_type]
    type_errors = {
        "string_type", "int_type", "float_type", "bool_type", "model_type", "dict_type", "uuid_type",
        "datetime_type", "enum", "literal_error", "int_from_float", "missing",
    }  # fmt: skip
    assert_refused_at(topic, mutated, leaf, type_errors)


def _below(bound: float, *, integer: bool, inclusive: bool) -> st.SearchStrategy[Any]:
    """Numbers under ``bound`` (``bound`` itself too when ``inclusive``); -0.0 is not below 0.0."""
    if integer:
        return st.integers(int(bound) - 10**15, int(bound) if inclusive else int(bound) - 1)
    values = st.floats(-1e300, bound, allow_nan=False)
    return values if inclusive else values.filter(lambda v: v < bound)


def _above(bound: float, *, integer: bool, inclusive: bool) -> st.SearchStrategy[Any]:
    if integer:
        return st.integers(int(bound) if inclusive else int(bound) + 1, int(bound) + 10**15)
    values = st.floats(bound, 1e300, allow_nan=False)
    return values if inclusive else values.filter(lambda v: v > bound)


def _out_of_range(schema: dict[str, Any]) -> st.SearchStrategy[Any] | None:
    """Values just or far outside the documented bounds; None when the field has no bounds."""
    integer = schema.get("type") == "integer"
    options = []
    if "minimum" in schema:
        options.append(_below(schema["minimum"], integer=integer, inclusive=False))
    if "exclusiveMinimum" in schema:
        options.append(_below(schema["exclusiveMinimum"], integer=integer, inclusive=True))
    if "maximum" in schema:
        options.append(_above(schema["maximum"], integer=integer, inclusive=False))
    if "exclusiveMaximum" in schema:
        options.append(_above(schema["exclusiveMaximum"], integer=integer, inclusive=True))
    return st.one_of(options) if options else None


RANGE_ERRORS = {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}


@pytest.mark.parametrize("topic", TOPICS)
@PROFILE
@given(data=st.data())
def test_a_number_outside_its_documented_range_is_refused_at_its_path(topic: str, data: st.DataObject) -> None:
    record = data.draw(VALID[topic])
    bounded = [leaf for leaf in leaves(topic, record) if _out_of_range(leaf.schema) is not None]
    leaf = data.draw(st.sampled_from(bounded), label="field")
    value = data.draw(_out_of_range(leaf.schema), label="value")  # type: ignore[arg-type]
    mutated = copy.deepcopy(record)
    _get(mutated, leaf.path)[leaf.path[-1]] = value
    assert_refused_at(topic, mutated, leaf, RANGE_ERRORS)


@pytest.mark.parametrize("topic", [t for t in TOPICS if t != topics.CDC_CHANGES])  # CDC: epoch millis, bounded
@PROFILE
@given(data=st.data())
def test_a_timestamp_more_than_an_hour_ahead_is_refused(topic: str, data: st.DataObject) -> None:
    record = data.draw(VALID[topic])
    ahead = data.draw(st.timedeltas(timedelta(minutes=61), timedelta(days=365 * 50)))
    zone = data.draw(_ZONES)
    mutated = record | {"event_time": (datetime.now(UTC) + ahead).astimezone(zone).isoformat()}
    assert issues(topic, mutated) == [("event_time", "value_error")]


@pytest.mark.parametrize("topic", TOPICS)
@PROFILE
@given(data=st.data())
def test_an_unknown_field_is_refused(topic: str, data: st.DataObject) -> None:
    record = data.draw(VALID[topic])
    objects = [
        leaf.path
        for leaf in leaves(topic, record)
        if "properties" in leaf.schema and isinstance(_get(record, leaf.path).get(leaf.path[-1]), dict)
    ]
    where = data.draw(st.sampled_from([(), *objects]), label="object")
    names = {leaf.path[-1] for leaf in leaves(topic, record) if leaf.path[:-1] == where}
    name = data.draw(st.text(ASCII + "_", min_size=1, max_size=20).filter(lambda n: n not in names), label="name")
    assume(not (topic == topics.CDC_CHANGES and where == ("source",) and name == "schema_name"))  # the alias
    mutated = copy.deepcopy(record)
    target = mutated
    for part in where:
        target = target[part]
    target[name] = data.draw(st.sampled_from(list(WRONG_VALUES.values())))
    assert issues(topic, mutated) == [(".".join((*where, name)), "extra_forbidden")]


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text(0, 20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text(0, 10), children, max_size=4),
    max_leaves=10,
)


def _outcome(topic: str, raw: bytes) -> None:
    """Validation returns a model or raises ValidationError whose description formats; nothing else."""
    try:
        contract_for(topic).validate_json(raw)
    except ValidationError as exc:
        assert describe(exc)
        assert all(isinstance(i.path, str) and i.reason for i in field_issues(exc))


@pytest.mark.parametrize("topic", TOPICS)
@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=600))
def test_random_bytes_never_crash_validation(topic: str, raw: bytes) -> None:
    _outcome(topic, raw)


@pytest.mark.parametrize("topic", TOPICS)
@PROFILE
@given(data=st.data())
def test_corrupted_messages_never_crash_validation(topic: str, data: st.DataObject) -> None:
    record = data.draw(VALID[topic])
    mutated = copy.deepcopy(record)
    paths = [leaf.path for leaf in leaves(topic, record)]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        parent: Any = mutated
        for part in path[:-1]:  # an earlier corruption may have replaced a parent object
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent[path[-1]] = data.draw(JSON_VALUES)
    raw = orjson.dumps(mutated)
    cut = data.draw(st.integers(0, len(raw)))
    _outcome(topic, raw if data.draw(st.booleans()) else raw[:cut])


def test_strategies_cover_every_union_branch() -> None:
    """Guard against a strategy silently never producing a kind, table or op."""
    seen: set[str] = set()

    @settings(max_examples=200, deadline=None)
    @given(cdc=cdc_changes(), ext=external_records())
    def collect(cdc: dict[str, Any], ext: dict[str, Any]) -> None:
        seen.update({f"table:{cdc['source']['table']}", f"op:{cdc['op']}", f"kind:{ext['kind']}"})

    collect()
    expected = {f"table:{t}" for t in ("users", "orders")} | {f"op:{o}" for o in "cudr"}
    expected |= {f"kind:{k}" for k in ("weather", "location", "social_trend", "market")}
    assert expected <= seen


def test_a_fixed_uuid_and_time_round_trip_exactly() -> None:
    """The serialised form keeps the instant and the id (what the bronze table stores)."""
    event_id = uuid.uuid4()
    when = datetime(2026, 11, 20, 17, 30, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    adapter = contract_for(topics.CLICKSTREAM).adapter
    record = {
        "event_id": str(event_id),
        "event_time": when.isoformat(),
        "user_id": "u",
        "session_id": "s",
        "action": "page_view",
        "page_url": "/",
        "page_type": "home",
        "sequence_number": 0,
        "viewport": {"width": 800, "height": 600},
    }
    model = adapter.validate_json(orjson.dumps(record))
    dumped = orjson.loads(adapter.dump_json(model))
    assert dumped["event_id"] == str(event_id)
    assert datetime.fromisoformat(dumped["event_time"]) == when
