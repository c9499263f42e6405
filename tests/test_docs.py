"""The docs stay honest: every variable the code reads is documented, and every command, make
target and file the docs mention exists."""

from __future__ import annotations

import re

import pytest
import typer.main

from dataplat.cli import app
from dataplat_resources.settings import PROJECT_ROOT, env_var_specs

README = (PROJECT_ROOT / "README.md").read_text()
ARCHITECTURE = (PROJECT_ROOT / "ARCHITECTURE.md").read_text()
MAKEFILE = (PROJECT_ROOT / "Makefile").read_text()


@pytest.mark.parametrize("name", [spec.name for spec in env_var_specs()])
def test_every_environment_variable_is_documented(name: str) -> None:
    assert f"`{name}`" in README


def test_quick_start_is_two_commands() -> None:
    block = README.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make up", "make test"]
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "make test"


def test_every_make_target_mentioned_exists() -> None:
    targets = set(re.findall(r"^([a-z-]+):", MAKEFILE, re.M))
    for target in set(re.findall(r"`make ([a-z-]+)", README + ARCHITECTURE)):
        assert target in targets, target


def _commands() -> set[str]:
    group = typer.main.get_command(app)
    names = set()
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        names.add(name)
        for sub in getattr(command, "commands", {}):
            names.add(f"{name} {sub}")
    return names


def test_every_dataplat_command_mentioned_exists() -> None:
    known = _commands()
    mentioned = re.findall(r"dataplat ([a-z]+(?: [a-z|]+)?)", README + ARCHITECTURE)
    for phrase in mentioned:
        group, _, subs = phrase.partition(" ")
        if group not in known:
            continue  # prose such as "dataplat is"
        for sub in filter(None, subs.split("|")):
            if f"{group} {sub}" not in known and sub.isidentifier() and any(k.startswith(f"{group} ") for k in known):
                raise AssertionError(f"README mentions `dataplat {group} {sub}`, which does not exist")


def test_linked_files_exist() -> None:
    for path in re.findall(r"\]\(([^)#:]+)\)", README + ARCHITECTURE):
        assert (PROJECT_ROOT / path).exists(), path
    for path in re.findall(
        r"`((?:dataplat\w*|simulators|scripts|infra|tests|bench|jvm)/[\w./-]+)`", README + ARCHITECTURE
    ):
        if "<" in path or path.endswith(("tickets.py", "topic_tickets.json")):
            continue  # the worked example's new files
        if path.rstrip("/") in GENERATED:
            continue
        assert (PROJECT_ROOT / path.rstrip("/")).exists(), path


# Folders the code creates at run time (ignored by git, so absent on a fresh clone).
GENERATED = {"bench/results"}


def test_generated_folders_are_created_by_the_code_and_ignored_by_git() -> None:
    ignored = (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    for folder in GENERATED:
        assert f"{folder}/" in ignored, folder
        writers = [p for p in (PROJECT_ROOT / "bench").glob("*.py") if f'"{folder.split("/")[-1]}"' in p.read_text()]
        assert writers, f"nothing writes {folder}"
