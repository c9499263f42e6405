"""docker-compose.yml, the Dockerfile and .env.example, checked against the code without Docker.

No Docker engine runs here, so nothing is started. Instead every claim the deployment makes about
the project is checked where it is made:

- every project command (``dataplat <group> <cmd> ...``, ``dagster ...``, ``dagster-webserver``,
  ``dagster-daemon``, healthchecks included) parses against the real click/typer command tree;
- ``-m`` modules import and hold a ``Definitions``; ``-w`` workspace files exist and point at the
  code server that serves that module;
- every variable a project service sets is one the code reads (``env_var_specs()``, the
  ``DAGSTER_PG_*`` names of dagster.postgres.yaml, ``DAGSTER_HOME``), Dagster services set every
  ``EnvVar`` of ``dataplat.definitions``, and third-party images get only variables from an
  explicit allow-list;
- host ports do not collide, ``depends_on`` conditions point at services that can satisfy them,
  and the file has the structure ``docker compose config`` expects (run for real when the compose
  plugin is installed).

Some commands are still being written (``simulate run``, ``ingest run``, ``schemas``): this file is
the spec, and those tests fail until the commands are registered in ``dataplat.cli``.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from importlib.metadata import entry_points
from typing import Any

import click
import pytest
import typer
import yaml

from dataplat_resources.settings import (
    KAFKA_CLIENT_PASSTHROUGH_PREFIX,
    PROJECT_ROOT,
    KafkaSettings,
    env_var_specs,
)

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
DAGSTER_PG_YAML = PROJECT_ROOT / "infra" / "dagster" / "dagster.postgres.yaml"
DEFINITIONS_FILE = PROJECT_ROOT / "dataplat" / "definitions.py"
DEFINITIONS_MODULE = "dataplat.definitions"
CONTAINER_ROOT = "/opt/dataplat"  # WORKDIR of the image (test_dockerfile checks it)

# Variables third-party images read, per image repository. A new image needs an entry here, on
# purpose: its variables are not the code's, and this list is where they are reviewed.
THIRD_PARTY_ENV: dict[str, tuple[str, ...]] = {
    # apache/kafka turns every KAFKA_* into a server property (docker/examples in apache/kafka).
    "apache/kafka": ("KAFKA_*", "CLUSTER_ID"),
    # cp-schema-registry: SCHEMA_REGISTRY_<PROPERTY> (Confluent's Docker configuration reference).
    "confluentinc/cp-schema-registry": ("SCHEMA_REGISTRY_*",),
    "provectuslabs/kafka-ui": ("KAFKA_CLUSTERS_*", "DYNAMIC_CONFIG_ENABLED", "SERVER_PORT", "LOGGING_LEVEL_*"),
    "postgres": ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "POSTGRES_INITDB_ARGS", "PGDATA"),
}
TOP_LEVEL_KEYS = {"name", "services", "volumes", "networks", "configs", "secrets", "include"}
SHELLS = {"sh", "bash"}
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")


# -- loading ---------------------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def project_services() -> dict[str, dict[str, Any]]:
    """Services built from this repository's Dockerfile."""
    return {name: s for name, s in services().items() if "build" in s}


def third_party_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services().items() if "build" not in s}


def interpolate(value: str) -> str:
    """What compose substitutes with an empty environment: ``${X:-default}`` -> ``default``."""
    return INTERPOLATION.sub(lambda m: m.group(3) or "", value)


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): interpolate(str(v)) for k, v in env.items()}


def argv(command: Any) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def command_lines(command: Any) -> list[list[str]]:
    """Each program invocation of a command; ``sh -c 'a && b'`` is two."""
    args = argv(command)
    if len(args) >= 3 and args[0] in SHELLS and args[1] == "-c":
        return [shlex.split(part) for part in re.split(r"&&|\|\||;", args[2]) if part.strip()]
    return [args]


def healthcheck_lines(service: dict[str, Any]) -> list[list[str]]:
    test = (service.get("healthcheck") or {}).get("test")
    if not test:
        return []
    if isinstance(test, str):
        return command_lines(["sh", "-c", test])
    kind, *rest = test
    if kind == "CMD":
        return [rest]
    if kind == "CMD-SHELL":
        return command_lines(["sh", "-c", " ".join(rest)])
    return []


def project_invocations() -> Iterator[tuple[str, str, list[str]]]:
    """(service, where, argv) of every project program a project service runs."""
    for name, service in project_services().items():
        for line in command_lines(service.get("command", [])):
            yield name, "command", line
        for line in healthcheck_lines(service):
            yield name, "healthcheck", line


