"""The per-topic JSON Schemas: generated from the contracts, checked in, never hand-edited.

- The checked-in files equal freshly rendered ones (the failure says how to regenerate).
- Each schema is well-formed draft 2020-12 (a structural check of the keywords it uses; the
  ``jsonschema`` package is not a dependency) and closes every object (additionalProperties false).
- Sample valid events from ``tests/factories.py`` declare only documented keys and validate
  against the published schema with a small validator for exactly the keywords the schemas use.
- The schema-registry request builder is pure and unit-tested here. No registry server is
  available in this environment, so publishing is NOT integration-tested: the sending code is
  exercised only with a fake ``urlopen``.
"""

from __future__ import annotations

import base64
import io
import json
import re
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dataplat.cli.schemas import app as schemas_app
from dataplat_resources import schemas, topics
from dataplat_resources.contracts import CONTRACTS, contract_for
from tests import factories as f

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
T0 = f.BASE_TIME


def load(topic: str) -> dict[str, Any]:
    return json.loads(schemas.schema_path(topic).read_text(encoding="utf-8"))


# -- generated, up to date -----------------------------------------------------------------------


def test_checked_in_schemas_match_the_contracts() -> None:
    stale = schemas.stale_schemas()
    assert not stale, "\n\n".join(item.describe() for item in stale)


def test_every_contract_has_a_schema_file_and_no_file_is_orphaned() -> None:
    assert sorted(p.name for p in schemas.SCHEMA_DIR.glob("*.json")) == sorted(f"{t}.json" for t in CONTRACTS)
    assert schemas.unexpected_schema_files() == []


