"""The project's ``.env``: local defaults for every variable, written once by ``dataplat init``.

Dagster's commands load ``.env`` from the working directory and let it win over the shell;
the ``dataplat`` command does the same, so both always see one configuration.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from dotenv import dotenv_values, load_dotenv

from dataplat_resources.settings import PROJECT_ROOT, env_var_specs

DAGSTER_YAML = PROJECT_ROOT / "infra" / "dagster" / "dagster.yaml"


def render_env(home: Path | None = None) -> str:
    lines = ["# Written by `dataplat init` with local defaults. Dagster and dataplat both read it.", ""]
    for spec in env_var_specs(home):
        lines.append(f"# {spec.description}")
        lines.append(f"{spec.name}={spec.default}")
    return "\n".join(lines) + "\n"


def env_file() -> Path:
    """``./.env`` in the working directory, the file Dagster's commands read."""
    return Path.cwd() / ".env"


def write_env(path: Path | None = None, force: bool = False) -> bool:
    """Write ``.env`` unless it exists. Returns True when written."""
    path = path or env_file()
    if path.exists() and not force:
        return False
    path.write_text(render_env())
    return True


def load_env(path: Path | None = None) -> dict[str, str]:
    """Load ``./.env`` into the process environment, winning over the shell (as Dagster does)."""
    path = path or env_file()
    if path.exists():
        load_dotenv(path, override=True)
        return {k: v for k, v in dotenv_values(path).items() if v is not None}
    return {}


def ensure_dagster_home(dagster_home: Path) -> Path:
    """Create ``$DAGSTER_HOME`` with the project's dagster.yaml unless one is there."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    if not target.exists():
        shutil.copyfile(DAGSTER_YAML, target)
    return target
