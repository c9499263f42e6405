"""Shared fixtures. Integration tests run against real servers started here, never mocks.

- ``kafka``: a real Kafka broker for the whole session. With ``KAFKA_BOOTSTRAP_SERVER`` set, that
  cluster is used; otherwise the project's own broker is started on free ports in a temp dir.
- ``unique_topic``: fresh topics per test, so tests never see each other's messages.
- ``postgres_server`` / ``shop_server``: a real PostgreSQL cluster for the session (Debian binaries,
  free port, temp dir) and a fresh database on it per test.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from confluent_kafka.admin import AdminClient

from dataplat_resources.kafka_client import ensure_topics
from dataplat_resources.local_kafka import LocalKafkaBroker
from dataplat_resources.settings import PROJECT_ROOT, KafkaSettings

if TYPE_CHECKING:
    import psycopg

    from dataplat_resources.postgres import ShopDatabase


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_local_broker(state_dir: Path, partitions: int = 4) -> LocalKafkaBroker:
    broker = LocalKafkaBroker(
        state_dir=state_dir,
        jars_dir=Path(os.environ.get("DATAPLAT_JARS_DIR", PROJECT_ROOT / ".jars")),
        port=free_port(),
        controller_port=free_port(),
        heap="384m",
        default_partitions=partitions,
    )
    broker.start(ready_timeout_s=120)
    return broker


@dataclass
class KafkaCluster:
    settings: KafkaSettings
    broker: LocalKafkaBroker | None  # None when an external cluster is used

    @property
    def bootstrap(self) -> str:
        return self.settings.bootstrap_servers

    def admin(self) -> AdminClient:
        return AdminClient(self.settings.client_config())

    def env(self) -> dict[str, str]:
        """Environment for subprocesses that must talk to this cluster."""
        return {"KAFKA_BOOTSTRAP_SERVER": self.bootstrap}


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVER"):
        yield KafkaCluster(KafkaSettings(), None)
        return
    broker = start_local_broker(tmp_path_factory.mktemp("kafka"))
    try:
        yield KafkaCluster(KafkaSettings(bootstrap_server=broker.bootstrap), broker)
    finally:
        broker.stop()


@pytest.fixture
def unique_topic(kafka: KafkaCluster) -> Callable[..., str]:
    """Create a topic with a unique name: ``unique_topic("app_events", partitions=4)``."""
    admin = kafka.admin()

    def create(label: str = "t", partitions: int = 4) -> str:
        name = f"test_{label}_{uuid.uuid4().hex[:10]}"
        ensure_topics(admin, {name: partitions})
        return name

    return create


@pytest.fixture
def platform_env(kafka: KafkaCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for Dagster resources (EnvVar): this session's broker, a fresh lake and home."""
    from dataplat_resources.kafka_client import ensure_platform_topics
    from dataplat_resources.settings import local_env

    env = local_env(home=tmp_path / "home")
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVER": kafka.bootstrap,
            "INGEST_SENSOR_INTERVAL_SECONDS": "0",
            "CONSUMER_BATCH_SIZE": "2000",
            "SPARK_MASTER": "local[2]",
        }
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ensure_platform_topics(KafkaSettings(bootstrap_server=kafka.bootstrap))
    return env


@dataclass
class MaterializedPlatform:
    """A lake and a Dagster instance filled by one run of the CI recipe (scripts/ci_materialize.sh)."""

    env: dict[str, str]
    root: Path
    recipe_output: str

    @property
    def dagster_home(self) -> Path:
        return Path(self.env["DAGSTER_HOME"])

    @property
    def report_dir(self) -> Path:
        return Path(self.env["REPORT_DIR"])


@pytest.fixture(scope="session")
def materialized_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MaterializedPlatform]:
    """Runs the CI recipe once per session, as a user runs it: its own Kafka broker (started by the
    recipe's `dataplat kafka start`, on free ports), a burst, `dagster asset materialize` tier by
    tier, the check report. The end-to-end and browser tests share what it leaves behind.

    The broker is the recipe's own, not the session's shared one: other tests leave messages in the
    platform topics (the same seed produced twice, injected duplicates) that a fresh lake would
    ingest, and the blocking duplicate check would rightly fail."""
    import subprocess

    from dataplat_resources.settings import local_env

    root = tmp_path_factory.mktemp("platform")
    port = free_port()
    env = {**os.environ, **local_env(home=root / "home")}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVER": f"127.0.0.1:{port}",
            "KAFKA_LOCAL_PORT": str(port),
            "KAFKA_LOCAL_CONTROLLER_PORT": str(free_port()),
            "KAFKA_LOCAL_HEAP": "384m",
            "DAGSTER_HOME": str(root / "dagster"),
            "REPORT_DIR": str(root / "report"),
            "SPARK_MASTER": "local[2]",
            "LOG_LEVEL": "WARNING",
        }
    )
    recipe = PROJECT_ROOT / "scripts" / "ci_materialize.sh"
    dataplat = PROJECT_ROOT / ".venv" / "bin" / "dataplat"
    try:
        result = subprocess.run([str(recipe), "400"], cwd=root, env=env, capture_output=True, text=True, check=False)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-6000:]
        yield MaterializedPlatform(env, root, output)
    finally:
        subprocess.run([str(dataplat), "kafka", "stop"], cwd=root, env=env, capture_output=True, check=False)


