"""The asset-check report: rendering and exit semantics (pure), and collection from a real instance."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from dataplat.report import FAILED, NOT_RUN, PASSED, CheckEntry, build_report, collect

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def entry(check: str, status: str, severity: str | None = "ERROR", asset: str = "bronze_x", **kw: object) -> CheckEntry:
    return CheckEntry(asset=asset, check=check, blocking=True, status=status, severity=severity, **kw)  # type: ignore[arg-type]


def test_summary_counts_and_ok_when_only_warnings_fail() -> None:
    report = build_report(
        [
            entry("a", PASSED, figures={"rows": 10}),
            entry("b", FAILED, "WARN", description="1.2% rejected"),
            entry("c", NOT_RUN, None),
        ],
        NOW,
    )
    assert report.ok
    assert report.summary() == "OK: 3 checks, 1 passed, 1 failed (0 ERROR, 1 WARN), 1 not run"


def test_an_error_failure_fails_the_report_and_is_rendered() -> None:
    report = build_report(
        [entry("dupes", FAILED, description="3 duplicate | ids", figures={"duplicates": 3}), entry("ok", PASSED)], NOW
    )
    assert not report.ok
    markdown = report.to_markdown()
    assert markdown.splitlines()[2] == "**FAILED: 2 checks, 1 passed, 1 failed (1 ERROR, 0 WARN), 0 not run**"
    assert (
        "## bronze_x" in markdown
        and "| dupes | ERROR (blocking) | ❌ failed: 3 duplicate \\| ids | duplicates=3 |" in markdown
    )
    data = json.loads(report.to_json())
    assert data["ok"] is False and data["counts"]["failed_error"] == 1
    assert data["checks"][0]["check"] == "dupes" and data["checks"][0]["figures"] == {"duplicates": 3}


def test_collect_reads_latest_evaluations_from_an_instance() -> None:
    @dg.asset
    def table() -> None:
        return None

    @dg.asset_check(asset=table, blocking=True)
    def always_ok() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True, metadata={"rows": 5})

    @dg.asset_check(asset=table)
    def warns() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, description="meh")

    @dg.asset_check(asset=table)
    def never_run() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    defs = dg.Definitions(assets=[table], asset_checks=[always_ok, warns, never_run])
    with dg.instance_for_test() as instance:
        dg.materialize([table, always_ok, warns], instance=instance, raise_on_error=False)
        entries = {e.check: e for e in collect(defs, instance)}
    assert entries["always_ok"].status == PASSED and entries["always_ok"].figures == {"rows": 5}
    assert entries["always_ok"].blocking and entries["always_ok"].evaluated_at
    assert entries["warns"].status == FAILED and entries["warns"].severity == "WARN"
    assert entries["never_run"].status == NOT_RUN
    assert build_report(list(entries.values())).ok


def test_report_command_exits_nonzero_on_error_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI against a real DAGSTER_HOME whose bronze check failed (injected bad data)."""
    from dataplat.definitions import defs

    home = tmp_path / "dagster"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    key = dg.AssetCheckKey(dg.AssetKey("bronze_app_events"), "no_duplicate_event_id")
    assert key in defs.resolve_asset_graph().asset_check_keys
    with dg.DagsterInstance.get() as instance:
        # Record a failed ERROR evaluation the way a real run does, via a run of a stand-in check.
        @dg.asset(key=key.asset_key)
        def bronze_app_events() -> None:
            return None

        @dg.asset_check(asset=key.asset_key, name=key.name, blocking=True)
        def no_duplicate_event_id() -> dg.AssetCheckResult:
            return dg.AssetCheckResult(
                passed=False, description="2 duplicate event_id values", metadata={"duplicates": 2}
            )

        dg.materialize([bronze_app_events, no_duplicate_event_id], instance=instance, raise_on_error=False)
    out = tmp_path / "reports"
    result = subprocess.run(
        [sys.executable, "-m", "dataplat.cli", "report", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("FAILED:")
    data = json.loads((out / "check-report.json").read_text())
    failed = [c for c in data["checks"] if c["status"] == "failed"]
    assert [(c["asset"], c["check"]) for c in failed] == [("bronze_app_events", "no_duplicate_event_id")]
    assert "2 duplicate event_id values" in (out / "check-report.md").read_text()
