"""The shop database against a real PostgreSQL server (``postgres_server`` in conftest, never a mock):
schema, mirroring CDC bursts' final states, idempotency, errors, the health probe and the Dagster
simulator asset. Every test gets its own database (``shop_server``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import psycopg
import pytest

from dataplat_resources.contracts.cdc import OrderRow, UserRow
from dataplat_resources.postgres import COLUMNS, TABLES, ShopDatabase, ShopDatabaseError
from simulators.base import INVALID_HEADER
from simulators.cdc import CdcFinalState, PostgresCdcSource
from simulators.registry import burst_clock, make_source
from simulators.world import build_world
from tests.conftest import KafkaCluster, ShopServer

ORIGIN_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z: pinned, so every burst here is reproducible
MODELS = {"users": UserRow, "orders": OrderRow}


# -- helpers -----------------------------------------------------------------------------------------


def cdc_source(seed: int, origin_us: int = ORIGIN_US, events: int = 1_000) -> PostgresCdcSource:
    """A postgres_cdc source on a burst's clock, as ``run_burst`` builds it (no Kafka needed)."""
    clock = burst_clock("postgres_cdc", seed, events, origin_us)
    source = make_source("postgres_cdc", seed=seed, clock=clock, world=build_world(7))
    assert isinstance(source, PostgresCdcSource)
    return source


def replay(values: Iterable[bytes]) -> tuple[dict[str, dict[int, dict[str, Any]]], dict[str, set[int]]]:
    """Valid Debezium changes applied in LSN order: the live rows and the deleted ids, per table."""
    changes = sorted((orjson.loads(v) for v in values), key=lambda c: c["source"]["lsn"])
    rows: dict[str, dict[int, dict[str, Any]]] = {t: {} for t in TABLES}
    deleted: dict[str, set[int]] = {t: set() for t in TABLES}
    for change in changes:
        table = change["source"]["table"]
        if change["op"] == "d":
            row_id = change["before"]["id"]
            del rows[table][row_id]  # a delete always follows the row's insert
            deleted[table].add(row_id)
        else:
            rows[table][change["after"]["id"]] = change["after"]
    return rows, deleted


