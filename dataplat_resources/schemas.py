"""JSON Schema per topic, generated from the contracts and never edited by hand.

The pydantic contracts are the single source of truth. This module renders each topic's
schema deterministically (sorted keys, two-space indent, trailing newline) so the checked-in
files under ``contracts/schemas/`` diff cleanly, tells whether those files are stale, and
optionally publishes the schemas to a Confluent-compatible schema registry.

Publishing is split in two so it can be tested without a server: :func:`registration_request`
is a pure function building the exact HTTP request, :func:`register_schemas` sends it with the
standard library (no new dependency; the confluent-kafka schema-registry extra is not installed).
"""

from __future__ import annotations

import base64
import difflib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from dataplat_resources.contracts.registry import CONTRACTS, contract_for

SCHEMA_DIR = Path(__file__).resolve().parent / "contracts" / "schemas"
REGENERATE_HINT = "regenerate with `dataplat schemas export` (or `python -m dataplat.cli.schemas export`)"
# The media type Confluent's REST API documents; it also accepts application/json.
REGISTRY_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


# -- rendering and files ------------------------------------------------------------------------


def render_schema(topic: str) -> str:
    """The schema text of one topic: stable across runs and Python versions, so diffs mean changes."""
    schema = contract_for(topic).json_schema()
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_path(topic: str, directory: Path = SCHEMA_DIR) -> Path:
    return directory / f"{topic}.json"


def topics_or_all(topics: Iterable[str] | None) -> list[str]:
    """The requested topics, checked against the registry; ``None`` means every contract."""
    if topics is None:
        return sorted(CONTRACTS)
    chosen = list(dict.fromkeys(topics))
    for topic in chosen:
        contract_for(topic)  # raises KeyError naming the known topics
    return chosen


def export_schemas(directory: Path = SCHEMA_DIR, topics: Iterable[str] | None = None) -> list[Path]:
    """Write every topic's schema; returns the files whose content changed (unchanged files are not touched)."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for topic in topics_or_all(topics):
        path = schema_path(topic, directory)
        text = render_schema(topic)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


@dataclass(frozen=True)
class StaleSchema:
    """A checked-in schema file that differs from what the contract renders now."""

    topic: str
    path: Path
    diff: str  # unified diff, checked-in -> fresh; empty when the file is missing

    @property
    def missing(self) -> bool:
        return not self.path.exists()

    def describe(self) -> str:
        if self.missing:
            return f"{self.path} is missing; {REGENERATE_HINT}"
        return f"{self.path} is stale; {REGENERATE_HINT}\n{self.diff}"


def stale_schemas(directory: Path = SCHEMA_DIR, topics: Iterable[str] | None = None) -> list[StaleSchema]:
    """Every schema file that is missing or differs from the contracts; empty means up to date."""
    stale = []
    for topic in topics_or_all(topics):
        path = schema_path(topic, directory)
        fresh = render_schema(topic)
        if not path.exists():
            stale.append(StaleSchema(topic, path, ""))
            continue
        current = path.read_text(encoding="utf-8")
        if current != fresh:
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                fresh.splitlines(keepends=True),
                fromfile=f"{path} (checked in)",
                tofile=f"{path} (from the contracts)",
            )
            stale.append(StaleSchema(topic, path, "".join(diff)))
    return stale


def unexpected_schema_files(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Schema files for topics that no longer have a contract (left behind by a rename)."""
    if not directory.is_dir():
        return []
    expected = {schema_path(topic, directory).name for topic in CONTRACTS}
    return sorted(p for p in directory.glob("*.json") if p.name not in expected)


# -- schema registry ----------------------------------------------------------------------------


class SchemaRegistryError(RuntimeError):
    """The registry refused a schema or could not be reached."""


class SchemaRegistryUnavailableError(SchemaRegistryError):
    """No usable answer yet (connection refused, timeout, HTTP 5xx): worth retrying while it starts."""


