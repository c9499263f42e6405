"""The asset-check report: the latest result of every check, for humans (Markdown) and machines (JSON).

``collect`` reads the checks from the Definitions and their latest evaluations from a Dagster
instance; everything after that (the summary, the rendering, the exit code) is plain data, so
it is tested without Dagster.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

PASSED, FAILED, NOT_RUN, RUNNING = "passed", "failed", "not run", "running"
_MAX_FIGURES = 8


@dataclass(frozen=True)
class CheckEntry:
    asset: str
    check: str
    blocking: bool
    status: str  # passed | failed | not run | running
    severity: str | None  # ERROR | WARN, for evaluated checks
    description: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    evaluated_at: str | None = None  # ISO-8601 UTC

    @property
    def failed_error(self) -> bool:
        return self.status == FAILED and self.severity == "ERROR"


@dataclass(frozen=True)
class Report:
    generated_at: str
    entries: list[CheckEntry]

    def count(self, status: str, severity: str | None = None) -> int:
        return sum(1 for e in self.entries if e.status == status and (severity is None or e.severity == severity))

    @property
    def ok(self) -> bool:
        """False when any ERROR-severity check failed (what CI gates on)."""
        return not any(e.failed_error for e in self.entries)

    def summary(self) -> str:
        verdict = "OK" if self.ok else "FAILED"
        return (
            f"{verdict}: {len(self.entries)} checks, {self.count(PASSED)} passed, {self.count(FAILED)} failed "
            f"({self.count(FAILED, 'ERROR')} ERROR, {self.count(FAILED, 'WARN')} WARN), {self.count(NOT_RUN)} not run"
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "generated_at": self.generated_at,
                "ok": self.ok,
                "summary": self.summary(),
                "counts": {
                    "total": len(self.entries),
                    "passed": self.count(PASSED),
                    "failed": self.count(FAILED),
                    "failed_error": self.count(FAILED, "ERROR"),
                    "failed_warn": self.count(FAILED, "WARN"),
                    "not_run": self.count(NOT_RUN),
                },
                "checks": [asdict(e) for e in self.entries],
            },
            indent=2,
            default=str,
        )

    def to_markdown(self) -> str:
        icon = {PASSED: "✅ passed", FAILED: "❌ failed", NOT_RUN: "⚪ not run", RUNNING: "⏳ running"}
        lines = [
            "# dataplat asset-check report",
            "",
            f"**{self.summary()}**",
            "",
            f"Generated {self.generated_at}.",
            "",
        ]
        by_asset: dict[str, list[CheckEntry]] = {}
        for entry in self.entries:
            by_asset.setdefault(entry.asset, []).append(entry)
        for asset in sorted(by_asset):
            lines += [
                f"## {asset}",
                "",
                "| check | severity | result | key figures | ran at |",
                "|---|---|---|---|---|",
            ]
            for e in sorted(by_asset[asset], key=lambda e: e.check):
                severity = (e.severity or "-") + (" (blocking)" if e.blocking else "")
                figures = ", ".join(f"{k}={_short(v)}" for k, v in list(e.figures.items())[:_MAX_FIGURES]) or "-"
                result = icon.get(e.status, e.status)
                if e.status == FAILED and e.description:
                    result += f": {_cell(e.description)}"
                lines.append(f"| {e.check} | {severity} | {result} | {_cell(figures)} | {e.evaluated_at or '-'} |")
            lines.append("")
        return "\n".join(lines)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def build_report(entries: list[CheckEntry], now: datetime | None = None) -> Report:
    ordered = sorted(entries, key=lambda e: (e.asset, e.check))
    return Report((now or datetime.now(UTC)).isoformat(timespec="seconds"), ordered)


def plain_figures(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Dagster metadata values -> plain JSON values (numbers, text, small dicts)."""
    figures = {}
    for key, value in metadata.items():
        raw = getattr(value, "value", value)
        if isinstance(raw, int | float | str | bool) or raw is None or isinstance(raw, dict | list):
            figures[key] = raw
        else:
            figures[key] = str(raw)
    return figures


def _run_finished(instance: Any, run_id: str) -> bool:
    run = instance.get_run_by_id(run_id)
    return run is None or run.is_finished


def collect(defs: Any, instance: Any) -> list[CheckEntry]:
    """Latest evaluation of every check the Definitions declare, from ``instance``."""
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    graph = defs.resolve_asset_graph()
    keys = sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name))
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    entries = []
    for key in keys:
        spec = graph.get_check_spec(key)
        record = records.get(key)
        if record is None or record.status == AssetCheckExecutionRecordStatus.PLANNED:
            # PLANNED: the run that planned it is in progress, or it failed/was skipped before the check ran.
            status = NOT_RUN if record is None or _run_finished(instance, record.run_id) else RUNNING
            entries.append(CheckEntry(key.asset_key.to_user_string(), key.name, spec.blocking, status, None))
            continue
        evaluation = record.evaluation
        assert evaluation is not None
        entries.append(
            CheckEntry(
                asset=key.asset_key.to_user_string(),
                check=key.name,
                blocking=spec.blocking,
                status=PASSED if evaluation.passed else FAILED,
                severity=evaluation.severity.value,
                description=evaluation.description or "",
                figures=plain_figures(evaluation.metadata),
                run_id=record.run_id,
                evaluated_at=datetime.fromtimestamp(record.event.timestamp, UTC).isoformat(timespec="seconds")
                if record.event
                else None,
            )
        )
    return entries
