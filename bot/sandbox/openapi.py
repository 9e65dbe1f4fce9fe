"""Read Twilio's OpenAPI description so the fake checks requests against the real contract.

The spec files live outside the repo (../shared/specs); CARETBOT_SPECS_DIR overrides the
location. Without them the fakes keep Twilio's behaviour but cannot check each request
against the contract, and the conformance tests are skipped (tests/conftest.py says so
in pytest's header; SPECS_SOURCE says where the files come from). OpenAPI 3.0 schemas say `nullable: true` where JSON Schema wants a `null`
type, so `to_json_schema` converts them for jsonschema.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

TWILIO_SPEC_FILE = "twilio_api_v2010.json"
SLACK_EVENTS_SPEC_FILE = "slack_events_api_async_v1.json"

MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
MESSAGE_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json"
MESSAGE_SCHEMA = "api.v2010.account.message"

SPECS_SOURCE = (
    f"{TWILIO_SPEC_FILE} from https://github.com/twilio/twilio-oai (spec/json) and "
    f"{SLACK_EVENTS_SPEC_FILE} from https://github.com/slackapi/slack-api-specs (events-api)"
)


def specs_dir() -> Path:
    """CARETBOT_SPECS_DIR, else /work/shared/specs found relative to this file."""
    override = os.environ.get("CARETBOT_SPECS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3] / "shared" / "specs"


def has_spec(name: str) -> bool:
    """Whether the spec file `name` is in specs_dir()."""
    return (specs_dir() / name).is_file()


def missing_specs() -> list[str]:
    """The spec files this run does not have."""
    return [name for name in (TWILIO_SPEC_FILE, SLACK_EVENTS_SPEC_FILE) if not has_spec(name)]


@cache
def load_spec(name: str) -> dict[str, Any]:
    path = specs_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"API description {path} not found; set CARETBOT_SPECS_DIR")
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def twilio_spec_available() -> bool:
    """True when Twilio's API description can be read (the stand-in then checks requests)."""
    return (specs_dir() / TWILIO_SPEC_FILE).is_file()


def twilio_spec() -> dict[str, Any]:
    return load_spec(TWILIO_SPEC_FILE)


def twilio_operation(path: str, method: str) -> dict[str, Any]:
    return twilio_spec()["paths"][path][method.lower()]


def form_schema(path: str, method: str) -> dict[str, Any]:
    """The application/x-www-form-urlencoded request schema of an operation."""
    body = twilio_operation(path, method)["requestBody"]["content"]
    return body["application/x-www-form-urlencoded"]["schema"]


def query_parameters(path: str, method: str) -> dict[str, dict[str, Any]]:
    """Query parameters of an operation by name (e.g. 'DateSent<')."""
    params = twilio_operation(path, method).get("parameters", [])
    return {p["name"]: p for p in params if p.get("in") == "query"}


def resolve(schema: dict[str, Any], spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """Follow one local `$ref` (#/components/schemas/...)."""
    spec = spec or twilio_spec()
    ref = schema.get("$ref")
    if not ref:
        return schema
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def to_json_schema(schema: dict[str, Any], spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """Inline refs and turn OpenAPI `nullable` into a JSON Schema null type."""
    spec = spec or twilio_spec()
    schema = resolve(schema, spec)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("nullable", "x-twilio", "description", "format"):
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(sub, spec) for name, sub in value.items()}
        elif key == "items":
            out[key] = to_json_schema(value, spec)
        else:
            out[key] = value
    if schema.get("nullable"):
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def message_json_schema(strict: bool = True) -> dict[str, Any]:
    """The spec's message resource as JSON Schema; `strict` forbids extra properties."""
    schema = to_json_schema(twilio_spec()["components"]["schemas"][MESSAGE_SCHEMA])
    if strict:
        schema["additionalProperties"] = False
        schema["required"] = sorted(schema["properties"])
    return schema


def message_properties() -> list[str]:
    """Property names of the message resource, in the spec's order."""
    return list(twilio_spec()["components"]["schemas"][MESSAGE_SCHEMA]["properties"])
