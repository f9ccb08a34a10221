"""Turning what a sender posts into stored messages: one message, an array of messages, or
IoT Hub / Event Hubs envelopes (`Body`, `Properties`, `SystemProperties`). A bare device
payload is put in an envelope's `Body`, as Event Hubs delivers it to MedTech's templates."""

from __future__ import annotations

import json
from typing import Any

MAX_MESSAGES_PER_REQUEST = 5000


class BadMessages(ValueError):
    """A request whose content cannot be taken (nothing of it is stored)."""


def envelope(message: Any) -> dict[str, Any]:
    """MESSAGE as an envelope (an envelope stays as it is)."""
    if not isinstance(message, dict):
        raise BadMessages("each message must be a JSON object")
    if "Body" in message:
        return message
    return {"Body": message, "Properties": {}, "SystemProperties": {}}


def split_messages(data: Any) -> list[str]:
    """The messages of a request body (parsed JSON), each as compact JSON text."""
    items = data if isinstance(data, list) else [data]
    if not items:
        raise BadMessages("no messages")
    if len(items) > MAX_MESSAGES_PER_REQUEST:
        raise BadMessages(f"at most {MAX_MESSAGES_PER_REQUEST} messages per request")
    return [json.dumps(envelope(item), separators=(",", ":")) for item in items]


def parse_body(raw: bytes) -> list[str]:
    """The messages of a raw request or MQTT payload; BadMessages if it is not JSON."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadMessages(f"body is not JSON: {error}") from error
    except RecursionError as error:  # as bot/http_json.py: nesting no device sends
        raise BadMessages("body is nested too deeply") from error
    try:
        return split_messages(data)
    except RecursionError as error:  # parsed just under the limit, re-serialised over it
        raise BadMessages("body is nested too deeply") from error
