"""Deliberately invalid records, one kind of breakage at a time.

Each kind is a mistake real producers make. Every kind yields a record that the topic's
contract refuses (or that is not even JSON / has no value / is over the 64 KiB limit):

- ``malformed_json``: a truncated or single-quoted document
- ``invalid_utf8``: bytes that are not UTF-8 inside a string
- ``empty_value``: a zero-byte value
- ``tombstone``: a null value (``None``), as a delete marker would be
- ``wrong_type``: ``"12"`` where 12 is expected and the like (contracts are strict)
- ``missing_field``: a required field left out
- ``unknown_enum``: a value outside an enum (``event_type: "teleport"``)
- ``out_of_range``: a number outside its bounds (latitude 123.4, sequence -1)
- ``too_long``: a string longer than its maximum
- ``naive_timestamp``: a timestamp without a timezone
- ``future_timestamp``: a timestamp years ahead (a device with a broken clock)
- ``oversized``: a ~70 KiB value (> 64 KiB), also over a string limit
- ``op_contradiction`` (CDC only): the envelope contradicts its ``op`` (``c`` with a ``before``)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from simulators.timeutil import US_PER_S, iso_us, uuid4_str

COMMON_KINDS: tuple[str, ...] = (
    "malformed_json",
    "invalid_utf8",
    "empty_value",
    "tombstone",
    "wrong_type",
    "missing_field",
    "unknown_enum",
    "out_of_range",
    "too_long",
    "naive_timestamp",
    "future_timestamp",
    "oversized",
)
CDC_KINDS: tuple[str, ...] = (*COMMON_KINDS, "op_contradiction")
OVERSIZED_CHARS = 70 * 1024
MAX_VALID_BYTES = 65_536
FUTURE_DAYS = (3_650, 7_300)
# A path segment resolved per record: the CDC row image that is present (after, else before).
IMAGE = "$image"

Path = tuple[str, ...]


@dataclass(frozen=True)
class CorruptionSpec:
    """Where in a topic's records each kind of breakage is applied."""

    wrong_type: tuple[tuple[Path, Any], ...]
    missing_field: tuple[Path, ...]
    unknown_enum: tuple[tuple[Path, Any], ...]
    out_of_range: tuple[tuple[Path, Any], ...]
    too_long: tuple[tuple[Path, int], ...]
    oversized: Path
    oversized_prefix: str = ""
    time_path: Path = ("event_time",)


def _resolve(doc: dict[str, Any], path: Path) -> tuple[dict[str, Any], str]:
    node = doc
    for part in path[:-1]:
        if part != IMAGE:
            node = node[part]
        elif node.get("after") is not None:
            node = node["after"]
        else:
            node = node["before"]
    return node, path[-1]


def _set(doc: dict[str, Any], path: Path, value: Any) -> None:
    node, last = _resolve(doc, path)
    node[last] = value


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "true"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return 12_345
    return [value]


def _fresh_id(doc: dict[str, Any], rng: random.Random) -> None:
    if "event_id" in doc:
        doc["event_id"] = uuid4_str(rng)


def _op_contradiction(doc: dict[str, Any], rng: random.Random) -> None:
    op = doc["op"]
    if op in ("c", "r"):
        if rng.random() < 0.5:
            doc["before"] = doc["after"]  # an insert that claims a previous row image
        else:
            doc["source"]["snapshot"] = "true" if op == "c" else "false"  # snapshot flag contradicts op
    elif op == "u":
        doc["before"] = None  # an update without a before image
    else:
        doc["after"] = doc["before"]  # a delete that still has a row afterwards


def corrupt(
    payload: dict[str, Any],
    kind: str,
    spec: CorruptionSpec,
    rng: random.Random,
    produce_us: int,
    *,
    future: Callable[[dict[str, Any], int], None] | None = None,
) -> bytes | None:
    """Serialized, broken copy of ``payload`` (which is not modified)."""
    if kind == "tombstone":
        return None
    if kind == "empty_value":
        return b""
    doc: dict[str, Any] = orjson.loads(orjson.dumps(payload))
    _fresh_id(doc, rng)
    if kind == "malformed_json":
        raw = orjson.dumps(doc)
        if rng.random() < 0.5:
            return raw[: rng.randint(1, len(raw) - 1)]
        return raw.replace(b'"', b"'")
    if kind == "invalid_utf8":
        raw = orjson.dumps(doc)
        return raw.replace(b'":"', b'":"\xff\xfe', 1)
    if kind == "wrong_type":
        path, replacement = rng.choice(spec.wrong_type)
        node, last = _resolve(doc, path)
        node[last] = _wrong_type(node[last]) if replacement is None else replacement
    elif kind == "missing_field":
        node, last = _resolve(doc, rng.choice(spec.missing_field))
        del node[last]
    elif kind == "unknown_enum":
        path, value = rng.choice(spec.unknown_enum)
        _set(doc, path, value)
    elif kind == "out_of_range":
        path, value = rng.choice(spec.out_of_range)
        _set(doc, path, value)
    elif kind == "too_long":
        path, length = rng.choice(spec.too_long)
        _set(doc, path, "x" * length)
    elif kind == "naive_timestamp":
        node, last = _resolve(doc, spec.time_path)
        node[last] = node[last].removesuffix("+00:00")
    elif kind == "future_timestamp":
        if future is not None:
            future(doc, produce_us)
        else:
            _set(doc, spec.time_path, iso_us(produce_us + rng.randint(*FUTURE_DAYS) * 86_400 * US_PER_S))
    elif kind == "oversized":
        _set(doc, spec.oversized, spec.oversized_prefix + "x" * OVERSIZED_CHARS)
    elif kind == "op_contradiction":
        _op_contradiction(doc, rng)
    else:
        raise ValueError(f"unknown invalid kind {kind!r}")
    return orjson.dumps(doc)


