"""The simulators without Kafka: determinism, contract validity, invalid records and realism.

Every statistical test states its tolerance next to the number the generator is built for
(see the module docstrings in ``simulators/``).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from dataplat_resources import topics
from dataplat_resources.contracts import contract_for
from dataplat_resources.contracts.cdc import ORDER_TRANSITIONS, OrderStatus
from simulators import app_events
from simulators.base import INVALID_HEADER, LATE_THRESHOLD_US, SOURCE_HEADER, SimMessage
from simulators.continuous import RatePlan
from simulators.invalid import CDC_KINDS, COMMON_KINDS, MAX_VALID_BYTES
from simulators.registry import BURST_STEP_US, SOURCE_NAMES, SOURCES, burst_clock, make_source, parse_sources
from simulators.timeutil import US_PER_S, VirtualClock, iso_us, to_us, uuid4_str
from simulators.world import build_world

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
WORLD_SEED = 7
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$")
SLOW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def world():
    return build_world(WORLD_SEED)


def generate(
    name: str, n: int, *, seed: int = 1, world=None, invalid: float = 0.0, late: float = 0.05, start=START, **options
):
    source = make_source(
        name,
        seed=seed,
        clock=VirtualClock(start, 50_000, seed=f"{seed}:{name}"),
        world=world if world is not None else build_world(WORLD_SEED),
        invalid_fraction=invalid,
        late_fraction=late,
        **options,
    )
    return source.take(n)


def valid(messages: list[SimMessage]) -> list[SimMessage]:
    return [m for m in messages if m.invalid_kind is None]


def docs(messages: list[SimMessage]) -> list[dict]:
    return [orjson.loads(m.value) for m in valid(messages)]


def event_us(name: str, doc: dict) -> int:
    if name == "postgres_cdc":
        return doc["source"]["ts_ms"] * 1_000
    return to_us(datetime.fromisoformat(doc["event_time"]))


def fails_contract(topic: str, msg: SimMessage) -> bool:
    if msg.value is None or len(msg.value) == 0 or len(msg.value) > MAX_VALID_BYTES:
        return True
    try:
        contract_for(topic).validate_json(msg.value)
    except ValidationError:
        return True
    return False


# -- ids and timestamps -----------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=2**64))
def test_uuid4_str_is_a_version4_uuid(seed):
    import random

    rng = random.Random(seed)
    text = uuid4_str(rng)
    parsed = uuid.UUID(text)
    assert parsed.version == 4
    assert parsed.variant == uuid.RFC_4122
    assert str(parsed) == text


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)))
def test_iso_us_matches_isoformat(moment):
    assert iso_us(to_us(moment)) == moment.isoformat(timespec="microseconds")


# -- determinism ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_same_seed_and_start_give_identical_bytes(name, world):
    first = generate(name, 3_000, seed=11, world=world, invalid=0.05)
    second = generate(name, 3_000, seed=11, world=world, invalid=0.05)
    assert [(m.key, m.value, m.headers, m.timestamp_ms) for m in first] == [
        (m.key, m.value, m.headers, m.timestamp_ms) for m in second
    ]
    other = generate(name, 3_000, seed=12, world=world, invalid=0.05)
    assert [m.value for m in other] != [m.value for m in first]


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_invalid_records_do_not_change_the_valid_stream(name, world):
    clean = generate(name, 2_000, world=world, invalid=0.0)
    noisy = valid(generate(name, 2_100, world=world, invalid=0.05))
    assert [(m.key, m.value) for m in noisy[: len(clean) - 50]] == [(m.key, m.value) for m in clean[: len(clean) - 50]]


def _digest(seed: int) -> str:
    hasher = hashlib.sha256()
    for name in SOURCE_NAMES:
        for m in generate(name, 500, seed=seed, world=build_world(seed), invalid=0.05):
            hasher.update(m.key + (m.value or b"<none>") + repr(m.headers).encode())
    return hasher.hexdigest()


def test_determinism_holds_across_processes():
    """Hash randomisation or dict order must not leak into the output."""
    code = "from tests.test_simulators import _digest; print(_digest(5))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == _digest(5)


# -- contracts: valid records pass, marked records fail ----------------------------------------


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_thousands_of_unmarked_records_pass_their_contract(name, world):
    contract = contract_for(SOURCES[name].topic)
    messages = generate(name, 12_000, world=world, invalid=0.01)
    for msg in valid(messages):
        contract.validate_json(msg.value)
        assert msg.headers == [(SOURCE_HEADER, name.encode())]
        assert len(msg.value) < MAX_VALID_BYTES


@SLOW
@given(
    name=st.sampled_from(SOURCE_NAMES),
    world_seed=st.sampled_from([WORLD_SEED, 11, 23]),
    seed=st.integers(min_value=0, max_value=2**31),
    invalid=st.floats(min_value=0.0, max_value=0.3),
    late=st.floats(min_value=0.0, max_value=1.0),
)
def test_property_unmarked_pass_and_marked_fail(name, world_seed, seed, invalid, late):
    topic = SOURCES[name].topic
    contract = contract_for(topic)
    for msg in generate(name, 1_500, seed=seed, world=build_world(world_seed), invalid=invalid, late=late):
        headers = dict(msg.headers)
        assert headers[SOURCE_HEADER] == name.encode()
        if msg.invalid_kind is None:
            assert INVALID_HEADER not in headers
            contract.validate_json(msg.value)
        else:
            assert headers[INVALID_HEADER] == msg.invalid_kind.encode()
            assert fails_contract(topic, msg), (msg.invalid_kind, msg.value[:300] if msg.value else msg.value)


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_every_invalid_kind_occurs_and_fails(name, world):
    topic = SOURCES[name].topic
    messages = generate(name, 4_000, world=world, invalid=0.5)
    kinds = Counter(m.invalid_kind for m in messages if m.invalid_kind)
    expected = set(CDC_KINDS if name == "postgres_cdc" else COMMON_KINDS)
    assert set(kinds) == expected
    for msg in messages:
        if msg.invalid_kind:
            assert fails_contract(topic, msg), msg.invalid_kind
        if msg.invalid_kind == "tombstone":
            assert msg.value is None
        elif msg.invalid_kind == "empty_value":
            assert msg.value == b""
        elif msg.invalid_kind == "oversized":
            assert 65_536 < len(msg.value) < 80_000
            with pytest.raises(ValidationError):  # also refused on its content, not only its size
                contract_for(topic).validate_json(msg.value)
        elif msg.invalid_kind == "invalid_utf8":
            with pytest.raises(UnicodeDecodeError):
                msg.value.decode()
        elif msg.invalid_kind == "malformed_json":
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(msg.value)


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_invalid_fraction_is_respected(name, world):
    messages = generate(name, 20_000, world=world, invalid=0.01)
    share = sum(1 for m in messages if m.invalid_kind) / len(messages)
    assert 0.007 <= share <= 0.013


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_timestamps_are_iso_utc_with_microseconds(name, world):
    for doc in docs(generate(name, 2_000, world=world))[:2_000]:
        if name == "postgres_cdc":
            for image in (doc["before"], doc["after"]):
                if image:
                    assert ISO_UTC.match(image["created_at"]) and ISO_UTC.match(image["updated_at"])
        else:
            assert ISO_UTC.match(doc["event_time"]), doc["event_time"]


# -- time: event time before produce time, late fraction --------------------------------------


@pytest.mark.parametrize("name", SOURCE_NAMES)
@pytest.mark.parametrize("late", [0.0, 0.05, 0.2])
def test_event_time_precedes_produce_time_and_late_share(name, late, world):
    messages = valid(generate(name, 20_000, world=world, late=late))
    lags = [m.timestamp_ms * 1_000 - event_us(name, orjson.loads(m.value)) for m in messages]
    assert min(lags) >= -1_000  # never after produce time (ms rounding of the Kafka timestamp)
    assert max(lags) <= 3_600 * US_PER_S + 1_000_000
    late_share = sum(1 for lag in lags if lag > LATE_THRESHOLD_US) / len(lags)
    flagged = sum(1 for m in messages if m.late) / len(messages)
    if late == 0.0:
        assert late_share == 0.0
        return
    # CDC cannot move a commit before a row's last change, so fewer of its records end up late.
    low = late * (0.6 if name == "postgres_cdc" else 0.7)
    high = late * 1.3
    assert low <= late_share <= high, late_share
    assert abs(flagged - late_share) < 0.01


# -- realism: users -----------------------------------------------------------------------------


def test_activity_is_skewed_and_users_are_stable(world):
    events = docs(generate("mobile_app", 40_000, world=world)) + docs(generate("web", 40_000, world=world))
    per_user = Counter(e["user_id"] for e in events)
    counts = sorted((per_user.get(u.user_id, 0) for u in world.users), reverse=True)
    top = sum(counts[: len(counts) // 5]) / sum(counts)
    assert top > 0.55, f"top 20 % of users produce only {top:.0%} of events"
    seen: dict[str, tuple] = {}
    for e in events:
        profile = (e["platform"], orjson.dumps(e["device"]), orjson.dumps(e["geo"]))
        assert seen.setdefault(e["user_id"], profile) == profile
        user = world.users[int(e["user_id"]) - 1]
        assert e["geo"]["country"] == user.country and e["geo"]["city"] == user.city.name
        assert (e["source"] == "web") == (e["platform"] == "web")


def test_world_pools_are_built_once_and_reproducibly():
    assert build_world(WORLD_SEED) is build_world(WORLD_SEED)
    again = build_world.__wrapped__(WORLD_SEED)
    assert [u.email for u in again.users[:50]] == [u.email for u in build_world(WORLD_SEED).users[:50]]
    assert len({u.user_id for u in again.users}) == len(again.users)


# -- realism: funnel --------------------------------------------------------------------------


def test_funnel_has_the_documented_drop_off(world):
    sessions: dict[str, list[str]] = defaultdict(list)
    for name in ("mobile_app", "web"):
        for e in docs(generate(name, 80_000, world=world, late=0.0)):
            sessions[e["session_id"]].append(e["event_type"])
    viewed = [s for s in sessions.values() if "product_view" in s]
    carted = [s for s in viewed if "add_to_cart" in s]
    checked = [s for s in carted if "checkout_start" in s]
    bought = [s for s in checked if "purchase" in s]
    assert len(viewed) > 5_000
    assert len(viewed) / len(sessions) == pytest.approx(app_events.P_BROWSE, abs=0.04)
    assert len(carted) / len(viewed) == pytest.approx(app_events.P_CART, abs=0.03)
    assert len(checked) / len(carted) == pytest.approx(app_events.P_CHECKOUT, abs=0.05)
    assert len(bought) / len(checked) == pytest.approx(app_events.P_PURCHASE, abs=0.05)
    for steps in sessions.values():  # the funnel is walked in order within each session
        if "purchase" in steps:
            assert steps.index("add_to_cart") < steps.index("checkout_start") < steps.index("purchase")
        if steps[0] in ("app_open", "page_view") and "app_open" in steps:
            assert steps[0] == "app_open"


def test_session_event_times_never_go_backwards_except_late_ones(world):
    last: dict[str, str] = {}
    for msg in valid(generate("mobile_app", 20_000, world=world)):
        if msg.late:
            continue
        e = orjson.loads(msg.value)
        assert e["event_time"] >= last.get(e["session_id"], "")
        last[e["session_id"]] = e["event_time"]


# -- realism: CDC -----------------------------------------------------------------------------


def replay_cdc(messages: list[SimMessage], *, snapshot_first: bool = True) -> dict[str, int]:
    """Apply the change stream to an empty database, asserting every invariant on the way.

    ``snapshot_first=False`` for the union of several sources' streams (each has its snapshot)."""
    tables: dict[str, dict[int, dict]] = {"users": {}, "orders": {}}
    deleted: set[tuple[str, int]] = set()
    last_lsn, last_tx, closed_tx = -1, -1, set()
    last_on_time_commit_ms = 0
    ops: Counter[str] = Counter()
    in_snapshot = None
    for msg in valid(messages):
        doc = orjson.loads(msg.value)
        source, op, before, after = doc["source"], doc["op"], doc["before"], doc["after"]
        table = source["table"]
        row_id = (after or before)["id"]
        assert msg.key == f"{table}:{row_id}".encode()
        assert 1 <= row_id <= 2**62
        assert source["lsn"] > last_lsn, "LSNs strictly increase"
        last_lsn = source["lsn"]
        if source["txId"] != last_tx:
            assert source["txId"] > last_tx and source["txId"] not in closed_tx, "txId increases per transaction"
            closed_tx.add(last_tx)
            last_tx = source["txId"]
        assert source["ts_ms"] <= doc["ts_ms"] == msg.timestamp_ms
        if not msg.late:
            assert source["ts_ms"] >= last_on_time_commit_ms, "commit time goes backwards in LSN order"
            last_on_time_commit_ms = source["ts_ms"]
        assert (op == "r") == (source["snapshot"] != "false")
        if op == "r":
            assert in_snapshot is not False or not snapshot_first, "snapshot records come first"
            in_snapshot = True
        else:
            in_snapshot = False
        assert (table, row_id) not in deleted, f"{table}:{row_id} touched after its delete"
        rows = tables[table]
        if op in ("c", "r"):
            assert row_id not in rows, "inserted twice"
            rows[row_id] = after
        elif op == "u":
            assert rows.get(row_id) == before, "update's before image is the current row"
            assert after["updated_at"] >= before["updated_at"] >= before["created_at"]
            if table == "orders":
                old, new = OrderStatus(before["status"]), OrderStatus(after["status"])
                assert new == old or new in ORDER_TRANSITIONS[old]
            rows[row_id] = after
        else:
            assert rows.get(row_id) == before, "delete's before image is the current row"
            del rows[row_id]
            deleted.add((table, row_id))
            if table == "users":
                assert not [o for o in tables["orders"].values() if o["user_id"] == row_id], "orders outlive their user"
        if table == "orders" and after is not None:
            assert after["user_id"] in tables["users"], "order references a live user"
            assert after["created_at"] >= tables["users"][after["user_id"]]["created_at"]
        ops[op] += 1
    return dict(ops)


