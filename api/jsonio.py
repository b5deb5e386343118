"""Proto3 JSON files: the CLI reads and writes the same messages as the gRPC
API (``google.protobuf.json_format``), so a file that works with one works
with the other. A request file says its kind by its problem field (``pods``,
``vms``, ``reschedule``, ``mig``, ``models``, ``sizing`` or ``frequency``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from optsched.api.convert_problems import KINDS, Kind
from optsched.errors import DomainError


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _load(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DomainError(what, f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DomainError(what, "must be a JSON object")
    return data


def parse_into(data: dict[str, Any], message: Message, what: str) -> Message:
    try:
        return json_format.ParseDict(data, message)
    except json_format.ParseError as exc:
        raise DomainError(what, str(exc)) from None


def parse_request(text: str, what: str = "request") -> tuple[Kind, Message]:
    """The kind and the request message of a proto3 JSON request."""
    data = _load(text, what)
    found = [k for k in KINDS.values() if k.field in data or _camel(k.field) in data]
    if len(found) != 1:
        fields = ", ".join(k.field for k in KINDS.values())
        raise DomainError(what, f"must hold exactly one problem field of: {fields}")
    kind = found[0]
    return kind, parse_into(data, kind.request(), what)


def parse_response(kind: Kind, text: str, what: str = "solution") -> Message:
    return parse_into(_load(text, what), kind.response(), what)


def to_json(message: Message) -> str:
    return json_format.MessageToJson(message, indent=2) + "\n"


def read_request(path: Path) -> tuple[Kind, Message]:
    return parse_request(path.read_text(), str(path))


def write_message(message: Message, path: Path | None) -> None:
    text = to_json(message)
    if path is None:
        print(text, end="")
    else:
        path.write_text(text)
