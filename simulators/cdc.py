"""Change data capture of the shop's Postgres database (topic ``topic_cdc_changes``).

The source keeps the state of two tables, ``public.users`` and ``public.orders``, and emits
Debezium envelopes for the transactions it runs against them, so the stream replays into a
consistent database:

- an optional initial snapshot (``op: r``, ``source.snapshot`` first/true/last) of
  ``snapshot_users`` existing customers (people of the world's population, with new accounts)
  and their order history;
- then transactions, drawn with these weights: new order for a live user 34 %, order status
  change 40 %, signup 12 % (in 40 % of signups with a first order in the same transaction), user
  update (tier, email or name) 10 %, purge of a cancelled/refunded order 2 %, user deletion 2 %
  (the user's orders are deleted first, in the same transaction).

Invariants within one source (one burst, one continuous run): a row is inserted (``c`` or ``r``)
before it is updated or deleted and never touched after its delete; LSNs strictly increase over
all changes; ``txId`` increases per transaction and is shared by the changes of one transaction;
orders reference live users; order status moves only along ``ORDER_TRANSITIONS``; ``updated_at``
never goes backwards; ``source.ts_ms`` (commit time, the event time) is never after ``ts_ms``
(capture time = produce time) and, except for late transactions, never goes backwards in LSN
order; no change is dated before the source's first unit minus the longest capture lag.
Keys are ``<table>:<id>``. Deletes are not followed by tombstones, because a null value on
this topic is reserved for the deliberately invalid ``tombstone`` records.

Lateness: a late transaction's commit time is placed 2-60 minutes (or 10-120 s) before capture,
but never before the last change of a row it touches (``updated_at`` must not go backwards) nor
before the source's first unit, so a somewhat smaller share of CDC records than
``late_fraction`` is actually late. Late transactions are the only ones whose commit time is
earlier than that of a transaction with a lower LSN.

Across bursts (and continuous runs) without shared state
--------------------------------------------------------
Every source starts from an empty database but takes its ranges from its *origin* ``O`` (µs
since the epoch): the clock's ``origin_us``, i.e. the real start of a burst or the ``start`` a
caller pins (:func:`simulators.registry.burst_clock`); for the wall clock, the time the source
is created. Row ids of each table count up from ``O * 1000 + 1``, LSNs from ``O * 2048`` (+32-512
per change), txIds from ``O * 16`` (+1-3 per transaction). For two sources with origins
``O1 < O2``, where the first wrote ``c`` changes in ``t`` transactions and inserted ``n`` rows into
a table, this holds exactly:

- event ids (``<table>:<lsn>``) are disjoint and every LSN of the second is higher, if
  ``512 c < 2048 (O2 - O1)``;
- every txId of the second is higher, if ``3 t < 16 (O2 - O1)`` (the snapshot counts as one);
- row ids are disjoint, if ``n < 1000 (O2 - O1)``. A source only updates and deletes rows it
  inserted itself (snapshot rows included), so the union of both streams, applied in LSN order,
  never inserts an existing id nor touches a missing row.

Generating a change takes about 15 µs (measured on 2 cores), so bursts run one after the other (and even concurrent
ones started a few ms apart) meet all three with a wide margin.

Commit times: a CDC burst does *not* replay the past like the other sources. Its clock (see
``burst_clock``) starts at ``O`` and advances ~1.6 µs per message: the usual burst (50 ms per
message) compressed 50,000 times, with the capture lag compressed alike (to 0-10 µs). Its
commits lie in ``[O - 10 µs, last produce time]`` and its produce times in ``[O, O + span]``,
``span`` ≈ 1.6 µs per message, which is less than the time it takes to generate them. So if the
second burst starts after the first has finished (``O2 - O1`` ≥ the first's generation time >
``span + 10 µs``), every ``source.ts_ms`` and ``ts_ms`` of the second is >= every one of the first
(strictly greater in µs; in whole milliseconds they can be equal when the second starts within a
millisecond of the first one's last message), i.e. commit time never goes backwards in LSN
order over the union of the two streams.

What this costs and what does not hold:

- A burst's changes are committed within its few milliseconds: order lifecycles take
  microseconds, and a burst has no late CDC records (placing a commit minutes back is exactly
  what could put it before an earlier burst's commits; ``late_fraction`` only draws lags that
  the compressed clock and the floor cancel). Late CDC records come from continuous runs and
  explicit clocks (1.0 ``time_scale``).
- Bursts started less than ``span + 10 µs`` apart (overlapping generation) keep disjoint event
  ids, ids and increasing LSNs (conditions above) but their commit times interleave.
- A continuous run's late transactions may be dated before a burst that ran during the last
  hour of the run, and a burst started during a continuous run gets higher LSNs than the
  run's later changes: LSN order and commit order agree across sources only for sources that
  do not overlap in real time.
- Pinned starts are origins too: two bursts pinned less than ``span + 10 µs`` apart interleave.

Final state
-----------
:meth:`PostgresCdcSource.final_state` is the database after the source's last transaction: the
live rows of each table (the last ``after`` image of each) and the ids deleted along the way.
Invalid records are extra twins and never change the state, so upserting those rows and
deleting those ids gives the same tables as replaying the valid changes in LSN order; this is
how a burst is mirrored into a real shop database (``dataplat_resources.postgres``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from dataplat_resources import topics
from simulators.base import LATE_THRESHOLD_US, BaseSource, Draft, SimMessage
from simulators.invalid import CDC_KINDS, CDC_SPEC, cdc_future, corrupt
from simulators.sampling import Weighted
from simulators.timeutil import US_PER_S, WallClock, iso_us
from simulators.world import COUNTRIES, User

DEBEZIUM_VERSION = "2.7.3.Final"
SERVER_NAME = "dataplat"
DATABASE = "shop"
SCHEMA = "public"
TX_KINDS = (
    ("new_order", 0.34),
    ("order_update", 0.40),
    ("signup", 0.12),
    ("user_update", 0.10),
    ("order_purge", 0.02),
    ("user_delete", 0.02),
)
P_SIGNUP_WITH_ORDER = 0.4
NEXT_STATUS: dict[str, Weighted[str]] = {
    "pending": Weighted(("paid", "cancelled"), (0.85, 0.15)),
    "paid": Weighted(("shipped", "cancelled", "refunded"), (0.90, 0.05, 0.05)),
    "shipped": Weighted(("delivered", "refunded"), (0.95, 0.05)),
    "delivered": Weighted(("refunded",), (1.0,)),
}
TERMINAL = frozenset({"cancelled", "refunded"})
P_DELIVERED_REFUNDED_LATER = 0.05
CAPTURE_LAG_US = (5_000, 500_000)
SNAPSHOT_STATUSES = (
    ("delivered", 0.5),
    ("shipped", 0.1),
    ("paid", 0.1),
    ("pending", 0.1),
    ("cancelled", 0.1),
    ("refunded", 0.1),
)
TIERS = ("free", "plus", "premium")
DAY_US = 86_400 * US_PER_S

# Ranges derived from the run's origin (microseconds since the epoch): row ids start at
# origin * ROW_IDS_PER_US + 1 (per table), LSNs at origin * LSN_PER_US, txIds at origin * TX_IDS_PER_US.
# A run may use up to this many per microsecond of real time before reaching the range of a run
# started that much later. Generating a change takes ~15 µs (measured on 2 cores), so a run uses
# at most 1.7 % of its LSN budget (512 per change), 1.3 % of its txIds and 0.007 % of its ids.
ROW_IDS_PER_US = 1_000
LSN_PER_US = 2_048
TX_IDS_PER_US = 16
LSN_STEP = (32, 512)  # WAL bytes between two changes
TX_STEP = (1, 3)
# Latest origin: 2100-01-01, the contract's last valid ts_ms. Ids stay <= 2**62 (RowId), LSNs < 2**63.
MAX_ORIGIN_US = 4_102_444_800_000_000
# A live burst's clock (see simulators.registry.burst_clock): ~1.6 µs per message.
LIVE_BURST_STEP_US = 1

_TX_KIND = Weighted.of(TX_KINDS)
_SNAPSHOT_STATUS = Weighted.of(SNAPSHOT_STATUSES)


@dataclass(frozen=True)
class CdcFinalState:
    """The shop database after a source's last transaction, per table (``users``, ``orders``).

    ``rows`` holds the live rows as the change events carry them (JSON-shaped ``after`` images,
    ids ascending); ``deleted`` the ids deleted since the source started (every one of them was
    inserted by the same source). The images are shared with the source, not copied (the source
    replaces an image on update, never mutates it): treat them as read-only.
    """

    rows: Mapping[str, tuple[dict[str, Any], ...]]
    deleted: Mapping[str, frozenset[int]]

    def counts(self) -> dict[str, dict[str, int]]:
        """``{table: {"rows": n, "deleted": m}}``, for logs and metadata."""
        return {t: {"rows": len(self.rows[t]), "deleted": len(self.deleted[t])} for t in self.rows}


class _Pool:
    """A set with O(1) add, remove and uniform random pick."""

    __slots__ = ("_items", "_pos")

    def __init__(self) -> None:
        self._items: list[int] = []
        self._pos: dict[int, int] = {}

    def add(self, item: int) -> None:
        if item not in self._pos:
            self._pos[item] = len(self._items)
            self._items.append(item)

    def discard(self, item: int) -> None:
        index = self._pos.pop(item, None)
        if index is None:
            return
        last = self._items.pop()
        if index < len(self._items):
            self._items[index] = last
            self._pos[last] = index

    def pick(self, rng: Any) -> int:
        return self._items[rng.randrange(len(self._items))]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: int) -> bool:
        return item in self._pos


class _Row:
    """Current image of a live row plus the times that bound its next change."""

    __slots__ = ("created_us", "image", "updated_us")

    def __init__(self, image: dict[str, Any], created_us: int, updated_us: int) -> None:
        self.image = image
        self.created_us = created_us
        self.updated_us = updated_us


class PostgresCdcSource(BaseSource):
    """Debezium change events for ``public.users`` and ``public.orders``."""

    name: ClassVar[str] = "postgres_cdc"
    topic: ClassVar[str] = topics.CDC_CHANGES
    invalid_kinds: ClassVar[tuple[str, ...]] = CDC_KINDS
    live_burst_step_us: ClassVar[int | None] = LIVE_BURST_STEP_US

    def __init__(self, *, snapshot_users: int = 50, origin_us: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if origin_us is None:
            origin_us = getattr(self.clock, "origin_us", None)
        if origin_us is None:  # the wall clock, or a clock that does not say: the real start
            origin_us = WallClock().now_us()
        if not 0 < origin_us <= MAX_ORIGIN_US:
            raise ValueError(f"origin_us must be after 1970 and not after 2100-01-01, got {origin_us}")
        self.origin_us = origin_us
        self.users: dict[int, _Row] = {}
        self.orders: dict[int, _Row] = {}
        self.user_orders: dict[int, set[int]] = {}
        self.deleted_ids: dict[str, set[int]] = {"users": set(), "orders": set()}
        self.live_users = _Pool()
        self.open_orders = _Pool()
        self.purgeable = _Pool()
        self.first_row_id = origin_us * ROW_IDS_PER_US + 1
        self.next_user_id = self.first_row_id
        self.next_order_id = self.first_row_id
        self.lsn = origin_us * LSN_PER_US
        self.tx_id = origin_us * TX_IDS_PER_US
        self.snapshot_users = snapshot_users
        self._snapshot_pending = snapshot_users > 0
        self.transactions = 0
        # Durations this source models (capture lag, lateness) shrink with a compressed clock.
        self._time_scale = float(getattr(self.clock, "time_scale", 1.0))
        self._capture_lag = (
            int(CAPTURE_LAG_US[0] * self._time_scale),
            max(1, int(CAPTURE_LAG_US[1] * self._time_scale)),
        )
        self._floor_us: int | None = None  # no change is dated before this (set by the first unit)
        self._last_commit_us = 0  # commit time of the last on-time transaction

    # -- row builders -------------------------------------------------------------------

    def _user_image(self, row_id: int, created_us: int, updated_us: int, person: User | None) -> dict[str, Any]:
        if person is not None:  # an existing customer (snapshot): a person of the population
            full_name, country, tier = person.full_name, person.country, person.tier
            # The population's address carries the person's number; the account's carries its row id.
            local, domain = person.email.split("@", 1)
            email = f"{local.rstrip('0123456789') or 'user'}{row_id}@{domain}"
        else:
            full_name, email, country = self.world.new_person(self.rng, row_id)
            tier = "free"
        return {
            "id": row_id,
            "email": email,
            "full_name": full_name,
            "country": country,
            "tier": tier,
            "created_at": iso_us(created_us),
            "updated_at": iso_us(updated_us),
        }

    def _order_image(
        self, row_id: int, user: dict[str, Any], status: str, created_us: int, updated_us: int
    ) -> dict[str, Any]:
        _, _, currency, fx = COUNTRIES[user["country"]]
        usd = min(800.0, max(5.0, self.rng.lognormvariate(4.0, 0.8)))
        return {
            "id": row_id,
            "user_id": user["id"],
            "status": status,
            "total_amount": round(usd * fx, 2),
            "currency": currency,
            "item_count": self.rng.randint(1, 8),
            "created_at": iso_us(created_us),
            "updated_at": iso_us(updated_us),
        }

    # -- state changes --------------------------------------------------------------------

    def _insert_user(self, commit_us: int, created_us: int | None = None, person: User | None = None) -> dict[str, Any]:
        row_id = self.next_user_id
        self.next_user_id += 1
        created = commit_us if created_us is None else created_us
        image = self._user_image(row_id, created, commit_us, person)
        self.users[row_id] = _Row(image, created, commit_us)
        self.user_orders[row_id] = set()
        self.live_users.add(row_id)
        return image

    def _insert_order(self, user_id: int, status: str, commit_us: int, created_us: int | None = None) -> dict[str, Any]:
        row_id = self.next_order_id
        self.next_order_id += 1
        created = commit_us if created_us is None else created_us
        image = self._order_image(row_id, self.users[user_id].image, status, created, commit_us)
        self.orders[row_id] = _Row(image, created, commit_us)
        self.user_orders[user_id].add(row_id)
        self._file_order(row_id, status)
        return image

    def _file_order(self, row_id: int, status: str) -> None:
        """Keep the pools in step with an order's status."""
        self.open_orders.discard(row_id)
        self.purgeable.discard(row_id)
        if status in TERMINAL:
            self.purgeable.add(row_id)
        elif status != "delivered" or self.rng.random() < P_DELIVERED_REFUNDED_LATER:
            self.open_orders.add(row_id)

    def _update(
        self, table: dict[int, _Row], row_id: int, commit_us: int, **changes: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        row = table[row_id]
        before = row.image
        after = {**before, **changes, "updated_at": iso_us(commit_us)}
        row.image = after
        row.updated_us = commit_us
        return before, after

    def _delete_order(self, row_id: int) -> dict[str, Any]:
        row = self.orders.pop(row_id)
        self.open_orders.discard(row_id)
        self.purgeable.discard(row_id)
        self.user_orders[row.image["user_id"]].discard(row_id)
        self.deleted_ids["orders"].add(row_id)
        return row.image

    # -- envelopes ------------------------------------------------------------------------

    def _envelope(
        self,
        table: str,
        op: str,
        images: tuple[dict[str, Any] | None, dict[str, Any] | None],
        *,
        commit_us: int,
        produce_us: int,
        late: bool,
        snapshot: str = "false",
    ) -> Draft:
        before, after = images
        self.lsn += self.rng.randint(*LSN_STEP)
        commit_ms = commit_us // 1_000
        payload = {
            "before": before,
            "after": after,
            "source": {
                "version": DEBEZIUM_VERSION,
                "connector": "postgresql",
                "name": SERVER_NAME,
                "db": DATABASE,
                "schema": SCHEMA,
                "table": table,
                "lsn": self.lsn,
                "txId": self.tx_id,
                "ts_ms": commit_ms,
                "snapshot": snapshot,
            },
            "op": op,
            "ts_ms": max(commit_ms, produce_us // 1_000),
        }
        row_id = (after or before or {})["id"]
        return Draft(f"{table}:{row_id}".encode(), payload, produce_us, late)

    def _snapshot(self) -> list[Draft]:
        """The initial snapshot: existing users and their order history, as ``op: r``."""
        rng = self.rng
        first_produce = self._first_produce()
        snapshot_us = first_produce - rng.randint(*self._capture_lag)
        population = self.world.users
        first_person = rng.randrange(len(population))
        rows: list[tuple[str, dict[str, Any]]] = []
        for index in range(self.snapshot_users):
            created = snapshot_us - rng.randint(DAY_US, 3 * 365 * DAY_US)
            updated = rng.randint(created, snapshot_us - 60 * US_PER_S)
            person = population[(first_person + index) % len(population)]
            user = self._insert_user(updated, created_us=created, person=person)
            rows.append(("users", user))
            for _ in range(min(6, int(rng.expovariate(1 / 1.5)))):
                order_created = rng.randint(created, snapshot_us - 120 * US_PER_S)
                order_updated = rng.randint(order_created, snapshot_us - 60 * US_PER_S)
                status = _SNAPSHOT_STATUS.pick(rng)
                rows.append(("orders", self._insert_order(user["id"], status, order_updated, created_us=order_created)))
        self.tx_id += 1
        drafts = []
        read_us = snapshot_us
        for index, (table, image) in enumerate(rows):
            produce = first_produce if index == 0 else self.clock.now_us()
            flag = "first" if index == 0 else "last" if index == len(rows) - 1 else "true"
            # Debezium stamps a snapshot record with the time it was read, just before capture.
            read_us = max(read_us, produce - self.time_rng.randint(*self._capture_lag))
            drafts.append(
                self._envelope(
                    table, "r", (None, image), commit_us=read_us, produce_us=produce, late=False, snapshot=flag
                )
            )
        self._last_commit_us = read_us
        return drafts

    def _first_produce(self) -> int:
        """The produce time of the next unit; the first one also fixes the floor of commit times."""
        produce = self.clock.now_us()
        if self._floor_us is None:
            self._floor_us = produce - self._capture_lag[1]
        return produce

    def _commit_time(self, first_produce: int, lower_bound_us: int) -> tuple[int, bool]:
        """Commit time of a transaction whose changes are captured from ``first_produce`` on, and
        whether it is late (captured more than ``LATE_THRESHOLD_US`` after its commit)."""
        late = bool(self.late_fraction) and self.time_rng.random() < self.late_fraction
        lag = int(self._late_lag_us() * self._time_scale) if late else self.time_rng.randint(*self._capture_lag)
        # Never before the rows' last change (updated_at must not go backwards) nor before the
        # source's first unit (its database history starts there), else just behind capture.
        floor = self._floor_us if self._floor_us is not None else first_produce
        commit = max(first_produce - lag, lower_bound_us + 1, floor)
        if first_produce - commit > LATE_THRESHOLD_US:
            return commit, True  # placed back on purpose: the one exception to commit-time order
        # On time: commit times never go backwards in LSN order.
        commit = max(commit, self._last_commit_us)
        self._last_commit_us = commit
        return commit, False

    def _transaction(self) -> list[Draft]:
        """Run one transaction against the state and return its change events."""
        rng = self.rng
        kind = _TX_KIND.pick(rng)
        if kind in ("new_order", "user_update", "user_delete") and not self.live_users:
            kind = "signup"
        elif (kind == "order_update" and not self.open_orders) or (kind == "order_purge" and not self.purgeable):
            kind = "new_order" if self.live_users else "signup"
        first_produce = self._first_produce()
        self.tx_id += rng.randint(*TX_STEP)
        changes: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]] = []
        if kind == "signup":
            commit, late = self._commit_time(first_produce, 0)
            user = self._insert_user(commit)
            changes.append(("users", "c", None, user))
            if rng.random() < P_SIGNUP_WITH_ORDER:
                changes.append(("orders", "c", None, self._insert_order(user["id"], "pending", commit)))
        elif kind == "new_order":
            user_id = self.live_users.pick(rng)
            commit, late = self._commit_time(first_produce, self.users[user_id].created_us)
            changes.append(("orders", "c", None, self._insert_order(user_id, "pending", commit)))
        elif kind == "order_update":
            order_id = self.open_orders.pick(rng)
            row = self.orders[order_id]
            status = NEXT_STATUS[row.image["status"]].pick(rng)
            commit, late = self._commit_time(first_produce, row.updated_us)
            before, after = self._update(self.orders, order_id, commit, status=status)
            self._file_order(order_id, status)
            changes.append(("orders", "u", before, after))
        elif kind == "user_update":
            user_id = self.live_users.pick(rng)
            row = self.users[user_id]
            commit, late = self._commit_time(first_produce, row.updated_us)
            field = rng.choice(("tier", "tier", "email", "full_name"))
            if field == "tier":
                value = rng.choice([t for t in TIERS if t != row.image["tier"]])
            elif field == "email":
                local = row.image["email"].split("@", 1)[0]
                value = (
                    f"{local}@{rng.choice([d for d in self.world.email_domains if not row.image['email'].endswith(d)])}"
                )
            else:
                value = self.world.new_person(rng, user_id)[0]
            before, after = self._update(self.users, user_id, commit, **{field: value})
            changes.append(("users", "u", before, after))
        elif kind == "order_purge":
            order_id = self.purgeable.pick(rng)
            commit, late = self._commit_time(first_produce, self.orders[order_id].updated_us)
            changes.append(("orders", "d", self._delete_order(order_id), None))
        else:  # user_delete: orders first, then the user, in one transaction
            user_id = self.live_users.pick(rng)
            order_ids = sorted(self.user_orders[user_id])
            bound = max([self.users[user_id].updated_us, *(self.orders[o].updated_us for o in order_ids)])
            commit, late = self._commit_time(first_produce, bound)
            for order_id in order_ids:
                changes.append(("orders", "d", self._delete_order(order_id), None))
            row = self.users.pop(user_id)
            self.live_users.discard(user_id)
            del self.user_orders[user_id]
            self.deleted_ids["users"].add(user_id)
            changes.append(("users", "d", row.image, None))
        if late:
            self.late_emitted += len(changes)
        self.transactions += 1
        drafts = []
        for index, (table, op, before, after) in enumerate(changes):
            produce = first_produce if index == 0 else self.clock.now_us()
            drafts.append(self._envelope(table, op, (before, after), commit_us=commit, produce_us=produce, late=late))
        return drafts

    # -- state ----------------------------------------------------------------------------

    def final_state(self) -> CdcFinalState:
        """The tables as they are now (after the last generated transaction); see :class:`CdcFinalState`.

        Row ids are handed out in ascending order and dicts keep insertion order, so the rows
        come out sorted by id without sorting.
        """
        return CdcFinalState(
            rows={
                "users": tuple(row.image for row in self.users.values()),
                "orders": tuple(row.image for row in self.orders.values()),
            },
            deleted={table: frozenset(ids) for table, ids in self.deleted_ids.items()},
        )

    # -- BaseSource -------------------------------------------------------------------------

    def _drafts(self) -> tuple[list[Draft], float]:
        if self._snapshot_pending:
            self._snapshot_pending = False
            return self._snapshot(), 0.0
        drafts = self._transaction()
        return drafts, float(len(drafts))

    def _corrupt(self, draft: Draft, kind: str) -> SimMessage:
        value = corrupt(draft.payload, kind, CDC_SPEC, self.fault_rng, draft.produce_us, future=cdc_future)
        return self.invalid_message(draft, kind, value)