@pytest.mark.parametrize(("seed", "snapshot_users"), [(1, 50), (2, 0), (3, 400)])
def test_cdc_replays_into_a_consistent_database(seed, snapshot_users, world):
    messages = generate("postgres_cdc", 20_000, seed=seed, world=world, invalid=0.02, snapshot_users=snapshot_users)
    ops = replay_cdc(messages)
    assert ops.get("r", 0) >= snapshot_users
    assert ops["c"] > 2_000 and ops["u"] > 5_000 and ops["d"] > 100
    snapshot = [orjson.loads(m.value)["source"]["snapshot"] for m in valid(messages)[: ops.get("r", 0)]]
    if snapshot:
        assert snapshot[0] == "first" and snapshot[-1] == "last" and set(snapshot[1:-1]) <= {"true"}


def test_cdc_transactions_group_changes(world):
    by_tx: dict[int, list[dict]] = defaultdict(list)
    for doc in docs(generate("postgres_cdc", 5_000, world=world, snapshot_users=0)):
        by_tx[doc["source"]["txId"]].append(doc)
    multi = [changes for changes in by_tx.values() if len(changes) > 1]
    assert multi, "some transactions hold several changes (signup with first order, user deletion)"
    for changes in multi:
        assert len({c["source"]["ts_ms"] for c in changes}) == 1  # one commit time per transaction


