"""Run a real single-node Apache Kafka broker (KRaft) from the Maven-resolved jars.

The broker keeps all its state under one folder (``$DATAPLAT_HOME/kafka`` by default):
``config/server.properties``, ``data/`` (the log dirs), ``logs/`` and ``kafka.pid``. Storage is
formatted the first time only, so data survives restarts.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

from dataplat_resources.settings import PROJECT_ROOT, KafkaSettings

LOG4J_CONFIG = PROJECT_ROOT / "infra" / "kafka" / "log4j2.properties"
BROKER_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"


class BrokerError(RuntimeError):
    """The local broker cannot be started, stopped or reached; the message says why and what to do."""


def find_java() -> str:
    """Path of the ``java`` binary (JAVA_HOME first, then PATH), or a clear error."""
    java_home = os.environ.get("JAVA_HOME")
    candidates = [str(Path(java_home) / "bin" / "java")] if java_home else []
    on_path = shutil.which("java")
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise BrokerError(
        "Java was not found: install Java 17 (e.g. `apt-get install openjdk-17-jre-headless`) "
        "or set JAVA_HOME. The local Kafka broker and Spark both need it."
    )


def broker_classpath(jars_dir: Path) -> str:
    kafka_jars = jars_dir / "kafka"
    jars = sorted(kafka_jars.glob("*.jar"))
    if not any(j.name.startswith("kafka_2.13-") for j in jars):
        raise BrokerError(
            f"The Kafka broker jars are missing from {kafka_jars}. Resolve them with "
            "`make jars` (runs `mvn -f jvm/pom.xml package`)."
        )
    return os.pathsep.join(str(j) for j in jars)


def _port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def new_cluster_id() -> str:
    """A KRaft cluster id (base64url UUID). Like Kafka's own ``Uuid.randomUuid()``, never one that
    starts with '-', which the storage tool's argument parser would read as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    listening: bool
    state_dir: Path

    def describe(self) -> str:
        if self.running:
            ready = "accepting connections" if self.listening else "starting (port not open yet)"
            return f"Kafka broker running (pid {self.pid}) at {self.bootstrap}, {ready}; state in {self.state_dir}"
        return f"Kafka broker not running; state in {self.state_dir}"


class LocalKafkaBroker:
    """One KRaft broker+controller on 127.0.0.1, managed through a pid file."""

    host = "127.0.0.1"

    def __init__(
        self,
        state_dir: Path,
        jars_dir: Path,
        port: int,
        controller_port: int,
        heap: str = "512m",
        default_partitions: int = 4,
    ) -> None:
        self.state_dir = state_dir
        self.jars_dir = jars_dir
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.default_partitions = default_partitions

    @classmethod
    def from_settings(cls, settings: KafkaSettings, state_dir: Path, jars_dir: Path) -> LocalKafkaBroker:
        return cls(
            state_dir=state_dir,
            jars_dir=jars_dir,
            port=settings.local_port,
            controller_port=settings.local_controller_port,
            heap=settings.local_heap,
            default_partitions=settings.partitions_for("default"),
        )

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.state_dir / "config" / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pid_path(self) -> Path:
        return self.state_dir / "kafka.pid"

    def server_properties(self) -> str:
        return "\n".join(
            [
                "# Written by dataplat; edit dataplat_resources/local_kafka.py instead.",
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{self.host}:{self.controller_port}",
                f"listeners=PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://{self.host}:{self.port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={self.data_dir}",
                f"num.partitions={self.default_partitions}",
                "default.replication.factor=1",
                "min.insync.replicas=1",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=4",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "log.retention.hours=168",
                "log.segment.bytes=268435456",
                "num.network.threads=3",
                "num.io.threads=4",
                "",
            ]
        )

    # -- lifecycle -----------------------------------------------------------------------

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE or BROKER_MAIN not in proc.cmdline():
                return None
        except psutil.Error:
            return None
        return pid

    def status(self) -> BrokerStatus:
        pid = self._pid()
        return BrokerStatus(
            running=pid is not None,
            pid=pid,
            bootstrap=self.bootstrap,
            listening=pid is not None and _port_open(self.host, self.port),
            state_dir=self.state_dir,
        )

    def format_storage(self, java: str, classpath: str) -> bool:
        """Format the log dir once. Returns True when it formatted, False when already formatted."""
        if (self.data_dir / "meta.properties").exists():
            return False
        cluster_id = new_cluster_id()
        result = subprocess.run(
            [java, "-cp", classpath, STORAGE_TOOL, "format", "-t", cluster_id, "-c", str(self.config_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BrokerError(f"formatting Kafka storage in {self.data_dir} failed:\n{result.stdout}{result.stderr}")
        return True

    def start(self, ready_timeout_s: float = 90.0) -> BrokerStatus:
        """Start the broker unless it runs already, and wait until it accepts connections."""
        current = self.status()
        if current.running:
            self.wait_ready(ready_timeout_s)
            return self.status()
        if _port_open(self.host, self.port):
            raise BrokerError(
                f"port {self.port} is already taken by another process; stop it, or set KAFKA_LOCAL_PORT "
                "(or KAFKA_BOOTSTRAP_SERVER to use that cluster)"
            )
        java = find_java()
        classpath = broker_classpath(self.jars_dir)
        for folder in (self.config_path.parent, self.data_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.server_properties())
        self.format_storage(java, classpath)
        command = [
            java,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.logs_dir}",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            classpath,
            BROKER_MAIN,
            str(self.config_path),
        ]
        with open(self.logs_dir / "kafka.out", "ab") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        self.pid_path.write_text(str(process.pid))
        self.wait_ready(ready_timeout_s, process=process)
        return self.status()

    def wait_ready(self, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
        """Block until a metadata request succeeds; fail fast when the JVM exits."""
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout_s
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise BrokerError(f"the Kafka broker exited with code {process.returncode}:\n{self.log_tail()}")
            if _port_open(self.host, self.port):
                try:
                    metadata = admin.list_topics(timeout=2.0)
                    if metadata.brokers:
                        return
                except Exception:
                    pass
            time.sleep(0.25)
        raise BrokerError(f"the Kafka broker did not become ready within {timeout_s:.0f}s:\n{self.log_tail()}")

    def stop(self, timeout_s: float = 60.0) -> bool:
        """Stop gracefully (SIGTERM lets Kafka flush and close its logs); SIGKILL only past the timeout."""
        pid = self._pid()
        if pid is None:
            self.pid_path.unlink(missing_ok=True)
            return False
        proc = psutil.Process(pid)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        self.pid_path.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would (used by reliability tests)."""
        pid = self._pid()
        if pid is not None:
            proc = psutil.Process(pid)
            proc.kill()
            proc.wait(timeout=10)
        self.pid_path.unlink(missing_ok=True)

    def log_tail(self, lines: int = 30) -> str:
        for name in ("kafka.out", "server.log"):
            path = self.logs_dir / name
            if path.exists() and path.stat().st_size:
                return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return "(no broker log yet)"