APP_EVENT_SPEC = CorruptionSpec(
    wrong_type=(
        (("user_id",), None),
        (("session_id",), None),
        (("geo", "lat"), None),
        (("event_time",), 1_764_000_000),
        (("device", "os_version"), 17.5),
        (("properties",), "none"),
    ),
    missing_field=(
        ("event_id",),
        ("event_type",),
        ("event_time",),
        ("user_id",),
        ("session_id",),
        ("source",),
        ("device",),
        ("geo",),
    ),
    unknown_enum=(
        (("event_type",), "teleport"),
        (("platform",), "blackberry"),
        (("source",), "smart_fridge"),
        (("device", "os"), "symbian"),
    ),
    out_of_range=(
        (("geo", "lat"), 123.45),
        (("geo", "lon"), -200.5),
        (("properties", "quantity"), 0),
        (("properties", "duration_ms"), -5),
        (("properties", "price"), -9.99),
    ),
    too_long=((("user_id",), 300), (("session_id",), 200), (("geo", "city"), 120), (("device", "model"), 100)),
    oversized=("properties", "search_query"),
)

CLICK_EVENT_SPEC = CorruptionSpec(
    wrong_type=(
        (("sequence_number",), None),
        (("viewport", "width"), None),
        (("user_id",), None),
        (("event_time",), 1_764_000_000),
        (("viewport",), "1920x1080"),
    ),
    missing_field=(
        ("event_id",),
        ("event_time",),
        ("user_id",),
        ("session_id",),
        ("action",),
        ("page_url",),
        ("page_type",),
        ("sequence_number",),
        ("viewport",),
    ),
    unknown_enum=((("action",), "hover"), (("page_type",), "landing")),
    out_of_range=(
        (("sequence_number",), -1),
        (("sequence_number",), 250_000),
        (("viewport", "width"), 50),
        (("viewport", "height"), 20_000),
        (("time_on_page_ms",), -1),
    ),
    too_long=((("user_id",), 300), (("session_id",), 200)),
    oversized=("page_url",),
    oversized_prefix="https://shop.dataplat.dev/search?q=",
)

EXTERNAL_SPEC = CorruptionSpec(
    wrong_type=((("batch_seq",), None), (("batch_size",), None), (("provider",), None), (("event_id",), 42)),
    missing_field=(
        ("event_id",),
        ("event_time",),
        ("provider",),
        ("batch_id",),
        ("batch_seq",),
        ("batch_size",),
        ("kind",),
    ),
    unknown_enum=((("kind",), "astrology"), (("kind",), "WEATHER")),
    out_of_range=((("batch_seq",), -1), (("batch_size",), 0), (("batch_seq",), 100_001)),
    too_long=((("provider",), 300), (("batch_id",), 100)),
    oversized=("provider",),
)

CDC_SPEC = CorruptionSpec(
    wrong_type=(
        (("source", "lsn"), None),
        (("source", "txId"), None),
        (("ts_ms",), None),
        ((IMAGE, "id"), None),
        ((IMAGE, "created_at"), 1_764_000_000),
    ),
    missing_field=(("op",), ("source",), ("ts_ms",), ("source", "lsn"), ("source", "table"), (IMAGE, "id")),
    unknown_enum=(
        (("op",), "x"),
        (("source", "connector"), "mysql"),
        (("source", "table"), "payments"),
        (("source", "snapshot"), "maybe"),
    ),
    out_of_range=(
        (("ts_ms",), 5),
        ((IMAGE, "id"), 0),
        (("source", "lsn"), -1),
        (("source", "txId"), -7),
    ),
    too_long=((("source", "name"), 300), (("source", "db"), 100)),
    oversized=("source", "name"),
    time_path=(IMAGE, "updated_at"),
)

# Past the contract's upper bound for epoch millis (2100-01-01).
CDC_FUTURE_TS_MS = 4_200_000_000_000


def cdc_future(doc: dict[str, Any], _produce_us: int) -> None:
    doc["ts_ms"] = CDC_FUTURE_TS_MS
    doc["source"]["ts_ms"] = CDC_FUTURE_TS_MS
