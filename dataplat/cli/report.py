"""``dataplat report``: the asset-check report; exits 1 when an ERROR-severity check failed."""

from __future__ import annotations

from pathlib import Path

import typer


def report(
    out: Path = typer.Option(Path("test-output/reports"), help="Folder for check-report.md and check-report.json."),
    require_all: bool = typer.Option(False, help="Also fail when a check has never run."),
) -> None:
    """Evaluate the latest result of every asset check and write Markdown and JSON reports."""
    import dagster as dg

    from dataplat.definitions import defs
    from dataplat.report import NOT_RUN, build_report, collect

    with dg.DagsterInstance.get() as instance:
        result = build_report(collect(defs, instance))
    out.mkdir(parents=True, exist_ok=True)
    (out / "check-report.md").write_text(result.to_markdown())
    (out / "check-report.json").write_text(result.to_json())
    typer.echo(result.summary())
    typer.echo(f"reports: {out / 'check-report.md'} and {out / 'check-report.json'}")
    for entry in result.entries:
        if entry.failed_error or (require_all and entry.status == NOT_RUN):
            typer.secho(f"  {entry.asset}.{entry.check}: {entry.status} {entry.description}", fg="red", err=True)
    if not result.ok or (require_all and result.count(NOT_RUN)):
        raise typer.Exit(1)