def host_ports() -> list[tuple[str, int, int]]:
    """(service, host port, container port) of every published port."""
    published = []
    for name, service in services().items():
        for entry in service.get("ports", []):
            if isinstance(entry, dict):
                published.append((name, int(entry["published"]), int(entry["target"])))
                continue
            parts = interpolate(str(entry)).split("/")[0].split(":")
            if len(parts) >= 2:
                published.append((name, int(parts[-2]), int(parts[-1])))
    return published


def option(args: list[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        if arg in names and i + 1 < len(args):
            return args[i + 1]
        for name in names:
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


# -- the project's command trees ---------------------------------------------------------------


# typer >= 0.2x vendors click (``typer._click``), so typer's commands are not ``click.Command``
# instances: the walk below relies on the methods both share, not on isinstance.


def _is_group(command: Any) -> bool:
    return hasattr(command, "list_commands") and hasattr(command, "get_command")


def root_command(program: str) -> Any:
    """The click command behind a console script; typer apps through ``typer.main.get_command``."""
    if program == "dataplat":
        from dataplat.cli import app

        return typer.main.get_command(app)
    (entry,) = entry_points(group="console_scripts", name=program) or (None,)
    assert entry is not None, f"{program} is not an installed console script"
    module = importlib.import_module(entry.module)
    for attribute in ("app", "cli"):
        candidate = getattr(module, attribute, None)
        if isinstance(candidate, typer.Typer):
            return typer.main.get_command(candidate)
        if isinstance(candidate, click.Command):
            return candidate
    raise AssertionError(f"cannot find the click command of {program} ({entry.value})")


def resolve(args: list[str]) -> tuple[Any, list[str], list[str]]:
    """Walk subcommands: (leaf command, its arguments, the path of names)."""
    program, *rest = args
    command = root_command(program)
    path = [program]
    while _is_group(command) and rest and not rest[0].startswith("-"):
        ctx = command.context_class(command, info_name=path[-1])
        sub = command.get_command(ctx, rest[0])
        if sub is None:
            known = ", ".join(sorted(command.list_commands(ctx)))
            raise AssertionError(f"`{' '.join(path)}` has no command {rest[0]!r} (it has: {known})")
        path.append(rest.pop(0))
        command = sub
    assert not _is_group(command), f"`{' '.join(path)}` is a group, not a command"
    return command, rest, path


def _in_checkout(arg: str) -> str:
    """Paths inside the image are checked at the same place in this checkout."""
    prefix = CONTAINER_ROOT + "/"
    return str(PROJECT_ROOT / arg.removeprefix(prefix)) if arg.startswith(prefix) else arg


def parse(args: list[str]) -> Any:
    """Parse the arguments exactly as the program would, without running it."""
    command, rest, path = resolve(args)
    try:
        return command.make_context(" ".join(path), [_in_checkout(arg) for arg in rest])
    except Exception as exc:  # click.ClickException, or typer's vendored copy of it
        if not hasattr(exc, "format_message"):
            raise
        raise AssertionError(f"`{shlex.join(args)}` does not parse: {exc.format_message()}") from exc


PROGRAMS = {"dataplat", "dagster", "dagster-webserver", "dagster-daemon"}


def invocation_params() -> list[Any]:
    return [
        pytest.param(line, id=f"{name}:{where}:{' '.join(line[:3])}")
        for name, where, line in project_invocations()
        if line[0] in PROGRAMS
    ]


# -- project commands ------------------------------------------------------------------------------


def test_project_services_run_only_known_programs() -> None:
    """A project command is one of the project's console scripts (or python for healthchecks)."""
    for name, where, line in project_invocations():
        allowed = PROGRAMS | ({"python"} if where == "healthcheck" else set())
        assert line[0] in allowed, f"{name} {where}: {line[0]!r} is not one of {sorted(allowed)}"


@pytest.mark.parametrize("line", invocation_params())
def test_project_command_resolves_and_parses(line: list[str]) -> None:
    parse(line)


EXPECTED_COMMANDS = {
    # service: the command line (as the brief and the other tiers define it)
    "simulators": ["dataplat", "simulate", "run", "--sources", "all"],
    "ingest": ["dataplat", "ingest", "run", "--topics", "all"],
    "codeserver": ["dagster", "code-server", "start", "-m", DEFINITIONS_MODULE, "-h", "0.0.0.0", "-p", "4000"],
    "webserver": [
        "dagster-webserver", "-w", f"{CONTAINER_ROOT}/infra/compose/workspace.yaml", "-h", "0.0.0.0", "-p", "3000",
    ],
    "daemon": ["dagster-daemon", "run", "-w", f"{CONTAINER_ROOT}/infra/compose/workspace.yaml"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED_COMMANDS))
def test_service_command_lines(name: str) -> None:
    assert argv(services()[name]["command"]) == EXPECTED_COMMANDS[name]


def test_kafka_init_creates_topics_and_registers_schemas() -> None:
    service = services()["kafka-init"]
    assert command_lines(service["command"]) == [["dataplat", "kafka", "start"], ["dataplat", "schemas", "register"]]
    assert " && " in argv(service["command"])[2], "register must not run when topic creation failed"
    env = environment(service)
    # An external bootstrap server makes `dataplat kafka start` create topics and start nothing.
    assert KafkaSettings(bootstrap_server=env["KAFKA_BOOTSTRAP_SERVER"]).is_external
    assert env["SCHEMA_REGISTRY_URL"]
    assert service.get("restart", "no") == "no"


def test_dagster_modules_import_and_hold_definitions() -> None:
    import dagster as dg

    modules = {option(line, "-m", "--module-name") for _, _, line in project_invocations() if line[0] == "dagster"}
    modules.discard(None)
    assert modules == {DEFINITIONS_MODULE}
    module = importlib.import_module(DEFINITIONS_MODULE)
    assert any(isinstance(value, dg.Definitions) for value in vars(module).values())


def _workspace(path_in_container: str) -> dict[str, Any]:
    assert path_in_container.startswith(CONTAINER_ROOT + "/"), path_in_container
    path = PROJECT_ROOT / path_in_container.removeprefix(CONTAINER_ROOT + "/")
    assert path.is_file(), f"{path_in_container} -> {path} does not exist"
    return yaml.safe_load(path.read_text())


def test_workspace_files_point_at_the_code_server() -> None:
    """-w files exist, and each gRPC location is a service serving dataplat.definitions on that port."""
    workspaces = {option(line, "-w", "--workspace") for _, _, line in project_invocations()} - {None}
    assert workspaces, "webserver and daemon need a workspace"
    for path in workspaces:
        locations = _workspace(path)["load_from"]
        assert locations
        for entry in locations:
            grpc = entry["grpc_server"]
            server = services()[grpc["host"]]
            line = argv(server["command"])
            assert line[:3] == ["dagster", "code-server", "start"]
            assert option(line, "-m", "--module-name") == DEFINITIONS_MODULE
            assert int(option(line, "-p", "--port") or 0) == int(grpc["port"])
            assert option(line, "-h", "--host") == "0.0.0.0", "the code server must listen beyond localhost"
            assert grpc["location_name"] == "dataplat"


def test_local_workspace_loads_the_definitions_module() -> None:
    workspace = yaml.safe_load((PROJECT_ROOT / "workspace.yaml").read_text())
    assert workspace["load_from"] == [
        {"python_module": {"module_name": DEFINITIONS_MODULE, "location_name": "dataplat"}}
    ]
    importlib.import_module(DEFINITIONS_MODULE)


def test_published_container_ports_are_the_ports_services_listen_on() -> None:
    for name, _, target in host_ports():
        service = services()[name]
        if name not in project_services():
            continue
        line = argv(service["command"])
        listening = {option(line, "-p", "--port"), environment(service).get("INGEST_METRICS_PORT")} - {None}
        assert str(target) in listening, f"{name} publishes {target} but listens on {listening}"


def test_ingest_service_exposes_metrics_and_health_and_can_scale() -> None:
    service = services()["ingest"]
    port = environment(service)["INGEST_METRICS_PORT"]
    assert port == "9108"
    (check,) = healthcheck_lines(service)
    assert f"http://localhost:{port}/health" in " ".join(check)
    # Published without a fixed host port, so `--scale ingest=N` does not collide.
    assert [str(p) for p in service["ports"]] == [port]
    assert not [name for name, _, _ in host_ports() if name == "ingest"]


# -- environment -----------------------------------------------------------------------------------


def dagster_pg_vars() -> set[str]:
    """Every ``env:`` name the Postgres instance config reads."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"env"}:
                found.add(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(DAGSTER_PG_YAML.read_text()))
    return found


def definitions_env_vars() -> set[str]:
    return set(re.findall(r"EnvVar(?:\.int)?\(\s*\"([A-Z0-9_]+)\"", DEFINITIONS_FILE.read_text()))


def known_project_vars() -> set[str]:
    return {spec.name for spec in env_var_specs()} | dagster_pg_vars() | {"DAGSTER_HOME"}


def test_dagster_postgres_config_reads_dagster_pg_vars() -> None:
    assert dagster_pg_vars() == {f"DAGSTER_PG_{x}" for x in ("HOST", "PORT", "USER", "PASSWORD", "DB")}


@pytest.mark.parametrize("name", sorted(project_services()))
def test_project_services_set_only_variables_the_code_reads(name: str) -> None:
    unknown = {
        var
        for var in environment(services()[name])
        if var not in known_project_vars() and not var.startswith(KAFKA_CLIENT_PASSTHROUGH_PREFIX)
    }
    assert not unknown, f"{name} sets {sorted(unknown)}, which no code reads (see env_var_specs())"


def _dagster_services() -> list[str]:
    return [n for n, s in project_services().items() if argv(s.get("command", ["?"]))[0].startswith("dagster")]


@pytest.mark.parametrize("name", _dagster_services())
def test_dagster_services_set_every_variable_dagster_resolves(name: str) -> None:
    """An unset EnvVar fails the run or sensor that needs it; the instance needs DAGSTER_PG_*."""
    env = environment(services()[name])
    missing = (definitions_env_vars() | dagster_pg_vars() | {"DAGSTER_HOME"}) - set(env)
    assert not missing, f"{name} does not set {sorted(missing)}"
    assert env["DAGSTER_HOME"] == image_env()["DAGSTER_HOME"], "the image's dagster.yaml lives there"


@pytest.mark.parametrize("name", sorted(project_services()))
def test_project_services_set_every_documented_variable(name: str) -> None:
    """The containers never fall back to local defaults (127.0.0.1, ./.dataplat): all are explicit."""
    missing = {spec.name for spec in env_var_specs() if not spec.name.startswith("KAFKA_LOCAL_")} - set(
        environment(services()[name])
    )
    assert not missing, f"{name} does not set {sorted(missing)}"


def _allowed(var: str, patterns: tuple[str, ...]) -> bool:
    return any(var.startswith(p[:-1]) if p.endswith("*") else var == p for p in patterns)


@pytest.mark.parametrize("name", sorted(third_party_services()))
def test_third_party_services_set_only_allow_listed_variables(name: str) -> None:
    service = services()[name]
    repository = service["image"].rsplit(":", 1)[0]
    assert repository in THIRD_PARTY_ENV, f"{name}: add {repository} and its variables to THIRD_PARTY_ENV"
    patterns = THIRD_PARTY_ENV[repository]
    refused = [var for var in environment(service) if not _allowed(var, patterns)]
    assert not refused, f"{name} ({repository}) sets {refused}, not in its allow-list {patterns}"


def test_interpolated_names_cannot_come_from_the_project_env_file() -> None:
    """Compose reads .env for ${...}; `dataplat init` writes local values there (127.0.0.1, paths)."""
    used = set(INTERPOLATION.findall(COMPOSE_FILE.read_text()))
    names = {name for name, _, _ in used}
    assert names, "expected STACK_* knobs for ports and the password"
    assert not names & known_project_vars(), f"{sorted(names & known_project_vars())} would be taken from .env"
    assert all(name.startswith("STACK_") for name in names), names
    assert all(op == ":-" for _, op, _ in used), "every interpolation needs a default"


def test_service_addresses_point_at_compose_services() -> None:
    kafka_listeners = environment(services()["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    registry = environment(services()["schema-registry"])
    init_sql = (PROJECT_ROOT / "infra" / "compose" / "postgres" / "init-databases.sql").read_text()
    postgres = environment(services()["postgres"])
    for name, service in project_services().items():
        env = environment(service)
        for server in env["KAFKA_BOOTSTRAP_SERVER"].split(","):
            host, port = server.split(":")
            assert host in services(), f"{name}: KAFKA_BOOTSTRAP_SERVER host {host} is not a service"
            assert f"//{host}:{port}" in kafka_listeners, f"{name}: kafka does not advertise {server}"
        url = env["SCHEMA_REGISTRY_URL"]
        assert url == f"http://schema-registry:{registry['SCHEMA_REGISTRY_LISTENERS'].rsplit(':', 1)[1]}", name
        for prefix in ("POSTGRES", "DAGSTER_PG"):
            if f"{prefix}_HOST" not in env:
                continue
            assert env[f"{prefix}_HOST"] in services(), name
            assert env[f"{prefix}_PORT"] == "5432"
            assert env[f"{prefix}_USER"] == postgres["POSTGRES_USER"]
            assert env[f"{prefix}_PASSWORD"] == postgres["POSTGRES_PASSWORD"]
            assert f"CREATE DATABASE {env[f'{prefix}_DB']};" in init_sql, f"{name}: {prefix}_DB is never created"


def test_lake_is_shared_by_the_writers() -> None:
    def mounts(name: str) -> set[str]:
        return {str(v) for v in services()[name].get("volumes", [])}

    lake_uri = environment(services()["ingest"])["DATAPLAT_LAKE_URI"]
    for writer in ("ingest", "codeserver"):
        assert f"lake:{lake_uri}" in mounts(writer), f"{writer} must mount the lake volume at {lake_uri}"
        assert environment(services()[writer])["DATAPLAT_LAKE_URI"] == lake_uri


# -- structure, ports, dependencies ----------------------------------------------------------------


def test_compose_structure() -> None:
    document = compose()
    unknown = {key for key in document if key not in TOP_LEVEL_KEYS and not key.startswith("x-")}
    assert not unknown, f"unknown top-level keys {unknown}"
    assert "version" not in document, "the version key is obsolete in the Compose Specification"
    declared_volumes = set(document.get("volumes") or {})
    for name, service in services().items():
        assert "image" in service or "build" in service, f"{name} has neither image nor build"
        if "build" in service:
            context = PROJECT_ROOT / service["build"]["context"]
            assert (context / service["build"].get("dockerfile", "Dockerfile")).is_file(), name
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith((".", "/")):
                assert (PROJECT_ROOT / source).exists(), f"{name}: bind mount {source} does not exist"
            else:
                assert source in declared_volumes, f"{name}: volume {source} is not declared"
        test = (service.get("healthcheck") or {}).get("test")
        if test is not None and not isinstance(test, str):
            assert test[0] in ("CMD", "CMD-SHELL", "NONE"), f"{name}: healthcheck test starts with {test[0]!r}"


def test_host_ports_do_not_collide() -> None:
    seen: dict[int, str] = {}
    for name, host, _ in host_ports():
        assert host not in seen, f"host port {host} is published by {seen[host]} and {name}"
        seen[host] = name


def _depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = service.get("depends_on") or {}
    return {dep: {} for dep in deps} if isinstance(deps, list) else deps


CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


@pytest.mark.parametrize("name", sorted(services()))
def test_depends_on_conditions_can_be_met(name: str) -> None:
    for dep, spec in _depends_on(services()[name]).items():
        assert dep in services(), f"{name} depends on unknown service {dep}"
        condition = spec.get("condition")
        assert condition in CONDITIONS, f"{name} -> {dep}: state a condition ({sorted(CONDITIONS)})"
        target = services()[dep]
        if condition == "service_healthy":
            test = (target.get("healthcheck") or {}).get("test")
            assert test and test != ["NONE"], f"{name} waits for {dep} to be healthy, but {dep} has no healthcheck"
        if condition == "service_completed_successfully":
            assert target.get("restart", "no") == "no", f"{dep} must be one-shot for {name} to wait for it"


def test_long_running_project_services_have_healthchecks_or_are_leaves() -> None:
    depended_on = {dep for s in services().values() for dep in _depends_on(s)}
    for name, service in services().items():
        one_shot = service.get("restart", "no") == "no"
        if name in depended_on and not one_shot:
            assert service.get("healthcheck"), f"{name} is depended on but has no healthcheck"


def test_dependencies_have_no_cycles() -> None:
    graph = {name: set(_depends_on(s)) for name, s in services().items()}
    done: set[str] = set()
    while graph.keys() - done:
        ready = {n for n in graph.keys() - done if graph[n] <= done}
        assert ready, f"dependency cycle among {sorted(graph.keys() - done)}"
        done |= ready


def test_startup_order() -> None:
    """Topics exist before anyone produces or consumes; Dagster starts after its storage."""
    for name in ("simulators", "ingest", "codeserver"):
        assert _depends_on(services()[name])["kafka-init"]["condition"] == "service_completed_successfully"
    for name in ("codeserver", "webserver", "daemon"):
        assert _depends_on(services()[name])["postgres"]["condition"] == "service_healthy"
    for name in ("webserver", "daemon"):
        assert _depends_on(services()[name])["codeserver"]["condition"] == "service_healthy"
    assert _depends_on(services()["kafka-init"])["schema-registry"]["condition"] == "service_healthy"


def test_kafka_is_a_single_kraft_node() -> None:
    service = services()["kafka"]
    assert service["image"] == "apache/kafka:4.1.1"
    env = environment(service)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert set(listeners) == {"INTERNAL", "HOST", "CONTROLLER"}
    assert set(advertised) == {"INTERNAL", "HOST"}
    protocol_map = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(protocol_map) == set(listeners)
    host_port = next(host for name, host, target in host_ports() if name == "kafka" and target == 9092)
    assert advertised["HOST"] == f"localhost:{host_port}", "host clients must be told the published port"
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR",
    ):
        assert env[key] == "1", key
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"]), "CLUSTER_ID is a base64 UUID"


def _docker_compose() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


def test_docker_compose_config_accepts_the_file() -> None:
    """`docker compose config` validates against the Compose Specification; it needs no engine."""
    tool = _docker_compose()
    assert tool is not None, (
        "neither `docker compose` nor `docker-compose` is installed; `apt-get install docker-compose` "
        "(.ci/run does) - it validates the file without a Docker engine"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STACK_")}
    result = subprocess.run(
        [*tool, "-f", str(COMPOSE_FILE), "config", "--quiet"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr


# -- the image -------------------------------------------------------------------------------------


@cache
def dockerfile() -> str:
    return DOCKERFILE.read_text()


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for block in re.findall(r"^ENV\s+((?:.*\\\n)*.*)$", dockerfile(), re.MULTILINE):
        for pair in shlex.split(block.replace("\\\n", " ")):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def test_dockerfile() -> None:
    text = dockerfile()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert stages[-1].startswith("python:3.11-slim"), "runtime on python:3.11-slim"
    assert "openjdk-17-jre-headless" in text, "Spark needs a Java 17 runtime"
    assert re.search(r"mvn .*-f jvm/pom.xml package", text), "jars are resolved with Maven at build time"
    assert f"WORKDIR {CONTAINER_ROOT}" in text
    assert re.search(r"pip install .*-e \.", text), "editable install keeps PROJECT_ROOT at the source tree"
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1] not in ("root", "0"), "the image runs as a non-root user"
    dagster_home = image_env()["DAGSTER_HOME"]
    assert re.search(rf"COPY\s+infra/dagster/dagster\.postgres\.yaml\s+{re.escape(dagster_home)}/dagster\.yaml", text)
    assert image_env()["DATAPLAT_JARS_DIR"] == f"{CONTAINER_ROOT}/.jars"


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip()}
    for required in (".venv", ".jars", ".dataplat", ".env", ".git", "test-output", "bench/results"):
        assert required in patterns, f".dockerignore must exclude {required}"
    # .env is loaded with override=True by `dataplat`: inside the image it would beat compose's variables.
    assert "!.env" not in patterns


# -- .env.example ----------------------------------------------------------------------------------

PATH_PLACEHOLDER = "/path/to/dataplat"
ENV_EXAMPLE_HEADER = """\
# Reference copy of the .env that `dataplat init` writes (dataplat.envfile.render_env()), with
# this checkout's absolute paths replaced by /path/to/dataplat. Generated; do not edit. Regenerate:
#   .venv/bin/python -m tests.test_docker_compose --write-env-example
# docker-compose.yml sets the same variables for the containers.

"""


def render_env_example() -> str:
    from dataplat.envfile import render_env

    return ENV_EXAMPLE_HEADER + render_env().replace(str(PROJECT_ROOT), PATH_PLACEHOLDER)


def _assignments(text: str) -> list[tuple[str, str]]:
    return [
        (name, value)
        for line in text.splitlines()
        if line and not line.startswith("#")
        for name, _, value in [line.partition("=")]
    ]


def test_env_example_lists_exactly_the_documented_variables() -> None:
    names = [name for name, _ in _assignments(ENV_EXAMPLE.read_text())]
    assert names == [spec.name for spec in env_var_specs()], (
        "regenerate with `.venv/bin/python -m tests.test_docker_compose --write-env-example`"
    )


def test_env_example_is_the_generated_file() -> None:
    assert ENV_EXAMPLE.read_text() == render_env_example(), (
        ".env.example is stale; regenerate with `.venv/bin/python -m tests.test_docker_compose --write-env-example`"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-env-example"]:
        ENV_EXAMPLE.write_text(render_env_example())
        print(f"wrote {ENV_EXAMPLE}")
    else:
        sys.exit("usage: python -m tests.test_docker_compose --write-env-example")