# -- CDC across bursts: one database history without shared state -----------------------------

CDC = "postgres_cdc"
START_US = to_us(START)


def cdc_burst(seed: int, events: int, *, start=None, now_us=None, invalid: float = 0.02, late: float = 0.05):
    """A CDC burst as ``run_burst`` makes it, anchored at an injected real start or a pinned start."""
    source = make_source(
        CDC,
        seed=seed,
        clock=burst_clock(CDC, seed, events, start, now_us=now_us),
        world=build_world(WORLD_SEED),
        invalid_fraction=invalid,
        late_fraction=late,
    )
    return source, source.take(events)


def lsn_of(msg: SimMessage) -> int:
    return orjson.loads(msg.value)["source"]["lsn"]


def cdc_facts(messages: list[SimMessage]) -> dict:
    """What a CDC stream tells about its database: event ids, row ids, LSNs, txIds, times."""
    changes = docs(messages)
    return {
        "event_ids": [f"{d['source']['table']}:{d['source']['lsn']}" for d in changes],
        "ids": {
            table: {(d["after"] or d["before"])["id"] for d in changes if d["source"]["table"] == table}
            for table in ("users", "orders")
        },
        "emails": {d["after"]["email"] for d in changes if d["source"]["table"] == "users" and d["after"]},
        "lsns": [d["source"]["lsn"] for d in changes],
        "tx_ids": [d["source"]["txId"] for d in changes],
        "commit_ms": [d["source"]["ts_ms"] for d in changes],
        "capture_ms": [d["ts_ms"] for d in changes],
        # A c/u change's after image carries its commit time to the microsecond.
        "commit_us": [to_us(datetime.fromisoformat(d["after"]["updated_at"])) for d in changes if d["op"] in "cu"],
    }


