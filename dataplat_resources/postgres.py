"""The shop database that the CDC stream describes: ``public.users`` and ``public.orders`` on PostgreSQL.

Plain code over psycopg 3, no Dagster: the ``postgres_cdc`` simulator asset mirrors each burst
into it, ``dataplat health`` probes it and the ``matches_source_database`` check compares silver's
current state with it.

Schema: the columns of ``UserRow``/``OrderRow`` (:mod:`dataplat_resources.contracts.cdc`) with the
contracts' enums and bounds as CHECK constraints. ``orders.user_id`` references ``users.id``
``ON DELETE RESTRICT``: the simulated shop deletes a user's orders itself, then the user, in one
transaction (:mod:`simulators.cdc`), and the stream carries a delete event for every one of them.
A cascade would be invisible in a mirror (orders vanishing that the stream still shows live), so
a user delete that would orphan orders fails loudly instead, and the whole apply rolls back.

Idempotency: :meth:`ShopDatabase.apply` takes *final* row states (not a change log). It stages
them with ``COPY`` and upserts with ``INSERT ... ON CONFLICT DO UPDATE`` only where a column differs
and the incoming ``updated_at`` is not older than the stored one (a row never moves back in time),
then deletes the deleted ids, all in ONE transaction. Applying the same state again changes
nothing, and a failure leaves the database as it was.

Errors are :class:`ShopDatabaseError`, naming the server (``user@host:port/db``) and what failed.
The password is kept out of every message and ``repr``.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, Self

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from dataplat_resources.contracts.cdc import OrderRow, OrderStatus, UserRow, UserTier

if TYPE_CHECKING:
    from dataplat_resources.settings import PostgresSettings

SCHEMA = "public"
# Parents first: upserts run in this order, deletes in the reverse one (orders before their user).
TABLES: tuple[str, ...] = ("users", "orders")
COLUMNS: dict[str, tuple[str, ...]] = {"users": tuple(UserRow.model_fields), "orders": tuple(OrderRow.model_fields)}
# information_schema.columns.data_type of every column, to recognise a table of another shape.
COLUMN_TYPES: dict[str, dict[str, str]] = {
    "users": {
        "id": "bigint",
        "email": "character varying",
        "full_name": "character varying",
        "country": "character",
        "tier": "text",
        "created_at": "timestamp with time zone",
        "updated_at": "timestamp with time zone",
    },
    "orders": {
        "id": "bigint",
        "user_id": "bigint",
        "status": "text",
        "total_amount": "numeric",
        "currency": "character",
        "item_count": "integer",
        "created_at": "timestamp with time zone",
        "updated_at": "timestamp with time zone",
    },
}
# Serialises schema creation: concurrent CREATE TABLE IF NOT EXISTS can still collide.
SCHEMA_LOCK_ID = 0x5348_4F50  # "SHOP"
DEFAULT_CONNECT_TIMEOUT_S = 10


def _values(enum: type[Enum]) -> str:
    return ", ".join(f"'{member.value}'" for member in enum)


DDL: tuple[str, ...] = (
    f"""
    CREATE TABLE IF NOT EXISTS {SCHEMA}.users (
        id          bigint       PRIMARY KEY CHECK (id >= 1),
        email       varchar(254) NOT NULL,
        full_name   varchar(255) NOT NULL,
        country     char(2)      NOT NULL CHECK (country ~ '^[A-Z]{{2}}$'),
        tier        text         NOT NULL CHECK (tier IN ({_values(UserTier)})),
        created_at  timestamptz  NOT NULL,
        updated_at  timestamptz  NOT NULL
    )""",
    f"""
    CREATE TABLE IF NOT EXISTS {SCHEMA}.orders (
        id           bigint        PRIMARY KEY CHECK (id >= 1),
        user_id      bigint        NOT NULL REFERENCES {SCHEMA}.users (id) ON DELETE RESTRICT,
        status       text          NOT NULL CHECK (status IN ({_values(OrderStatus)})),
        total_amount numeric(12,2) NOT NULL CHECK (total_amount BETWEEN 0 AND 1000000),
        currency     char(3)       NOT NULL CHECK (currency ~ '^[A-Z]{{3}}$'),
        item_count   integer       NOT NULL CHECK (item_count BETWEEN 1 AND 1000),
        created_at   timestamptz   NOT NULL,
        updated_at   timestamptz   NOT NULL
    )""",
    # The RESTRICT check of a user delete looks up that user's orders.
    f"CREATE INDEX IF NOT EXISTS orders_user_id_idx ON {SCHEMA}.orders (user_id)",
)


class ShopDatabaseError(RuntimeError):
    """Something failed against the shop database; the message names the server and the step."""


@dataclass(frozen=True)
class TableApply:
    """What one apply did to one table. ``unchanged`` rows were already equal (or newer)."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    @property
    def upserted(self) -> int:
        return self.inserted + self.updated