# -- PostgreSQL: a throwaway cluster for the shop database -------------------------------------------
#
# ``postgres_server``: a real PostgreSQL server for the whole session, started with the Debian
# server binaries (package ``postgresql``, which .ci/run installs) in a temp dir on a free port:
# TCP on 127.0.0.1 with SCRAM password auth for a test role, plus a unix socket in the temp dir
# (trust, for the superuser that creates databases). As root the cluster runs as the ``postgres``
# OS user (PostgreSQL refuses to run as root). ``shop_server`` gives each test its own database.

PG_SUPERUSER = "postgres"
PG_TEST_ROLE = "dataplat_test"


def _postgres_bin() -> Path:
    """The server binaries: ``DATAPLAT_PG_BIN``, else Debian's /usr/lib/postgresql/<major>/bin (15 on bookworm)."""
    override = os.environ.get("DATAPLAT_PG_BIN")
    candidates = [Path(override)] if override else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0
    )[::-1]
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    pytest.fail(
        "PostgreSQL server binaries (initdb, pg_ctl) not found in "
        f"{override or '/usr/lib/postgresql/*/bin'}: install the Debian package `postgresql` "
        "(apt-get install postgresql; .ci/run does) or point DATAPLAT_PG_BIN at them",
        pytrace=False,
    )


@dataclass
class PostgresServer:
    """A running throwaway cluster: superuser over the unix socket, ``role`` over TCP with a password."""

    bin_dir: Path
    root: Path
    port: int
    role: str
    password: str
    run_as: list[str]
    host: str = "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def pg_ctl(self, *args: str) -> None:
        import subprocess

        cmd = [*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            log = self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""
            raise RuntimeError(f"pg_ctl {args[-1]} failed ({done.returncode}): {done.stdout}{done.stderr}\n{log}")

    def admin(self) -> psycopg.Connection[Any]:
        """An autocommit superuser connection over the unix socket (trust auth)."""
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir), port=self.port, user=PG_SUPERUSER, dbname="postgres", autocommit=True
        )

    def create_database(self, name: str) -> None:
        from psycopg import sql

        with self.admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(self.role)))

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def env(self, database: str) -> dict[str, str]:
        """``POSTGRES_*`` variables pointing at ``database`` on this server."""
        return {
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_DB": database,
            "POSTGRES_USER": self.role,
            "POSTGRES_PASSWORD": self.password,
        }


def _start_postgres(root: Path) -> PostgresServer:
    import secrets
    import subprocess

    bin_dir = _postgres_bin()
    run_as: list[str] = []
    if os.geteuid() == 0:
        import pwd

        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root needs the `postgres` OS user (the Debian package postgresql creates it)")
        run_as = ["runuser", "-u", "postgres", "--"]
        os.chown(root, owner.pw_uid, owner.pw_gid)
    server = PostgresServer(bin_dir, root, free_port(), PG_TEST_ROLE, f"pw-{secrets.token_urlsafe(18)}", run_as)
    for folder in (server.data_dir, server.socket_dir):
        folder.mkdir(mode=0o700)
        if run_as:
            os.chown(folder, owner.pw_uid, owner.pw_gid)
    initdb = [
        *run_as,
        str(bin_dir / "initdb"),
        "-D",
        str(server.data_dir),
        "-U",
        PG_SUPERUSER,
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--no-locale",
        "--no-sync",
    ]
    done = subprocess.run(initdb, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed ({done.returncode}): {done.stdout}{done.stderr}")
    with (server.data_dir / "postgresql.conf").open("a") as conf:
        conf.write(
            f"port = {server.port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{server.socket_dir}'\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            "shared_buffers = 32MB\nmax_connections = 50\n"
        )
    server.pg_ctl("-l", str(server.log_file), "-w", "-t", "60", "start")
    try:
        with server.admin() as conn:
            # Hash the password here (SCRAM) so the plain text never reaches the server or its log.
            verifier = conn.pgconn.encrypt_password(server.password.encode(), server.role.encode(), b"scram-sha-256")
            from psycopg import sql

            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(server.role), sql.Literal(verifier.decode())
                )
            )
    except BaseException:
        server.pg_ctl("-m", "immediate", "-w", "stop")
        raise
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    import shutil
    import tempfile

    # Not under pytest's tmp dirs (private to this user): as root, the server runs as `postgres`, which
    # must reach its folder, so that goes straight under /tmp whatever TMPDIR says.
    root = Path(tempfile.mkdtemp(prefix="dataplat-pg-", dir="/tmp" if os.geteuid() == 0 else None))
    try:
        server = _start_postgres(root)
        try:
            yield server
        finally:
            server.pg_ctl("-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class ShopServer:
    """A fresh database on the session's server, for one test."""

    server: PostgresServer
    database: str

    def env(self) -> dict[str, str]:
        return self.server.env(self.database)

    def shop(self, **overrides: Any) -> ShopDatabase:
        """A :class:`ShopDatabase` on this database (``password=...`` etc. override)."""
        from dataplat_resources.postgres import ShopDatabase

        options = {
            "host": self.server.host,
            "port": self.server.port,
            "dbname": self.database,
            "user": self.server.role,
            "password": self.server.password,
            **overrides,
        }
        return ShopDatabase(**options)


@pytest.fixture
def shop_server(postgres_server: PostgresServer) -> Iterator[ShopServer]:
    name = f"shop_{uuid.uuid4().hex[:12]}"
    postgres_server.create_database(name)
    try:
        yield ShopServer(postgres_server, name)
    finally:
        postgres_server.drop_database(name)