def assert_second_continues_first(first: list[SimMessage], second: list[SimMessage], *, strict_ms: bool) -> None:
    a, b = cdc_facts(first), cdc_facts(second)
    for facts in (a, b):
        assert len(set(facts["event_ids"])) == len(facts["event_ids"])
    assert set(a["event_ids"]).isdisjoint(b["event_ids"]), "event ids (table:lsn) repeat across bursts"
    for table in ("users", "orders"):
        assert a["ids"][table] and b["ids"][table]
        assert a["ids"][table].isdisjoint(b["ids"][table]), f"{table} ids repeat across bursts"
    assert a["emails"].isdisjoint(b["emails"])
    assert min(b["lsns"]) > max(a["lsns"])
    assert min(b["tx_ids"]) > max(a["tx_ids"])
    assert min(b["commit_us"]) > max(a["commit_us"])
    # Every time of the second burst (commit and capture) is after every time of the first.
    last_of_first = max(a["commit_ms"] + a["capture_ms"])
    if strict_ms:
        assert min(b["commit_ms"]) > last_of_first
    else:
        assert min(b["commit_ms"]) >= last_of_first
    assert not any(m.late for m in first + second), "a CDC burst has no late records"
    # The union, applied in LSN order, is one consistent database history (commit times included).
    union = sorted(valid(first) + valid(second), key=lsn_of)
    replay_cdc(union, snapshot_first=False)