@dataclass(frozen=True)
class ApplyResult:
    """Per table, what :meth:`ShopDatabase.apply` changed, and how long its transaction took."""

    tables: dict[str, TableApply]
    elapsed_s: float

    @property
    def changed(self) -> bool:
        return any(t.upserted or t.deleted for t in self.tables.values())

    def as_metadata(self) -> dict[str, int]:
        """Flat counters (``users_upserted``, ``orders_deleted``, ...) for logs and asset metadata."""
        out: dict[str, int] = {}
        for table, t in self.tables.items():
            out.update(
                {
                    f"{table}_upserted": t.upserted,
                    f"{table}_inserted": t.inserted,
                    f"{table}_updated": t.updated,
                    f"{table}_unchanged": t.unchanged,
                    f"{table}_deleted": t.deleted,
                }
            )
        return out


@dataclass(frozen=True)
class ShopStatus:
    """What :meth:`ShopDatabase.inspect` found: server version, schema state and row counts."""

    server_version: str
    missing_tables: tuple[str, ...]
    problems: tuple[str, ...]  # columns missing or of another type
    row_counts: dict[str, int]  # tables that exist

    @property
    def schema_ok(self) -> bool:
        return not self.missing_tables and not self.problems


def _plain(value: Any) -> Any:
    """A value COPY can send as text: enum members by value, everything else as is."""
    return value.value if isinstance(value, Enum) else value


def _describe(exc: BaseException) -> str:
    sqlstate = getattr(exc, "sqlstate", None)
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{text} (SQLSTATE {sqlstate})" if sqlstate else text