@pytest.mark.parametrize("topic", sorted(CONTRACTS))
def test_rendering_is_stable_and_canonical(topic: str) -> None:
    text = schemas.render_schema(topic)
    assert text == schemas.render_schema(topic)
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_export_and_stale_detection_in_a_folder(tmp_path: Path) -> None:
    written = schemas.export_schemas(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{t}.json" for t in CONTRACTS)
    assert schemas.export_schemas(tmp_path) == []  # unchanged files are not rewritten
    assert schemas.stale_schemas(tmp_path) == []
    target = schemas.schema_path(topics.APP_EVENTS, tmp_path)
    target.write_text(target.read_text().replace('"maxLength": 255', '"maxLength": 256', 1))
    (stale,) = schemas.stale_schemas(tmp_path)
    assert stale.topic == topics.APP_EVENTS
    assert re.search(r'^-\s+"maxLength": 256', stale.diff, re.MULTILINE)
    assert re.search(r'^\+\s+"maxLength": 255', stale.diff, re.MULTILINE)
    assert "dataplat schemas export" in stale.describe()
    target.unlink()
    (missing,) = schemas.stale_schemas(tmp_path)
    assert missing.missing and "is missing" in missing.describe()
    (tmp_path / "topic_gone.json").write_text("{}\n")
    assert [p.name for p in schemas.unexpected_schema_files(tmp_path)] == ["topic_gone.json"]


# -- well-formed draft 2020-12 -------------------------------------------------------------------

# Every keyword of the draft 2020-12 vocabularies, plus pydantic's OpenAPI ``discriminator``
# annotation (unknown keywords are annotations in 2020-12; this one is listed on purpose).
KEYWORDS_2020_12 = {
    "$schema", "$id", "$ref", "$defs", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary", "$comment",
    "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "prefixItems", "items",
    "contains", "properties", "patternProperties", "additionalProperties", "propertyNames",
    "unevaluatedItems", "unevaluatedProperties",
    "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
    "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains",
    "maxProperties", "minProperties", "required", "dependentRequired",
    "title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples", "format",
    "contentEncoding", "contentMediaType", "contentSchema",
}  # fmt: skip
EXTRA_ANNOTATIONS = {"discriminator"}
JSON_TYPES = {"null", "boolean", "object", "array", "number", "string", "integer"}
SCHEMA_MAPS = ("properties", "$defs", "patternProperties", "dependentSchemas")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SCHEMA_VALUES = ("not", "if", "then", "else", "items", "contains", "additionalProperties", "propertyNames")
NON_NEGATIVE = ("maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties")
NUMERIC = ("maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "multipleOf")


def subschemas(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object in a document, with a JSON-pointer-ish location (not data values)."""
    if not isinstance(node, dict):
        return
    yield where, node
    for key in SCHEMA_MAPS:
        for name, child in node.get(key, {}).items():
            yield from subschemas(child, f"{where}/{key}/{name}")
    for key in SCHEMA_LISTS:
        for i, child in enumerate(node.get(key, [])):
            yield from subschemas(child, f"{where}/{key}/{i}")
    for key in SCHEMA_VALUES:
        if isinstance(node.get(key), dict):
            yield from subschemas(node[key], f"{where}/{key}")


def structural_problems(document: dict[str, Any]) -> list[str]:
    problems = []
    for where, node in subschemas(document):
        unknown = set(node) - KEYWORDS_2020_12 - EXTRA_ANNOTATIONS
        if unknown:
            problems.append(f"{where}: unknown keywords {sorted(unknown)}")
        types = node.get("type")
        if types is not None:
            listed = [types] if isinstance(types, str) else types
            if not listed or not set(listed) <= JSON_TYPES or len(set(listed)) != len(listed):
                problems.append(f"{where}: bad type {types!r}")
        if "enum" in node and (not isinstance(node["enum"], list) or not node["enum"]):
            problems.append(f"{where}: enum must be a non-empty array")
        if "required" in node:
            required = node["required"]
            if not all(isinstance(r, str) for r in required) or len(set(required)) != len(required):
                problems.append(f"{where}: required must be unique strings")
            elif not set(required) <= set(node.get("properties", {})):
                problems.append(f"{where}: required names undeclared properties")
        for key in SCHEMA_LISTS:
            if key in node and (not isinstance(node[key], list) or not node[key]):
                problems.append(f"{where}: {key} must be a non-empty array")
        if "additionalProperties" in node and not isinstance(node["additionalProperties"], bool | dict):
            problems.append(f"{where}: additionalProperties must be a boolean or a schema")
        for key in NON_NEGATIVE:
            if key in node and not (isinstance(node[key], int) and node[key] >= 0):
                problems.append(f"{where}: {key} must be a non-negative integer")
        for key in NUMERIC:
            if key in node and (isinstance(node[key], bool) or not isinstance(node[key], int | float)):
                problems.append(f"{where}: {key} must be a number")
        if "minimum" in node and "maximum" in node and node["minimum"] > node["maximum"]:
            problems.append(f"{where}: minimum > maximum")
        if "pattern" in node:
            try:
                re.compile(node["pattern"])
            except re.error as exc:
                problems.append(f"{where}: pattern does not compile: {exc}")
        if "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/$defs/") or ref.removeprefix("#/$defs/") not in document.get("$defs", {}):
                problems.append(f"{where}: $ref {ref!r} does not resolve inside the document")
        for key in ("title", "description", "format"):
            if key in node and not isinstance(node[key], str):
                problems.append(f"{where}: {key} must be a string")
    return problems


@pytest.mark.parametrize("topic", sorted(CONTRACTS))
def test_schema_is_well_formed_draft_2020_12(topic: str) -> None:
    document = load(topic)
    assert document["$schema"] == DRAFT_2020_12
    assert document["$id"] == f"https://dataplat.dev/schemas/{topic}.json"
    assert "#" not in document["$id"]
    assert document["title"] == contract_for(topic).title
    assert ("type" in document) != ("oneOf" in document), "the root is one object or a oneOf of objects"
    assert structural_problems(document) == []


@pytest.mark.parametrize("topic", sorted(CONTRACTS))
def test_every_object_is_closed(topic: str) -> None:
    """Mirrors extra='forbid': a producer reading the schema learns unknown fields are refused."""
    document = load(topic)
    models = [(where, node) for where, node in subschemas(document) if "properties" in node]
    assert models
    for where, node in models:
        assert node.get("type") == "object", where
        assert node.get("additionalProperties") is False, f"{where} does not forbid unknown fields"


@pytest.mark.parametrize("topic", [topics.CDC_CHANGES, topics.EXTERNAL_DATA])
def test_union_topics_list_every_model(topic: str) -> None:
    document = load(topic)
    refs = {branch["$ref"].removeprefix("#/$defs/") for branch in document["oneOf"]}
    assert refs == {model.__name__ for model in contract_for(topic).models}


def test_external_schema_names_its_discriminator() -> None:
    discriminator = load(topics.EXTERNAL_DATA)["discriminator"]
    assert discriminator["propertyName"] == "kind"
    assert set(discriminator["mapping"]) == {"weather", "location", "social_trend", "market"}


# -- samples against the published schema -------------------------------------------------------


def _validate(instance: Any, node: dict[str, Any], root: dict[str, Any], path: str = "") -> list[str]:
    """A validator for the keywords the generated schemas use (test_schema_keywords_are_covered)."""
    if "$ref" in node:
        return _validate(instance, root["$defs"][node["$ref"].removeprefix("#/$defs/")], root, path)
    errors: list[str] = []
    if "anyOf" in node and all(_validate(instance, b, root, path) for b in node["anyOf"]):
        errors.append(f"{path}: matches no anyOf branch")
    if "oneOf" in node:
        matches = sum(not _validate(instance, b, root, path) for b in node["oneOf"])
        if matches != 1:
            errors.append(f"{path}: matches {matches} oneOf branches")
    kind = node.get("type")
    checks = {
        "object": isinstance(instance, dict),
        "array": isinstance(instance, list),
        "string": isinstance(instance, str),
        "integer": isinstance(instance, int) and not isinstance(instance, bool),
        "number": isinstance(instance, int | float) and not isinstance(instance, bool),
        "boolean": isinstance(instance, bool),
        "null": instance is None,
    }
    if kind is not None and not checks[kind]:
        return [*errors, f"{path}: not of type {kind}"]
    if "enum" in node and instance not in node["enum"]:
        errors.append(f"{path}: not one of {node['enum']}")
    if "const" in node and instance != node["const"]:
        errors.append(f"{path}: is not {node['const']!r}")
    if isinstance(instance, str):
        if len(instance) < node.get("minLength", 0) or len(instance) > node.get("maxLength", len(instance)):
            errors.append(f"{path}: length out of bounds")
        if "pattern" in node and not re.search(node["pattern"], instance):
            errors.append(f"{path}: does not match {node['pattern']}")
    if checks["number"]:
        if "minimum" in node and instance < node["minimum"]:
            errors.append(f"{path}: below minimum")
        if "maximum" in node and instance > node["maximum"]:
            errors.append(f"{path}: above maximum")
        if "exclusiveMinimum" in node and instance <= node["exclusiveMinimum"]:
            errors.append(f"{path}: not above exclusiveMinimum")
        if "exclusiveMaximum" in node and instance >= node["exclusiveMaximum"]:
            errors.append(f"{path}: not below exclusiveMaximum")
    if isinstance(instance, dict) and "properties" in node:
        for name in node.get("required", []):
            if name not in instance:
                errors.append(f"{path}.{name}: required")
        for name, value in instance.items():
            if name in node["properties"]:
                errors.extend(_validate(value, node["properties"][name], root, f"{path}.{name}"))
            elif node.get("additionalProperties") is False:
                errors.append(f"{path}.{name}: not declared")
    return errors


VALIDATOR_KEYWORDS = {
    "$ref", "anyOf", "oneOf", "type", "enum", "const", "minLength", "maxLength", "pattern", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "properties", "required", "additionalProperties",
    # annotations: nothing to validate
    "$schema", "$id", "$defs", "title", "description", "default", "format", "discriminator",
}  # fmt: skip


@pytest.mark.parametrize("topic", sorted(CONTRACTS))
def test_schema_keywords_are_covered_by_the_sample_validator(topic: str) -> None:
    used = {key for _, node in subschemas(load(topic)) for key in node}
    assert used <= VALIDATOR_KEYWORDS, f"teach _validate {sorted(used - VALIDATOR_KEYWORDS)}"


SAMPLES = [
    pytest.param(topics.APP_EVENTS, f.app_event(3), id="app-mobile"),
    pytest.param(topics.APP_EVENTS, f.web_purchase(4), id="app-web-purchase"),
    pytest.param(topics.CLICKSTREAM, f.click_event(5), id="click"),
    pytest.param(topics.CDC_CHANGES, f.cdc_change("users", "c", 10, after=f.user_row(1, T0)), id="cdc-user"),
    pytest.param(
        topics.CDC_CHANGES,
        f.cdc_change("orders", "u", 11, before=f.order_row(2, 1, T0), after=f.order_row(2, 1, T0, "paid")),
        id="cdc-order-update",
    ),
    pytest.param(topics.CDC_CHANGES, f.cdc_change("orders", "d", 12, before=f.order_row(2, 1, T0)), id="cdc-delete"),
    pytest.param(topics.EXTERNAL_DATA, f.weather(1), id="weather"),
    pytest.param(topics.EXTERNAL_DATA, f.market(2), id="market"),
]


def _declared_branch(document: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    if "oneOf" not in document:
        return document
    matching = [b for b in document["oneOf"] if not _validate(record, b, document)]
    assert len(matching) == 1
    return document["$defs"][matching[0]["$ref"].removeprefix("#/$defs/")]


@pytest.mark.parametrize(("topic", "record"), SAMPLES)
def test_sample_event_keys_are_declared_in_the_schema(topic: str, record: dict[str, Any]) -> None:
    contract_for(topic).validate_json(f.to_json(record))  # the sample is valid for the contract
    document = load(topic)
    model = _declared_branch(document, record)
    assert set(record) <= set(model["properties"]), f"undeclared keys: {set(record) - set(model['properties'])}"
    assert set(model["required"]) <= set(record)


@pytest.mark.parametrize(("topic", "record"), SAMPLES)
def test_sample_event_validates_against_the_published_schema(topic: str, record: dict[str, Any]) -> None:
    document = load(topic)
    assert _validate(record, document, document) == []
    assert _validate({**record, "unknown_field": 1}, document, document) != []


def test_the_sample_validator_refuses_what_the_contract_refuses() -> None:
    """Sanity check of the helper itself, on rules the schema can express."""
    document = load(topics.APP_EVENTS)
    for changed in ({"user_id": ""}, {"event_type": "nope"}, {"geo": {**f.app_event()["geo"], "lat": 91.0}}):
        assert _validate({**f.app_event(), **changed}, document, document) != []


# -- schema registry: the pure request builder -----------------------------------------------------


def _body(request: schemas.RegistrationRequest) -> dict[str, Any]:
    return json.loads(request.body)


def test_subject_follows_the_topic_name_strategy() -> None:
    assert schemas.registry_subject(topics.APP_EVENTS) == "topic_app_events-value"


@pytest.mark.parametrize("topic", sorted(CONTRACTS))
def test_registration_request(topic: str) -> None:
    request = schemas.registration_request("http://schema-registry:8081", topic)
    assert request.method == "POST"
    assert request.url == f"http://schema-registry:8081/subjects/{topic}-value/versions"
    assert request.headers["Content-Type"] == "application/vnd.schemaregistry.v1+json"
    assert "Authorization" not in request.headers
    body = _body(request)
    assert body == {"schemaType": "JSON", "schema": schemas.render_schema(topic)}
    assert json.loads(body["schema"]) == contract_for(topic).json_schema()
    assert request == schemas.registration_request("http://schema-registry:8081", topic)  # pure


def test_registration_request_keeps_a_path_prefix_and_drops_a_trailing_slash() -> None:
    request = schemas.registration_request("https://sr.example.com/registry/", topics.CLICKSTREAM)
    assert request.url == "https://sr.example.com/registry/subjects/topic_clickstream-value/versions"


def test_registration_request_moves_credentials_into_a_header() -> None:
    request = schemas.registration_request("https://svc:p%40ss@sr.example.com:8443", topics.CDC_CHANGES)
    assert request.url == "https://sr.example.com:8443/subjects/topic_cdc_changes-value/versions"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"svc:p@ss").decode()
    assert "p%40ss" not in request.url and "svc" not in request.url


def test_registration_request_with_an_explicit_schema_text() -> None:
    request = schemas.registration_request("http://localhost:8081", topics.APP_EVENTS, '{"type": "object"}')
    assert _body(request)["schema"] == '{"type": "object"}'


@pytest.mark.parametrize("url", ["localhost:8081", "ftp://sr.example.com", "http://", ""])
def test_registration_request_refuses_non_http_urls(url: str) -> None:
    with pytest.raises(schemas.SchemaRegistryError, match="SCHEMA_REGISTRY_URL"):
        schemas.registration_request(url, topics.APP_EVENTS)


def test_urllib_request_carries_the_built_request() -> None:
    built = schemas.registration_request("http://localhost:8081", topics.APP_EVENTS)
    request = built.to_urllib()
    assert request.full_url == built.url and request.get_method() == "POST" and request.data == built.body
    assert request.get_header("Content-type") == built.headers["Content-Type"]


# -- sending, with a fake urlopen (no registry server exists here; this is not an integration test)


class _Response(io.BytesIO):
    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _http_error(code: int, body: bytes) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("http://x", code, "error", {}, io.BytesIO(body))  # type: ignore[arg-type]


def test_send_registration_returns_the_schema_id() -> None:
    seen = []

    def opener(request: Any, timeout: float) -> _Response:
        seen.append((request.full_url, timeout))
        return _Response(b'{"id": 42}')

    built = schemas.registration_request("http://localhost:8081", topics.APP_EVENTS)
    result = schemas.send_registration(built, timeout_s=3.0, opener=opener)
    assert result == schemas.Registration(topics.APP_EVENTS, "topic_app_events-value", 42)
    assert seen == [(built.url, 3.0)]


@pytest.mark.parametrize(
    ("failure", "error", "text"),
    [
        (
            _http_error(409, b'{"error_code": 409, "message": "Schema being registered is incompatible"}'),
            schemas.SchemaRegistryError,
            "HTTP 409: Schema being registered is incompatible",
        ),
        (_http_error(422, b"not json"), schemas.SchemaRegistryError, "HTTP 422: not json"),
        (_http_error(503, b""), schemas.SchemaRegistryUnavailableError, "HTTP 503"),
        (
            urllib.error.URLError(ConnectionRefusedError(111, "refused")),
            schemas.SchemaRegistryUnavailableError,
            "reach",
        ),
        (TimeoutError("timed out"), schemas.SchemaRegistryUnavailableError, "timed out"),
    ],
)
def test_send_registration_errors(failure: Exception, error: type[Exception], text: str) -> None:
    def opener(request: Any, timeout: float) -> _Response:
        raise failure

    built = schemas.registration_request("http://localhost:8081", topics.APP_EVENTS)
    with pytest.raises(error, match=re.escape(text)):
        schemas.send_registration(built, opener=opener)


def test_an_unexpected_answer_is_an_error() -> None:
    built = schemas.registration_request("http://localhost:8081", topics.APP_EVENTS)
    with pytest.raises(schemas.SchemaRegistryError, match="unexpected registry answer"):
        schemas.send_registration(built, opener=lambda request, timeout: _Response(b"<html>"))


def test_register_schemas_retries_an_unavailable_registry_then_registers_every_topic() -> None:
    calls: list[str] = []

    def opener(request: Any, timeout: float) -> _Response:
        calls.append(request.full_url)
        if len(calls) <= 2:
            raise urllib.error.URLError("starting")
        return _Response(json.dumps({"id": len(calls)}).encode())

    done = schemas.register_schemas("http://sr:8081", wait_s=5.0, retry_interval_s=0.0, opener=opener)
    assert [r.subject for r in done] == [f"{t}-value" for t in sorted(CONTRACTS)]
    assert len(calls) == len(CONTRACTS) + 2


def test_register_schemas_does_not_retry_a_refusal() -> None:
    calls: list[str] = []

    def opener(request: Any, timeout: float) -> _Response:
        calls.append(request.full_url)
        raise _http_error(422, b'{"message": "Invalid schema"}')

    with pytest.raises(schemas.SchemaRegistryError, match="Invalid schema"):
        schemas.register_schemas("http://sr:8081", wait_s=30.0, retry_interval_s=0.0, opener=opener)
    assert len(calls) == 1


# -- the CLI ---------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_export_then_check(tmp_path: Path) -> None:
    result = runner.invoke(schemas_app, ["export", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{t}.json" for t in CONTRACTS)
    result = runner.invoke(schemas_app, ["check", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_cli_check_fails_with_a_diff_when_stale(tmp_path: Path) -> None:
    schemas.export_schemas(tmp_path)
    target = schemas.schema_path(topics.CLICKSTREAM, tmp_path)
    target.write_text(target.read_text().replace('"minimum": 120', '"minimum": 100', 1))
    result = runner.invoke(schemas_app, ["check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "topic_clickstream.json is stale" in result.output
    assert re.search(r'^\+\s+"minimum": 120', result.output, re.MULTILINE)
    assert "dataplat schemas export" in result.output


def test_cli_check_of_the_repository_passes() -> None:
    result = runner.invoke(schemas_app, ["check"])
    assert result.exit_code == 0, result.output


def test_cli_check_rejects_unknown_topics() -> None:
    result = runner.invoke(schemas_app, ["check", "--topics", "topic_nope"])
    assert result.exit_code == 2
    assert "topic_nope" in result.output


def test_cli_register_needs_a_registry_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCHEMA_REGISTRY_URL", raising=False)
    result = runner.invoke(schemas_app, ["register"])
    assert result.exit_code == 1
    assert "SCHEMA_REGISTRY_URL" in result.output


def test_cli_register_reports_an_unreachable_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    result = runner.invoke(schemas_app, ["register", "--wait", "0", "--timeout", "2"])
    assert result.exit_code == 1
    assert "cannot reach the schema registry" in result.output