@pytest.mark.parametrize("gap_us", [US_PER_S, 1_000], ids=["1s", "1ms"])
@pytest.mark.parametrize("anchor", ["real_start", "pinned_start"])
def test_cdc_bursts_continue_one_database(gap_us, anchor):
    """Two bursts in separate processes (different seeds) whose starts are ``gap_us`` apart."""

    def burst(seed: int, at_us: int):
        if anchor == "real_start":
            return cdc_burst(seed, 500, now_us=at_us)
        return cdc_burst(seed, 500, start=START + timedelta(microseconds=at_us - START_US))

    first_source, first = burst(1, START_US)
    second_source, second = burst(2, START_US + gap_us)
    assert first_source.origin_us == START_US and second_source.origin_us == START_US + gap_us
    # The documented condition for commit-time order: the first burst's span + 10 µs < the gap.
    assert first_source.clock.peek_us() - START_US + 10 < gap_us
    assert_second_continues_first(first, second, strict_ms=gap_us >= US_PER_S)


def test_cdc_bursts_run_one_after_the_other_continue_one_database():
    """No injection: the wall clock anchors both bursts, the second made after the first ran."""
    _, first = cdc_burst(5, 3_000)
    _, second = cdc_burst(6, 3_000)
    now_ms = to_us(datetime.now(UTC)) // 1_000
    assert max(m.timestamp_ms for m in first + second) <= now_ms, "a live burst never runs ahead of real time"
    assert_second_continues_first(first, second, strict_ms=False)
    contract = contract_for(topics.CDC_CHANGES)
    for msg in valid(first):
        contract.validate_json(msg.value)
    ops = replay_cdc(first)
    assert ops["r"] >= 50 and ops["c"] > 300 and ops["u"] > 500 and ops["d"] > 0


@SLOW
@given(
    gap_us=st.one_of(st.integers(1, 3_000), st.integers(3_000, 3 * US_PER_S)),
    events=st.integers(20, 600),
    snapshot_users=st.sampled_from([0, 5, 50]),
)
def test_cdc_cross_burst_conditions_hold_as_documented(gap_us, events, snapshot_users):
    """The exact conditions of the simulators.cdc docstring, for any gap between two origins."""

    def burst(seed: int, origin_us: int):
        source = make_source(
            CDC,
            seed=seed,
            clock=burst_clock(CDC, seed, events, now_us=origin_us),
            world=build_world(WORLD_SEED),
            snapshot_users=snapshot_users,
        )
        return source, cdc_facts(source.take(events))

    first_source, a = burst(3, START_US)
    _, b = burst(4, START_US + gap_us)
    if 512 * len(a["lsns"]) < 2_048 * gap_us:
        assert min(b["lsns"]) > max(a["lsns"]) and set(a["event_ids"]).isdisjoint(b["event_ids"])
    if 3 * len(set(a["tx_ids"])) < 16 * gap_us:
        assert min(b["tx_ids"]) > max(a["tx_ids"])
    for table in ("users", "orders"):
        if len(a["ids"][table]) < 1_000 * gap_us:
            assert a["ids"][table].isdisjoint(b["ids"][table])
    span_us = first_source.clock.peek_us() - 1 - START_US
    if span_us + 10 < gap_us and a["commit_us"] and b["commit_us"]:
        assert min(b["commit_us"]) > max(a["commit_us"])
        assert min(b["commit_ms"]) >= max(a["commit_ms"] + a["capture_ms"])