def typed(table: str, images: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Row images as the contracts read them (datetimes, floats), by id: what the database must return."""
    models = [MODELS[table].model_validate_json(orjson.dumps(image)) for image in images]
    return [m.model_dump() for m in sorted(models, key=lambda m: m.id)]


def xmins(shop_server: ShopServer, table: str) -> dict[int, str]:
    """Row versions: unchanged xmin proves a write touched nothing."""
    with psycopg.connect(**conn_kwargs(shop_server)) as conn:
        return {r[0]: str(r[1]) for r in conn.execute(f"SELECT id, xmin FROM public.{table}")}


def conn_kwargs(shop_server: ShopServer) -> dict[str, Any]:
    s = shop_server.server
    return {"host": s.host, "port": s.port, "dbname": shop_server.database, "user": s.role, "password": s.password}


# -- the simulator's final state -------------------------------------------------------------------------


def test_final_state_equals_a_replay_of_the_valid_changes() -> None:
    """Mid-run and at the end, ``final_state()`` is what the valid stream so far replays into."""
    source = cdc_source(seed=3)
    messages = source.take(800)
    for _ in range(2):
        state = source.final_state()
        valid = [m.value for m in messages if m.invalid_kind is None]
        assert len(valid) < len(messages)  # invalid twins were produced and are ignored
        rows, deleted = replay(valid)
        for table in TABLES:
            assert [r["id"] for r in state.rows[table]] == sorted(rows[table])
            assert list(state.rows[table]) == [rows[table][i] for i in sorted(rows[table])]
            assert state.deleted[table] == deleted[table]
        assert state.counts()["users"]["deleted"] > 0 and state.counts()["orders"]["deleted"] > 0
        messages += source.take(1_500)


# -- schema ---------------------------------------------------------------------------------------------


def test_schema_is_created_idempotently_and_follows_the_contracts(shop_server: ShopServer) -> None:
    shop = shop_server.shop()
    assert shop.ensure_schema() == ["users", "orders"]
    assert shop.ensure_schema() == []  # nothing to do the second time
    status = shop.inspect()
    assert status.schema_ok and status.row_counts == {"users": 0, "orders": 0}
    assert status.server_version.split(".")[0].isdigit()
    with psycopg.connect(**conn_kwargs(shop_server)) as conn:
        for table in TABLES:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
                    "AND table_name = %s ORDER BY ordinal_position",
                    (table,),
                )
            ]
            assert tuple(names) == COLUMNS[table] == tuple(MODELS[table].model_fields)
        # orders.user_id -> users.id, ON DELETE RESTRICT ('r'): a user delete never cascades silently
        (fk,) = conn.execute(
            "SELECT confrelid::regclass::text, confdeltype FROM pg_constraint "
            "WHERE conrelid = 'public.orders'::regclass AND contype = 'f'"
        ).fetchall()
        assert fk == ("users", "r")


def test_a_table_of_another_shape_is_refused(shop_server: ShopServer) -> None:
    with psycopg.connect(**conn_kwargs(shop_server)) as conn:
        conn.execute("CREATE TABLE public.users (id bigint PRIMARY KEY, email text)")
    shop = shop_server.shop()
    with pytest.raises(ShopDatabaseError) as caught:
        shop.ensure_schema()
    message = str(caught.value)
    assert shop.target in message and "public.users.full_name is missing" in message
    assert "public.users.email is text, expected character varying" in message
    status = shop.inspect()
    assert status.missing_tables == ("orders",) and not status.schema_ok  # nothing was created


# -- mirroring ------------------------------------------------------------------------------------------


def test_a_burst_final_state_is_mirrored_exactly_and_reapplying_is_a_no_op(shop_server: ShopServer) -> None:
    source = cdc_source(seed=5)
    source.take(2_000)
    state = source.final_state()
    shop = shop_server.shop()
    shop.ensure_schema()

    first = shop.apply(state.rows, state.deleted)
    for table in TABLES:
        assert shop.read_table(table) == typed(table, state.rows[table])
        result = first.tables[table]
        # ids deleted during the burst were inserted by it too: never in the database, nothing to delete
        assert (result.inserted, result.updated, result.unchanged, result.deleted) == (len(state.rows[table]), 0, 0, 0)
    assert first.changed and first.as_metadata()["orders_upserted"] == len(state.rows["orders"])

    before = {t: xmins(shop_server, t) for t in TABLES}
    again = shop.apply(state.rows, state.deleted)
    assert not again.changed
    for table in TABLES:
        assert again.tables[table].unchanged == len(state.rows[table])
        assert xmins(shop_server, table) == before[table]  # not one row version written
        assert shop.read_table(table) == typed(table, state.rows[table])


def test_two_bursts_accumulate_and_a_later_state_deletes_rows(shop_server: ShopServer) -> None:
    shop = shop_server.shop()
    shop.ensure_schema()
    first = cdc_source(seed=8)
    first.take(1_500)
    shop.apply(first.final_state().rows, first.final_state().deleted)

    # A second burst (later origin: disjoint ids), mirrored mid-run and again at its end, as a
    # continuous run would be: the rows it deleted in between must go, users together with their orders.
    second = cdc_source(seed=9, origin_us=ORIGIN_US + 1_000_000)
    second.take(1_500)
    middle = second.final_state()
    shop.apply(middle.rows, middle.deleted)
    second.take(3_000)
    end = second.final_state()
    applied = shop.apply(end.rows, end.deleted)

    gone = {t: {r["id"] for r in middle.rows[t]} & end.deleted[t] for t in TABLES}
    assert gone["users"] and gone["orders"]  # the seed deletes users (with orders) and purges orders
    for table in TABLES:
        assert applied.tables[table].deleted == len(gone[table])
        expected = typed(table, [*first.final_state().rows[table], *end.rows[table]])
        assert shop.read_table(table) == expected
    assert shop.inspect().row_counts == {t: len(first.final_state().rows[t]) + len(end.rows[t]) for t in TABLES}
    assert shop.read_table("users", ids=gone["users"]) == []


def test_a_failed_apply_changes_nothing(shop_server: ShopServer) -> None:
    """One transaction: a user delete that would orphan orders (RESTRICT) rolls back the upserts too."""
    source = cdc_source(seed=5)
    source.take(600)
    state = source.final_state()
    shop = shop_server.shop()
    shop.ensure_schema()
    shop.apply(state.rows, state.deleted)
    owner = state.rows["orders"][0]["user_id"]
    renamed = {**state.rows["users"][-1], "full_name": "Changed Name", "updated_at": "2027-01-01T00:00:00+00:00"}
    before = {t: shop.read_table(t) for t in TABLES}

    with pytest.raises(ShopDatabaseError) as caught:
        shop.apply({"users": [renamed]}, {"users": [owner]})
    message = str(caught.value)
    assert "applying row states on" in message and shop.target in message
    assert "orders_user_id_fkey" in message and "23503" in message
    assert {t: shop.read_table(t) for t in TABLES} == before


def test_inputs_that_cannot_be_applied_are_refused_before_connecting() -> None:
    shop = ShopDatabase("127.0.0.1", 1, "nowhere", "nobody", "never-used")
    with pytest.raises(ValueError, match="unknown shop table"):
        shop.apply({"customers": []})
    with pytest.raises(ValueError, match="has no column 'email'"):
        shop.apply({"users": [{"id": 1}]})
    with pytest.raises(ValueError, match="both upserted and deleted"):
        shop.apply({"orders": [dict.fromkeys(COLUMNS["orders"], 1)]}, {"orders": [1]})


# -- errors and secrets ----------------------------------------------------------------------------------


def test_errors_name_the_server_and_never_the_password(shop_server: ShopServer) -> None:
    server = shop_server.server
    wrong = "wrong-" + server.password[::-1]
    cases = {
        "password": shop_server.shop(password=wrong),
        "database": shop_server.shop(dbname="no_such_db"),
        "port": shop_server.shop(port=1),
    }
    messages = {}
    for case, shop in cases.items():
        with pytest.raises(ShopDatabaseError) as caught:
            shop.ensure_schema()
        messages[case] = str(caught.value)
        assert shop.target in messages[case] and "creating the shop schema" in messages[case]
        for secret in (server.password, wrong):
            assert secret not in messages[case] and secret not in repr(shop)
    assert "password authentication failed" in messages["password"]
    assert 'database "no_such_db" does not exist' in messages["database"]
    assert "127.0.0.1" in messages["port"] and ":1/" in messages["port"]


# -- health ------------------------------------------------------------------------------------------------


def _probes(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> list[Any]:
    from dataplat.health import postgres_probes
    from dataplat_resources.settings import PlatformSettings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return postgres_probes(PlatformSettings(), connect_timeout_s=3)


def test_health_probe_reports_connection_schema_and_row_counts(
    shop_server: ShopServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataplat.health import FAIL, OK, WARN, healthy

    env = shop_server.env()
    fresh = _probes(monkeypatch, env)
    assert [(p.name, p.status) for p in fresh] == [("connection", OK), ("schema", WARN)]
    assert shop_server.shop().target in fresh[0].detail and "PostgreSQL" in fresh[0].detail

    source = cdc_source(seed=5)
    source.take(300)
    state = source.final_state()
    shop_server.shop().ensure_schema()
    shop_server.shop().apply(state.rows, state.deleted)
    probes = _probes(monkeypatch, env)
    assert [(p.name, p.status) for p in probes] == [("connection", OK), ("schema", OK), ("users", OK), ("orders", OK)]
    assert probes[2].detail == f"{len(state.rows['users']):,} rows" and healthy(probes)

    wrong = "wrong-" + shop_server.server.password
    for broken in ({"POSTGRES_PASSWORD": wrong}, {"POSTGRES_PORT": "1"}):
        (probe,) = _probes(monkeypatch, {**env, **broken})
        assert probe.status == FAIL and probe.component == "postgres" and not healthy([probe])
        assert "ShopDatabaseError" in probe.detail and shop_server.database in probe.detail
        assert shop_server.server.password not in probe.detail and wrong not in probe.detail

    (off,) = _probes(monkeypatch, {**env, "POSTGRES_HOST": ""})
    assert off.status == OK and "not configured" in off.detail


# -- the Dagster asset ---------------------------------------------------------------------------------


def _kafka_values(kafka: KafkaCluster, topic: str, ranges: dict[str, dict[str, int]]) -> list[bytes]:
    """The valid records of one burst, read back from the offsets its asset reported."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap,
            "group.id": "postgres-test",
            "enable.auto.commit": False,
            "fetch.queue.backoff.ms": 10,
        }
    )
    consumer.assign([TopicPartition(topic, int(p), span["first"]) for p, span in ranges.items()])
    remaining = {int(p): span["last"] - span["first"] + 1 for p, span in ranges.items()}
    values: list[bytes] = []
    try:
        while any(remaining.values()):
            msg = consumer.poll(10)
            assert msg is not None, f"timed out reading {topic}: {remaining} records still expected"
            assert msg.error() is None, msg.error()
            if remaining[msg.partition()] == 0:
                continue  # past this burst's range
            remaining[msg.partition()] -= 1
            if not any(k == INVALID_HEADER for k, _ in msg.headers() or []):
                values.append(msg.value())
    finally:
        consumer.close()
    return values


