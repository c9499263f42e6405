"""Change data capture from the Postgres shop database, in the Debezium envelope
(topic ``topic_cdc_changes``).

The envelope is ``before``/``after`` row images, a ``source`` block (``lsn``, ``txId``,
``table``, ``ts_ms``, ...), ``op`` in c/u/d/r and ``ts_ms``. The row image type follows
``source.table``, so an order image under ``users`` is refused.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, Discriminator, Field, Tag, TypeAdapter, model_validator

from dataplat_resources.contracts._base import (
    EARLIEST_EVENT_TIME,
    Contract,
    CountryCode,
    CurrencyCode,
    Money,
    Text,
)

EARLIEST_TS_MS = int(EARLIEST_EVENT_TIME.timestamp() * 1000)
EpochMillis = Annotated[int, Field(ge=EARLIEST_TS_MS, le=4_102_444_800_000, description="Epoch milliseconds.")]
RowId = Annotated[int, Field(ge=1, le=2**62)]


class Op(StrEnum):
    CREATE = "c"
    UPDATE = "u"
    DELETE = "d"
    READ = "r"  # snapshot read


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


# The order lifecycle. An update may keep the status or move along one of these edges.
ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED, OrderStatus.REFUNDED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED, OrderStatus.REFUNDED}),
    OrderStatus.DELIVERED: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REFUNDED: frozenset(),
}


class UserTier(StrEnum):
    FREE = "free"
    PLUS = "plus"
    PREMIUM = "premium"


class UserRow(Contract):
    """A row of ``public.users``."""

    id: RowId
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")]
    full_name: Text
    country: CountryCode
    tier: UserTier
    created_at: AwareDatetime
    updated_at: AwareDatetime


class OrderRow(Contract):
    """A row of ``public.orders``; ``user_id`` references ``public.users.id``."""

    id: RowId
    user_id: RowId
    status: OrderStatus
    total_amount: Money
    currency: CurrencyCode
    item_count: Annotated[int, Field(ge=1, le=1000)]
    created_at: AwareDatetime
    updated_at: AwareDatetime


class CdcSource(Contract):
    """Debezium's ``source`` block for the Postgres connector."""

    version: Annotated[str, Field(min_length=1, max_length=32)]
    connector: Literal["postgresql"]
    name: Annotated[str, Field(min_length=1, max_length=128)]
    db: Annotated[str, Field(min_length=1, max_length=63)]
    schema_name: Annotated[str, Field(min_length=1, max_length=63, alias="schema")]
    table: Literal["users", "orders"]
    lsn: Annotated[int, Field(ge=0)]
    txId: Annotated[int, Field(ge=0)]  # noqa: N815 - Debezium's field name
    ts_ms: EpochMillis
    snapshot: Literal["true", "false", "last", "first", "incremental"] = "false"


class _Change(Contract):
    source: CdcSource
    op: Op
    ts_ms: EpochMillis

    @model_validator(mode="after")
    def _envelope(self) -> Self:
        before, after = getattr(self, "before"), getattr(self, "after")  # noqa: B009
        match self.op:
            case Op.CREATE | Op.READ:
                if before is not None:
                    raise ValueError(f"op {self.op.value!r} must not have a before image")
                if after is None:
                    raise ValueError(f"op {self.op.value!r} needs an after image")
            case Op.UPDATE:
                if before is None or after is None:
                    raise ValueError("op 'u' needs both before and after images")
                if before.id != after.id:
                    raise ValueError(f"op 'u' changes the primary key ({before.id} -> {after.id})")
                if after.updated_at < before.updated_at:
                    raise ValueError("op 'u' moves updated_at backwards")
            case Op.DELETE:
                if after is not None:
                    raise ValueError("op 'd' must not have an after image")
                if before is None:
                    raise ValueError("op 'd' needs a before image")
        if self.source.ts_ms > self.ts_ms:
            raise ValueError("source.ts_ms (commit time) is after ts_ms (capture time)")
        if (self.op is Op.READ) != (self.source.snapshot != "false"):
            raise ValueError("op 'r' happens exactly when source.snapshot is not 'false'")
        return self

    @property
    def row_id(self) -> int:
        image = getattr(self, "after") or getattr(self, "before")  # noqa: B009
        return image.id


class UserChange(_Change):
    """A change to ``public.users``."""

    before: UserRow | None = None
    after: UserRow | None = None


class OrderChange(_Change):
    """A change to ``public.orders``."""

    before: OrderRow | None = None
    after: OrderRow | None = None

    @model_validator(mode="after")
    def _lifecycle(self) -> Self:
        if self.op is Op.UPDATE and self.before and self.after:
            old, new = self.before.status, self.after.status
            if new != old and new not in ORDER_TRANSITIONS[old]:
                raise ValueError(f"order status cannot go from {old.value!r} to {new.value!r}")
            if self.before.user_id != self.after.user_id:
                raise ValueError("an order cannot move to another user")
        return self


def _table_of(value: Any) -> str | None:
    source = value.get("source") if isinstance(value, dict) else getattr(value, "source", None)
    if isinstance(source, dict):
        return source.get("table")
    return getattr(source, "table", None)


CdcChange = Annotated[
    Annotated[UserChange, Tag("users")] | Annotated[OrderChange, Tag("orders")],
    Discriminator(
        _table_of,
        custom_error_type="unknown_table",
        custom_error_message="source.table must be 'users' or 'orders'",
    ),
]
CDC_TAGS = frozenset({"users", "orders"})
cdc_change_adapter: TypeAdapter[UserChange | OrderChange] = TypeAdapter(CdcChange)
