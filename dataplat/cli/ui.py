"""``dataplat ui``: the Dagster webserver and daemon (``dagster dev``) on the project's instance."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer


def ui(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(3000, help="Port of the Dagster UI."),
) -> None:
    """Serve the asset graph at http://HOST:PORT with the daemon running sensors, schedules and automation."""
    from dataplat.envfile import ensure_dagster_home
    from dataplat_resources.settings import PROJECT_ROOT

    dagster_home = Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / ".dataplat" / "dagster")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    ensure_dagster_home(dagster_home)
    typer.echo(f"Dagster UI at http://{host}:{port} (DAGSTER_HOME={dagster_home}); Ctrl-C stops it.")
    dagster = str(Path(sys.executable).with_name("dagster"))
    os.chdir(PROJECT_ROOT)
    os.execv(dagster, [dagster, "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", host, "-p", str(port)])
