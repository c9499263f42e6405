"""``dataplat health``: one table saying whether every part of the platform is alive.

Each probe returns :class:`Probe` rows (ok / warn / fail with a detail); the command prints them
and exits 1 when any row failed. Probes never raise: a probe that cannot run is a failed row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from dataplat_resources import topics
from dataplat_resources.lake import LakeLayout
from dataplat_resources.settings import PlatformSettings

OK, WARN, FAIL = "ok", "warn", "fail"
STALE_COMMIT_S = 2 * 3600  # bronze untouched this long while Kafka has data: ingestion is stuck
DAEMON_HEARTBEAT_S = 60


@dataclass(frozen=True)
class Probe:
    component: str
    name: str
    status: str
    detail: str


def _guard(component: str, name: str, probe: Callable[[], Iterable[Probe]]) -> list[Probe]:
    try:
        return list(probe())
    except Exception as exc:
        return [Probe(component, name, FAIL, f"{type(exc).__name__}: {exc}")]


def kafka_probes(settings: PlatformSettings) -> list[Probe]:
    from dataplat_resources.kafka_client import admin_client, check_reachable, platform_topic_plan

    def run() -> Iterable[Probe]:
        admin = admin_client(settings.kafka)
        check_reachable(admin, settings.kafka.bootstrap_servers, timeout_s=5.0)
        metadata = admin.list_topics(timeout=5.0)
        yield Probe("kafka", "broker", OK, f"{settings.kafka.bootstrap_servers}: {len(metadata.brokers)} broker(s)")
        for topic, wanted in platform_topic_plan(settings.kafka).items():
            found = metadata.topics.get(topic)
            if found is None or found.error is not None:
                yield Probe("kafka", topic, FAIL, "missing: run `dataplat kafka start`")
            elif len(found.partitions) < wanted:
                yield Probe("kafka", topic, WARN, f"{len(found.partitions)} partitions, {wanted} configured")
            else:
                yield Probe("kafka", topic, OK, f"{len(found.partitions)} partitions")

    return _guard("kafka", "broker", run)


def lake_probes(settings: PlatformSettings, now: float | None = None) -> list[Probe]:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    from dataplat_ingestion.arrow_convert import bronze_schema
    from dataplat_ingestion.batch import topic_positions
    from dataplat_ingestion.delta_store import DeltaAppendTable
    from dataplat_resources.contracts import contract_for
    from dataplat_resources.lake import BRONZE_PARTITION_COLUMNS

    layout = LakeLayout(settings.lake)
    now = now or time.time()

    def age_of(uri: str) -> float | None:
        try:
            table = DeltaTable(uri)
        except TableNotFoundError:
            return None
        return now - table.history(1)[0]["timestamp"] / 1000

    def run_topic(topic: str) -> Iterable[Probe]:
        uri = layout.bronze(topic)
        age = age_of(uri)
        bronze = DeltaAppendTable(uri, bronze_schema(contract_for(topic)), BRONZE_PARTITION_COLUMNS)
        positions = topic_positions(topic, settings.kafka.client_config(), bronze)
        lag = positions.lag
        name = f"bronze_{topics.short_name(topic)}"
        if age is None:
            status = WARN if lag else OK
            yield Probe("lake", name, status, f"no table yet; lag {lag:,} messages")
        elif lag and age > STALE_COMMIT_S:
            yield Probe("lake", name, FAIL, f"last commit {age / 60:.0f} min ago with lag {lag:,}: ingestion is stuck")
        else:
            yield Probe("lake", name, OK, f"last commit {age:.0f}s ago; lag {lag:,} messages")

    probes: list[Probe] = []
    for topic in topics.SOURCE_TOPICS:
        probes += _guard("lake", f"bronze_{topics.short_name(topic)}", lambda t=topic: run_topic(t))
    for label, uri in (("ingestion_metrics", layout.ingestion_metrics),):
        age = age_of(uri)
        probes.append(Probe("lake", label, OK, "no table yet" if age is None else f"last commit {age:.0f}s ago"))
    return probes


def spark_probes(settings: PlatformSettings) -> list[Probe]:
    jars = sorted(Path(settings.jars_dir, "spark").glob("*.jar"))
    names = " ".join(j.name for j in jars)
    missing = [want for want in ("delta-spark_", "delta-storage-", "spark-sql-kafka-") if want not in names]
    if missing:
        return [
            Probe("spark", "jars", FAIL, f"missing {', '.join(missing)} in {settings.jars_dir}/spark: run `make setup`")
        ]
    return [Probe("spark", "jars", OK, f"{len(jars)} jars in {settings.jars_dir}/spark")]


def postgres_probes(settings: PlatformSettings, connect_timeout_s: int = 5) -> list[Probe]:
    """The shop database (CDC source), when ``POSTGRES_HOST`` is set: reachable, schema as the
    contracts say, row counts. A missing schema only warns: the first CDC burst creates it."""

    def run() -> Iterable[Probe]:
        from dataplat_resources.postgres import ShopDatabase

        pg = settings.postgres
        if not pg.configured:
            yield Probe("postgres", "shop", OK, "not configured (POSTGRES_HOST is empty): CDC bursts are not mirrored")
            return
        shop = ShopDatabase.from_settings(pg, connect_timeout_s=connect_timeout_s)
        status = shop.inspect()
        yield Probe("postgres", "connection", OK, f"{shop.target}: PostgreSQL {status.server_version}")
        if status.problems:
            yield Probe("postgres", "schema", FAIL, "; ".join(status.problems))
        elif status.missing_tables:
            missing = ", ".join(f"public.{t}" for t in status.missing_tables)
            yield Probe("postgres", "schema", WARN, f"{missing} missing: created by the first postgres_cdc burst")
        else:
            yield Probe("postgres", "schema", OK, "public.users, public.orders")
        for table, count in status.row_counts.items():
            yield Probe("postgres", table, OK, f"{count:,} rows")

    return _guard("postgres", "connection", run)


def dagster_probes(now: float | None = None) -> list[Probe]:
    def run() -> Iterable[Probe]:
        import dagster as dg

        now_s = now or time.time()
        with dg.DagsterInstance.get() as instance:
            heartbeats = instance.get_daemon_heartbeats()
        if not heartbeats:
            yield Probe(
                "dagster", "daemon", FAIL, "no daemon heartbeat: sensors and schedules are not running (`make ui`)"
            )
            return
        for daemon_type, heartbeat in sorted(heartbeats.items()):
            age = now_s - heartbeat.timestamp
            status = OK if age <= DAEMON_HEARTBEAT_S and not heartbeat.errors else FAIL
            detail = f"heartbeat {age:.0f}s ago" + (f"; errors: {heartbeat.errors[0]}" if heartbeat.errors else "")
            yield Probe("dagster", daemon_type, status, detail)

    return _guard("dagster", "daemon", run)


def run_probes(settings: PlatformSettings, skip_daemon: bool = False) -> list[Probe]:
    probes = kafka_probes(settings)
    if all(p.status != FAIL for p in probes if p.name == "broker"):
        probes += lake_probes(settings)
    probes += spark_probes(settings)
    probes += postgres_probes(settings)
    if not skip_daemon:
        probes += dagster_probes()
    return probes


def healthy(probes: Iterable[Probe]) -> bool:
    return all(p.status != FAIL for p in probes)