def registry_subject(topic: str) -> str:
    """Confluent's TopicNameStrategy for message values: ``<topic>-value``."""
    return f"{topic}-value"


@dataclass(frozen=True)
class RegistrationRequest:
    """One ``POST /subjects/<subject>/versions``, fully built and inspectable."""

    topic: str
    subject: str
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"

    def to_urllib(self) -> urllib.request.Request:
        return urllib.request.Request(self.url, data=self.body, headers=self.headers, method=self.method)


def registration_payload(schema_text: str) -> dict[str, Any]:
    """The JSON body Confluent expects: the schema as a *string*, and its type."""
    return {"schemaType": "JSON", "schema": schema_text}


def registration_request(base_url: str, topic: str, schema_text: str | None = None) -> RegistrationRequest:
    """Build the request registering ``topic``'s value schema. Pure: no I/O, no clock.

    Credentials in the URL (``https://user:secret@host``) become a Basic ``Authorization``
    header and are removed from the URL, because urllib does not send userinfo itself.
    """
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SchemaRegistryError(f"SCHEMA_REGISTRY_URL must be an http(s) URL, got {base_url!r}")
    headers = {"Content-Type": REGISTRY_CONTENT_TYPE, "Accept": REGISTRY_CONTENT_TYPE}
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    if parts.username is not None:
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(token).decode("ascii")
    base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    subject = registry_subject(topic)
    text = render_schema(topic) if schema_text is None else schema_text
    body = json.dumps(registration_payload(text), separators=(",", ":")).encode("utf-8")
    return RegistrationRequest(
        topic=topic,
        subject=subject,
        url=f"{base}/subjects/{quote(subject, safe='')}/versions",
        body=body,
        headers=headers,
    )


@dataclass(frozen=True)
class Registration:
    topic: str
    subject: str
    schema_id: int


Opener = Callable[..., Any]  # urllib.request.urlopen's signature: (request, timeout=...) -> response


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """Confluent answers errors as ``{"error_code": ..., "message": ...}``; fall back to the raw body."""
    try:
        raw = exc.read().decode("utf-8", "replace")
    except OSError:
        raw = ""
    try:
        message = json.loads(raw).get("message") or raw
    except (ValueError, AttributeError):
        message = raw
    return f"HTTP {exc.code}: {message.strip() or exc.reason}"


def send_registration(
    request: RegistrationRequest, timeout_s: float = 10.0, opener: Opener | None = None
) -> Registration:
    """Send one registration; the registry answers ``{"id": <schema id>}`` (same id if already registered)."""
    open_url = opener or urllib.request.urlopen
    try:
        with open_url(request.to_urllib(), timeout=timeout_s) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = _error_detail(exc)
        if exc.code >= 500:
            raise SchemaRegistryUnavailableError(f"{request.subject}: the registry failed ({detail})") from exc
        raise SchemaRegistryError(f"{request.subject}: the registry refused the schema ({detail})") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SchemaRegistryUnavailableError(f"cannot reach the schema registry at {request.url}: {reason}") from exc
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = raw[:200]
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), int):
        raise SchemaRegistryError(f"{request.subject}: unexpected registry answer {answer!r}")
    return Registration(request.topic, request.subject, answer["id"])


def register_schemas(
    base_url: str,
    topics: Iterable[str] | None = None,
    *,
    timeout_s: float = 10.0,
    wait_s: float = 0.0,
    retry_interval_s: float = 1.0,
    opener: Opener | None = None,
) -> list[Registration]:
    """Register every topic's schema. Unreachable registries are retried for ``wait_s`` seconds
    (the registry starts after Kafka in docker-compose); refusals fail at once."""
    requests = [registration_request(base_url, topic) for topic in topics_or_all(topics)]
    deadline = time.monotonic() + wait_s
    results = []
    for request in requests:
        while True:
            try:
                results.append(send_registration(request, timeout_s, opener))
                break
            except SchemaRegistryUnavailableError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(retry_interval_s)
    return results