def test_cdc_ranges_derive_from_the_origin(world):
    origin = START_US + 123
    source = make_source(CDC, seed=3, clock=VirtualClock(origin, 50_000, seed=3), world=world, snapshot_users=20)
    facts = cdc_facts(source.take(3_000))
    for ids in facts["ids"].values():
        assert min(ids) == origin * 1_000 + 1  # the first snapshot user and its first order
        assert max(ids) < origin * 1_000 + 3_000
    assert origin * 2_048 < min(facts["lsns"]) and max(facts["lsns"]) < origin * 2_048 + 512 * len(facts["lsns"])
    assert origin * 16 < min(facts["tx_ids"]) and max(facts["tx_ids"]) < origin * 16 + 3 * len(facts["tx_ids"])
    pinned = make_source(CDC, seed=3, clock=VirtualClock(START, 50_000, seed=3), world=world, origin_us=origin)
    assert cdc_facts(pinned.take(200))["lsns"][0] > origin * 2_048
    # Ids must stay within 1..2**62 (RowId) and LSNs within int64: origins up to 2100.
    late_clock = VirtualClock(datetime(2099, 12, 31, 23, 59, tzinfo=UTC), 50_000)
    for doc in docs(make_source(CDC, seed=3, clock=late_clock, world=world).take(2_000)):
        assert (doc["after"] or doc["before"])["id"] <= 2**62 and doc["source"]["lsn"] < 2**63
    with pytest.raises(ValueError, match="origin_us"):
        make_source(CDC, seed=3, clock=VirtualClock(datetime(2100, 1, 2, tzinfo=UTC)), world=world)


def test_live_cdc_burst_is_reproducible_from_a_pinned_start():
    first = cdc_burst(11, 3_000, start=START)[1]
    again = cdc_burst(11, 3_000, start=START)[1]
    assert [(m.key, m.value, m.headers, m.timestamp_ms) for m in first] == [
        (m.key, m.value, m.headers, m.timestamp_ms) for m in again
    ]
    # Same seed a second later: the same people and the same story, but new accounts and positions.
    later = cdc_burst(11, 3_000, start=START + timedelta(seconds=1))[1]
    assert_second_continues_first(first, later, strict_ms=True)


# -- realism: clickstream ----------------------------------------------------------------------


def test_clickstream_navigation_invariants(world):
    by_session: dict[str, list[dict]] = defaultdict(list)
    for doc in docs(generate("clickstream", 30_000, world=world)):
        by_session[doc["session_id"]].append(doc)
    transitions: Counter[tuple[str, str]] = Counter()
    actions: Counter[str] = Counter()
    for events in by_session.values():
        assert [e["sequence_number"] for e in events] == list(range(len(events)))
        assert events[0]["action"] == "page_view"
        assert len({e["user_id"] for e in events}) == 1
        page = previous_url = None
        last_ms = -1
        for e in events:
            actions[e["action"]] += 1
            if e["action"] == "page_view":
                assert e.get("referrer_url") == previous_url or previous_url is None
                assert "time_on_page_ms" not in e
                if page is not None:
                    transitions[(page["page_type"], e["page_type"])] += 1
                page, previous_url, last_ms = e, e["page_url"], -1
            else:
                assert (e["page_url"], e.get("referrer_url")) == (page["page_url"], page.get("referrer_url"))
                assert e["time_on_page_ms"] > last_ms
                last_ms = e["time_on_page_ms"]
    assert set(actions) == {"page_view", "click", "scroll", "form_submit"}
    assert transitions[("cart", "checkout")] > transitions[("cart", "home")]
    assert transitions[("checkout", "confirmation")] > 0
    assert ("home", "confirmation") not in transitions  # only reachable from checkout


