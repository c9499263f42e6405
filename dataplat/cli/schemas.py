"""``dataplat schemas export|check|register``: the per-topic JSON Schemas.

The schemas are generated from the pydantic contracts and checked in under
``dataplat_resources/contracts/schemas/``; ``check`` fails CI when someone changed a contract
without regenerating, ``register`` publishes them to a Confluent-compatible schema registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

app = typer.Typer(
    help="Per-topic JSON Schemas generated from the event contracts: export, check, register.",
    no_args_is_help=True,
)

TopicsOpt = Annotated[
    str, typer.Option("--topics", help="'all' or a comma-separated list of topics, e.g. topic_app_events.")
]
DirOpt = Annotated[
    Path | None, typer.Option("--dir", help="Schema folder (default: dataplat_resources/contracts/schemas).")
]


def _fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


def _topics(spec: str) -> list[str] | None:
    from dataplat_resources.schemas import topics_or_all

    if spec.strip().lower() == "all":
        return None
    try:
        return topics_or_all(t.strip() for t in spec.split(",") if t.strip())
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="--topics") from exc


@app.command()
def export(topics: TopicsOpt = "all", directory: DirOpt = None) -> None:
    """Write <topic>.json for every contract (only files whose content changed are touched)."""
    from dataplat_resources.schemas import SCHEMA_DIR, export_schemas, unexpected_schema_files

    folder = directory or SCHEMA_DIR
    changed = export_schemas(folder, _topics(topics))
    for path in changed:
        typer.echo(f"wrote {path}")
    if not changed:
        typer.echo(f"schemas in {folder} are up to date")
    for orphan in unexpected_schema_files(folder):
        typer.secho(f"warning: {orphan} has no contract any more; delete it", fg=typer.colors.YELLOW, err=True)


@app.command()
def check(topics: TopicsOpt = "all", directory: DirOpt = None) -> None:
    """Exit 1 with a diff when a checked-in schema differs from the contracts."""
    from dataplat_resources.schemas import SCHEMA_DIR, stale_schemas, unexpected_schema_files

    folder = directory or SCHEMA_DIR
    stale = stale_schemas(folder, _topics(topics))
    orphans = unexpected_schema_files(folder)
    for item in stale:
        typer.echo(item.describe(), err=True)
    for orphan in orphans:
        typer.echo(f"{orphan} has no contract any more; delete it", err=True)
    if stale or orphans:
        raise typer.Exit(code=1)
    typer.echo(f"schemas in {folder} are up to date")


@app.command()
def register(
    topics: TopicsOpt = "all",
    url: Annotated[
        str | None, typer.Option("--url", help="Registry URL; defaults to SCHEMA_REGISTRY_URL.", show_default=False)
    ] = None,
    wait: Annotated[float, typer.Option("--wait", min=0.0, help="Seconds to retry an unreachable registry.")] = 60.0,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per HTTP request.")] = 10.0,
) -> None:
    """Publish each topic's schema as subject <topic>-value (schemaType JSON). Needs SCHEMA_REGISTRY_URL."""
    from dataplat_resources.schemas import SchemaRegistryError, register_schemas
    from dataplat_resources.settings import load_settings

    base_url = url or load_settings().schema_registry_url
    if not base_url:
        _fail("no schema registry configured: set SCHEMA_REGISTRY_URL (e.g. http://localhost:8081) or pass --url")
    try:
        registrations = register_schemas(base_url, _topics(topics), timeout_s=timeout, wait_s=wait)
    except SchemaRegistryError as exc:
        _fail(str(exc))
    for done in registrations:
        typer.echo(f"  {done.subject:<34} schema id {done.schema_id}")


if __name__ == "__main__":
    app()
