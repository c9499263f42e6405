"""The ``dataplat`` command: one entry point for every operation.

Commands import their heavy dependencies lazily, so ``dataplat kafka status`` answers in well
under a second and never imports Dagster or Spark. ``.env`` (see ``dataplat init``) is loaded
first, exactly as Dagster's own commands do.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from dataplat.cli import ingest, kafka, schemas, simulate
from dataplat.cli.health import health
from dataplat.cli.report import report
from dataplat.cli.ui import ui
from dataplat.cli.up import up
from dataplat.envfile import ensure_dagster_home, env_file, load_env, write_env

app = typer.Typer(
    help="dataplat: simulators -> Kafka -> Delta bronze -> Spark silver/gold, orchestrated by Dagster.",
    no_args_is_help=True,
)
app.add_typer(kafka.app, name="kafka")
app.add_typer(ingest.app, name="ingest")
app.add_typer(schemas.app, name="schemas")
app.add_typer(simulate.app, name="simulate")
app.command()(report)
app.command()(health)
app.command()(ui)
app.command()(up)


@app.callback()
def _configure(
    log_level: str = typer.Option(None, envvar="LOG_LEVEL", help="DEBUG, INFO, WARNING or ERROR."),
) -> None:
    load_env()
    from dataplat_resources.logging import configure_logging
    from dataplat_resources.settings import load_settings

    settings = load_settings()
    configure_logging(log_level or settings.log_level, settings.log_format)


@app.command()
def init(force: bool = typer.Option(False, help="Overwrite an existing .env.")) -> None:
    """Write .env with local defaults and prepare DAGSTER_HOME (safe to run again)."""
    written = write_env(force=force)
    typer.echo(f"{'wrote' if written else 'kept existing'} {env_file()}")
    load_env()
    dagster_home = Path(os.environ["DAGSTER_HOME"])
    typer.echo(f"DAGSTER_HOME={dagster_home} ({ensure_dagster_home(dagster_home)})")


def main() -> None:
    app()