# -- realism: external ------------------------------------------------------------------------


def test_external_batches_are_complete_and_physical(world):
    messages = generate("external_data", 30_000, world=world, invalid=0.02)
    batches: dict[str, list[dict]] = defaultdict(list)
    for doc in docs(messages):
        batches[doc["batch_id"]].append(doc)
    kinds = Counter()
    for records in batches.values():
        size = records[0]["batch_size"]
        assert sorted(r["batch_seq"] for r in records) == list(range(size))
        assert len({(r["kind"], r["provider"], r["event_time"]) for r in records}) == 1
        kinds[records[0]["kind"]] += 1
    assert set(kinds) == {"weather", "location", "social_trend", "market"}
    day_state: dict[tuple[str, str], tuple[float, float, int]] = {}
    for doc in docs(messages):
        if doc["kind"] == "weather":
            if doc["condition"] == "snow":
                assert doc["temperature_c"] <= 1.0
            if doc["condition"] in ("clear", "clouds", "fog"):
                assert doc["precipitation_mm"] == 0.0
            if doc["condition"] == "storm":
                assert doc["wind_speed_kmh"] >= 45.0
        elif doc["kind"] == "market":
            assert doc["low"] <= doc["price"] <= doc["high"]
            key = (doc["symbol"], doc["event_time"][:10])
            if key in day_state and doc["volume"] > day_state[key][2]:
                low, high, _ = day_state[key]
                assert doc["low"] <= low and doc["high"] >= high
            day_state[key] = (doc["low"], doc["high"], doc["volume"])


# -- continuous-mode rates ----------------------------------------------------------------------


@pytest.mark.parametrize("multiplier", [1.0, 3.0])
def test_rate_plan_stays_in_each_sources_range(multiplier):
    start = to_us(START)
    plan = RatePlan(list(SOURCE_NAMES), seed=3, start_us=start, multiplier=multiplier)
    hours = 3
    units: Counter[str] = Counter()
    while True:
        due, name = plan.peek()
        if due >= start + hours * 3_600 * US_PER_S:
            break
        units[name] += 1
        plan.charge(1.0, due)
    for name, info in SOURCES.items():
        per_period = units[name] / (hours * 3_600 / info.rate.per_seconds) / multiplier
        assert info.rate.low * 0.9 <= per_period <= info.rate.high * 1.1, (name, per_period)


# -- options ------------------------------------------------------------------------------------


def test_parse_sources():
    assert parse_sources("all") == list(SOURCE_NAMES)
    assert parse_sources("web, mobile_app,web") == ["web", "mobile_app"]
    with pytest.raises(ValueError, match="unknown source"):
        parse_sources("web,kafka")


def test_burst_clock_replays_the_recent_past():
    clock = burst_clock("web", 1, 10_000)
    first = clock.now_us()
    now = to_us(datetime.now(UTC))
    assert now - 3_600 * US_PER_S <= first < now
    assert first < clock.origin_us <= now  # anchored at the real start, after its first event


def test_burst_clocks_are_anchored_at_the_real_start():
    web = burst_clock("web", 1, 100, now_us=START_US)
    assert web.origin_us == START_US and web.now_us() == START_US - 100 * BURST_STEP_US
    assert web.time_scale == 1.0
    cdc = burst_clock(CDC, 1, 100, now_us=START_US)  # CDC runs live from its real start
    assert cdc.origin_us == cdc.now_us() == START_US
    assert cdc.time_scale == pytest.approx(1 / 50_000)
    readings = [cdc.now_us() for _ in range(10_000)]
    assert readings == sorted(set(readings)) and readings[-1] - START_US < 10_000 * 2
    pinned = burst_clock(CDC, 1, 100, START + timedelta(seconds=1), now_us=START_US)
    assert pinned.origin_us == pinned.now_us() == START_US + US_PER_S
    assert burst_clock("web", 1, 100, START).origin_us == START_US


def test_simulators_never_import_dagster():
    code = (
        "import sys, simulators.cli, simulators.producer, simulators.continuous, simulators.registry;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0].startswith('dagster'));"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_topics_match_contracts():
    assert {info.topic for info in SOURCES.values()} == set(topics.SOURCE_TOPICS)