@pytest.mark.kafka
def test_the_cdc_simulator_asset_mirrors_its_bursts(
    platform_env: dict[str, str],
    kafka: KafkaCluster,
    shop_server: ShopServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import dagster as dg

    from dataplat.definitions import RESOURCES, defs
    from dataplat_assets.keys import simulator_key

    for name, value in shop_server.env().items():
        monkeypatch.setenv(name, value)
    key = simulator_key("postgres_cdc")
    asset = next(a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and key in a.keys)
    node = key.path[-1]
    shop = shop_server.shop()
    changes: list[bytes] = []
    with dg.instance_for_test() as instance:
        for seed in (21, 22):  # two runs: the database accumulates both bursts
            run_config = {"ops": {node: {"config": {"events": 600, "seed": seed}}}}
            result = dg.materialize([asset], resources=RESOURCES, instance=instance, run_config=run_config)
            assert result.success
            metadata = result.asset_materializations_for_node(node)[0].metadata
            assert metadata["shop_database"].value == shop.target
            run_values = _kafka_values(kafka, metadata["topic"].value, metadata["offset_ranges"].value)
            rows, _ = replay(run_values)
            for table in TABLES:
                assert metadata[f"postgres_{table}_upserted"].value == len(rows[table])
                assert metadata[f"postgres_{table}_deleted"].value == 0
                assert metadata["postgres_mirror"].value[table]["unchanged"] == 0
            changes += run_values
            logs = " ".join(str(e.message) + str(e.dagster_event) for e in instance.all_logs(result.run_id))
            assert shop.target in logs and shop_server.server.password not in logs

    rows, _ = replay(changes)  # both bursts' valid changes, in LSN order
    for table in TABLES:
        assert shop.read_table(table) == typed(table, rows[table].values())
    assert shop_server.server.password not in caplog.text


@pytest.mark.kafka
def test_a_refused_login_fails_the_cdc_asset_before_anything_is_produced(
    platform_env: dict[str, str], kafka: KafkaCluster, shop_server: ShopServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg
    from confluent_kafka import Consumer, TopicPartition

    from dataplat.definitions import RESOURCES, defs
    from dataplat_assets.keys import simulator_key
    from dataplat_resources import topics

    for name, value in {**shop_server.env(), "POSTGRES_PASSWORD": "not-the-password"}.items():
        monkeypatch.setenv(name, value)
    key = simulator_key("postgres_cdc")
    asset = next(a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and key in a.keys)
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": "postgres-test"})
    partitions = consumer.list_topics(topics.CDC_CHANGES, timeout=10).topics[topics.CDC_CHANGES].partitions

    def high_watermarks() -> list[int]:
        return [
            consumer.get_watermark_offsets(TopicPartition(topics.CDC_CHANGES, p), timeout=10)[1] for p in partitions
        ]

    try:
        before = high_watermarks()
        with dg.instance_for_test() as instance:
            run_config = {"ops": {key.path[-1]: {"config": {"events": 100, "seed": 1}}}}
            result = dg.materialize(
                [asset], resources=RESOURCES, instance=instance, run_config=run_config, raise_on_error=False
            )
            assert not result.success
            failure = next(e for e in result.all_events if e.is_step_failure)
            text = str(failure.step_failure_data.error)
            assert "password authentication failed" in text and shop_server.shop().target in text
            assert "not-the-password" not in text
        assert high_watermarks() == before  # nothing produced
    finally:
        consumer.close()


def test_the_server_log_never_saw_a_password(postgres_server: Any) -> None:
    """The role's password was hashed client-side; failed logins are logged without it."""
    log = postgres_server.log_file.read_text(errors="replace")
    assert postgres_server.password not in log


def test_final_state_is_part_of_cdc_burst_results_only() -> None:
    """``BurstResult.final_state`` is new and optional: to_dict() (the CLI's JSON) does not carry it."""
    from simulators.producer import BurstResult

    base = {
        "source": "web",
        "topic": "t",
        "produced": 1,
        "invalid": 0,
        "invalid_by_kind": {},
        "late": 0,
        "bytes": 10,
        "offsets": {0: (0, 0)},
        "elapsed_s": 1.0,
    }
    plain = BurstResult(**base)
    assert plain.final_state is None and "final_state" not in plain.to_dict()
    state = CdcFinalState(rows={"users": (), "orders": ()}, deleted={"users": frozenset(), "orders": frozenset()})
    with_state = BurstResult(**base, final_state=state)
    assert with_state == plain and with_state.to_dict() == plain.to_dict()
    assert with_state.to_dict()["offsets"] == {"0": [0, 0]}


@pytest.mark.kafka
def test_a_mirror_failing_after_the_burst_says_the_database_now_lags(
    platform_env: dict[str, str], shop_server: ShopServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schema is fine (so the burst is produced), the apply fails: the run fails, says what
    happened to the burst, and the database keeps nothing of it (one transaction)."""
    import dagster as dg

    from dataplat.definitions import RESOURCES, defs
    from dataplat_assets.keys import simulator_key

    shop = shop_server.shop()
    shop.ensure_schema()
    with psycopg.connect(**conn_kwargs(shop_server)) as conn:
        conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'orders are frozen today'; END $$"
        )
        conn.execute("CREATE TRIGGER frozen BEFORE INSERT ON public.orders FOR EACH ROW EXECUTE FUNCTION refuse()")
    for name, value in shop_server.env().items():
        monkeypatch.setenv(name, value)
    key = simulator_key("postgres_cdc")
    asset = next(a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and key in a.keys)
    with dg.instance_for_test() as instance:
        run_config = {"ops": {key.path[-1]: {"config": {"events": 200, "seed": 4}}}}
        result = dg.materialize(
            [asset], resources=RESOURCES, instance=instance, run_config=run_config, raise_on_error=False
        )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    text = str(failure.step_failure_data.user_failure_data.description)
    assert "orders are frozen today" in text and "applying row states on " + shop.target in text
    assert "produced to topic_cdc_changes but is NOT in the shop database" in text
    assert failure.step_failure_data.user_failure_data.metadata["events"].value >= 200
    assert shop.inspect().row_counts == {"users": 0, "orders": 0}  # the users upsert rolled back too
    assert shop_server.server.password not in text
