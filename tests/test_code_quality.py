"""Lint, format and the layering contracts, as part of the suite (ruff and import-linter)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dataplat_resources.settings import PROJECT_ROOT

BIN = Path(PROJECT_ROOT) / ".venv" / "bin"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)


def test_layers_flow_one_way_and_engines_never_import_dagster() -> None:
    result = run(str(BIN / "lint-imports"))
    assert result.returncode == 0, result.stdout[-4000:]
    assert "0 broken" in result.stdout


def test_ruff_lint() -> None:
    result = run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout[-4000:]


def test_ruff_format() -> None:
    result = run(str(BIN / "ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout[-4000:]