class ShopDatabase:
    """The shop database on one PostgreSQL server. Every method opens its own short connection."""

    def __init__(
        self,
        host: str,
        port: int = 5432,
        dbname: str = "shop",
        user: str = "dataplat",
        password: str = "",
        *,
        connect_timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S,
    ) -> None:
        if not host:
            raise ValueError("no shop database configured (POSTGRES_HOST is empty)")
        self.host, self.port, self.dbname, self.user = host, int(port), dbname, user
        self.connect_timeout_s = connect_timeout_s
        self.__password = password

    @classmethod
    def from_settings(cls, settings: PostgresSettings, *, connect_timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S) -> Self:
        """From ``POSTGRES_*`` (plain processes; Dagster uses ``PostgresResource.shop()``)."""
        return cls(
            settings.host,
            settings.port,
            settings.db,
            settings.user,
            settings.password.get_secret_value(),
            connect_timeout_s=connect_timeout_s,
        )

    @property
    def target(self) -> str:
        """``user@host:port/db``: how messages name the server (never with the password)."""
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"

    def __repr__(self) -> str:
        return f"ShopDatabase({self.target})"

    # -- connections and errors --------------------------------------------------------------

    def _redact(self, text: str) -> str:
        """Belt and braces: libpq does not echo passwords, but nothing we raise may carry one."""
        password = self.__password
        return text.replace(password, "***") if len(password) >= 4 else text

    def _connect(self, action: str) -> psycopg.Connection[Any]:
        conninfo = make_conninfo(
            host=self.host,
            port=self.port,
            dbname=self.dbname,
            user=self.user,
            password=self.__password or None,
            connect_timeout=self.connect_timeout_s,
            application_name="dataplat",
            options="-c TimeZone=UTC",
        )
        try:
            return psycopg.connect(conninfo)
        except psycopg.Error as exc:
            message = f"{action}: cannot connect to the shop database {self.target}: {_describe(exc)}"
            raise ShopDatabaseError(self._redact(message)) from None

    @contextmanager
    def _session(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        """A connection that commits on success, rolls back on error and turns psycopg errors into
        :class:`ShopDatabaseError` naming ``action`` and the server."""
        conn = self._connect(action)
        try:
            with conn:
                yield conn
        except psycopg.Error as exc:
            raise ShopDatabaseError(self._redact(f"{action} on {self.target} failed: {_describe(exc)}")) from None

    # -- schema ---------------------------------------------------------------------------------

    @staticmethod
    def _existing(conn: psycopg.Connection[Any]) -> dict[str, dict[str, str]]:
        rows = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = ANY(%s) ORDER BY table_name, ordinal_position",
            (SCHEMA, list(TABLES)),
        ).fetchall()
        found: dict[str, dict[str, str]] = {}
        for table, column, data_type in rows:
            found.setdefault(table, {})[column] = data_type
        return found

    @staticmethod
    def _problems(found: Mapping[str, Mapping[str, str]]) -> list[str]:
        """Columns missing or of another type in the tables that exist (extra columns are allowed)."""
        problems = []
        for table, columns in found.items():
            for column, wanted in COLUMN_TYPES[table].items():
                have = columns.get(column)
                if have is None:
                    problems.append(f"{SCHEMA}.{table}.{column} is missing")
                elif have != wanted:
                    problems.append(f"{SCHEMA}.{table}.{column} is {have}, expected {wanted}")
        return problems

    def ensure_schema(self) -> list[str]:
        """Create the tables and the index where missing; returns the tables it created.

        Idempotent and safe to run concurrently (an advisory lock serialises it). A table that
        exists with other columns is an error, not something to alter silently.
        """
        with self._session("creating the shop schema") as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_ID,))
            found = self._existing(conn)
            problems = self._problems(found)
            if problems:
                raise ShopDatabaseError(
                    f"the shop schema on {self.target} does not match the CDC contracts: {'; '.join(problems)}"
                )
            for statement in DDL:
                conn.execute(statement)  # type: ignore[arg-type] - constant DDL, no user input
        return [t for t in TABLES if t not in found]

    def inspect(self) -> ShopStatus:
        """Server version, missing tables, schema problems and row counts, in one connection."""
        with self._session("inspecting the shop database") as conn:
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            found = self._existing(conn)
            counts = {}
            for table in (t for t in TABLES if t in found):
                count = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, table))
                counts[table] = int(conn.execute(count).fetchone()[0])  # type: ignore[index]
        return ShopStatus(
            server_version=version,
            missing_tables=tuple(t for t in TABLES if t not in found),
            problems=tuple(self._problems(found)),
            row_counts=counts,
        )

    # -- writing ----------------------------------------------------------------------------------

    @staticmethod
    def _prepare(
        rows: Mapping[str, Iterable[Mapping[str, Any]]], deleted: Mapping[str, Iterable[int]]
    ) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, list[int]]]:
        """Rows as tuples in column order and sorted id lists; refuses what cannot be applied."""
        unknown = sorted((set(rows) | set(deleted)) - set(TABLES))
        if unknown:
            raise ValueError(f"unknown shop table(s) {unknown}; the shop has {list(TABLES)}")
        staged: dict[str, list[tuple[Any, ...]]] = {}
        for table in TABLES:
            columns = COLUMNS[table]
            out = staged[table] = []
            for row in rows.get(table, ()):
                try:
                    out.append(tuple(_plain(row[c]) for c in columns))
                except KeyError as exc:
                    raise ValueError(f"a {table} row (id {row.get('id')!r}) has no column {exc.args[0]!r}") from None
        ids = {t: sorted({int(i) for i in deleted.get(t, ())}) for t in TABLES}
        for table in TABLES:
            both = {r[0] for r in staged[table]}.intersection(ids[table])
            if both:
                raise ValueError(f"{table} ids both upserted and deleted: {sorted(both)[:10]}")
        return staged, ids

    @staticmethod
    def _upsert(conn: psycopg.Connection[Any], table: str, rows: list[tuple[Any, ...]]) -> TableApply:
        columns = COLUMNS[table]
        stage = sql.Identifier(f"stage_{table}")
        target = sql.Identifier(SCHEMA, table)
        names = sql.SQL(", ").join(map(sql.Identifier, columns))
        values = [c for c in columns if c != "id"]
        conn.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {}) ON COMMIT DROP").format(stage, target))
        with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(stage, names)) as copy:
            for row in rows:
                copy.write_row(row)
        query = sql.SQL(
            """
            WITH up AS (
                INSERT INTO {target} AS t ({names})
                SELECT DISTINCT ON (id) {names} FROM {stage} ORDER BY id, updated_at DESC
                ON CONFLICT (id) DO UPDATE SET {assign}
                WHERE t.updated_at <= EXCLUDED.updated_at AND ({old}) IS DISTINCT FROM ({new})
                RETURNING (xmax = 0) AS inserted
            )
            SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
                   (SELECT count(DISTINCT id) FROM {stage})
            FROM up
            """
        ).format(
            target=target,
            names=names,
            stage=stage,
            assign=sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in values),
            old=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in values),
            new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in values),
        )
        inserted, updated, distinct = conn.execute(query).fetchone()  # type: ignore[misc]
        return TableApply(inserted=inserted, updated=updated, unchanged=distinct - inserted - updated)

    def apply(
        self,
        rows: Mapping[str, Iterable[Mapping[str, Any]]],
        deleted: Mapping[str, Collection[int]] | None = None,
    ) -> ApplyResult:
        """Make the tables hold ``rows`` (final row states, per table) and not hold ``deleted`` ids.

        One transaction: users are upserted, then orders, then deleted orders and deleted users go.
        Rows may be JSON-shaped (ISO timestamps, as in the change events) or typed. Re-applying
        the same state is a no-op (everything ``unchanged``); any failure rolls everything back.
        The schema must exist (:meth:`ensure_schema`).
        """
        staged, ids = self._prepare(rows, deleted or {})
        started = time.perf_counter()
        results: dict[str, TableApply] = {}
        with self._session("applying row states") as conn, conn.transaction():
            for table in TABLES:
                results[table] = self._upsert(conn, table, staged[table]) if staged[table] else TableApply()
            for table in reversed(TABLES):
                if not ids[table]:
                    continue
                cursor = conn.execute(
                    sql.SQL("DELETE FROM {} WHERE id = ANY(%s::bigint[])").format(sql.Identifier(SCHEMA, table)),
                    (ids[table],),
                )
                t = results[table]
                results[table] = TableApply(t.inserted, t.updated, t.unchanged, cursor.rowcount)
        return ApplyResult(tables=results, elapsed_s=time.perf_counter() - started)

    # -- reading ----------------------------------------------------------------------------------

    def read_table(self, table: str, ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
        """Rows of ``table`` (optionally only ``ids``) by ascending id, as Python values: UTC
        datetimes, ``total_amount`` as float (what the contracts and the lake hold)."""
        if table not in TABLES:
            raise ValueError(f"unknown shop table {table!r}; the shop has {list(TABLES)}")
        query = sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(map(sql.Identifier, COLUMNS[table])), sql.Identifier(SCHEMA, table)
        )
        params: tuple[Any, ...] = ()
        if ids is not None:
            query += sql.SQL(" WHERE id = ANY(%s::bigint[])")
            params = (sorted({int(i) for i in ids}),)
        query += sql.SQL(" ORDER BY id")
        with self._session(f"reading {SCHEMA}.{table}") as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(query, params).fetchall()
        for row in rows:
            for key, value in row.items():
                if isinstance(value, Decimal):
                    row[key] = float(value)
                elif isinstance(value, datetime):
                    row[key] = value.astimezone(UTC)
        return rows
