"""What an Activity may look like (Bot Connector v3, `ConnectorAPI.json`), checked in full.

Both channels (`/api/messages` and the local Direct Line) check every incoming activity
here before anything is stored or any dialog sees it, and the test Bot Connector checks
what the bot sends with the same table: one definition of an Activity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from botbuilder.schema import Activity

from bot.http_json import BadRequestError

# JSON types of the Activity properties in ConnectorAPI.json (`definitions.Activity`);
# tests/fakes/test_bot_connector.py checks this table against the swagger file
# (`../shared/corpora/botframework/protocol_swagger/ConnectorAPI.json`).
ACTIVITY_PROPERTY_TYPES: Final[Mapping[str, str]] = {
    "action": "string",
    "attachmentLayout": "string",
    "attachments": "array",
    "callerId": "string",
    "channelData": "object",
    "channelId": "string",
    "code": "string",
    "conversation": "object",
    "deliveryMode": "string",
    "entities": "array",
    "expiration": "string",
    "from": "object",
    "historyDisclosed": "boolean",
    "id": "string",
    "importance": "string",
    "inputHint": "string",
    "label": "string",
    "listenFor": "array",
    "localTimestamp": "string",
    "localTimezone": "string",
    "locale": "string",
    "membersAdded": "array",
    "membersRemoved": "array",
    "name": "string",
    "reactionsAdded": "array",
    "reactionsRemoved": "array",
    "recipient": "object",
    "relatesTo": "object",
    "replyToId": "string",
    "semanticAction": "object",
    "serviceUrl": "string",
    "speak": "string",
    "suggestedActions": "object",
    "summary": "string",
    "text": "string",
    "textFormat": "string",
    "textHighlights": "array",
    "timestamp": "string",
    "topicName": "string",
    "type": "string",
    "value": "any",
    "valueType": "string",
}

# `ActivityTypes` in ConnectorAPI.json.
ACTIVITY_TYPES: Final[frozenset[str]] = frozenset(
    {
        "message",
        "contactRelationUpdate",
        "conversationUpdate",
        "typing",
        "endOfConversation",
        "event",
        "invoke",
        "deleteUserData",
        "messageUpdate",
        "messageDelete",
        "installationUpdate",
        "messageReaction",
        "suggestion",
        "trace",
        "handoff",
    }
)

_JSON_TYPES: Final[Mapping[str, tuple[type, ...]]] = {
    "string": (str,),
    "array": (list,),
    "object": (dict,),
    "boolean": (bool,),
}
# Arrays whose items are objects (ChannelAccount, Entity, MessageReaction, TextHighlight).
_OBJECT_ITEMS: Final = ("membersAdded", "membersRemoved", "entities", "reactionsAdded",
                        "reactionsRemoved", "textHighlights", "attachments")  # fmt: skip
_ACCOUNTS: Final = ("from", "recipient", "conversation", "relatesTo")
MAX_ID_CHARS: Final = 1024


class ActivityError(ValueError):
    """A body that is not an Activity as ConnectorAPI.json defines it."""


def check_activity(body: object) -> dict[str, Any]:
    """Return BODY if it is an Activity object; raise `ActivityError` saying why not."""
    if not isinstance(body, dict):
        raise ActivityError("the body is not a JSON object")
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        raise ActivityError("'type' is required")
    if kind not in ACTIVITY_TYPES:
        raise ActivityError(f"unknown activity type {kind!r}")
    for name, value in body.items():
        expected = ACTIVITY_PROPERTY_TYPES.get(name)
        if expected is None or expected == "any" or value is None:
            continue
        if not isinstance(value, _JSON_TYPES[expected]):
            raise ActivityError(f"'{name}' must be a JSON {expected}")
    for name in _ACCOUNTS:
        account = body.get(name)
        if isinstance(account, dict) and not isinstance(account.get("id", ""), str):
            raise ActivityError(f"'{name}.id' must be a string")
    for name in _OBJECT_ITEMS:
        if not all(isinstance(item, dict) for item in body.get(name) or []):
            raise ActivityError(f"each item of '{name}' must be a JSON object")
    for name in ("membersAdded", "membersRemoved"):
        if not all(isinstance(m.get("id", ""), str) for m in body.get(name) or []):
            raise ActivityError(f"'{name}[].id' must be a string")
    for attachment in body.get("attachments") or []:
        if not isinstance(attachment.get("contentType"), str):
            raise ActivityError("each attachment needs a 'contentType' string")
    return body


def _account_id(body: Mapping[str, Any], name: str) -> str:
    account = body.get(name)
    identifier = account.get("id") if isinstance(account, dict) else None
    if not isinstance(identifier, str) or not identifier or len(identifier) > MAX_ID_CHARS:
        raise ActivityError(f"'{name}.id' is required (a string of at most {MAX_ID_CHARS})")
    if identifier in (".", ".."):
        raise ActivityError(f"'{name}.id' may not be '.' or '..'")
    return identifier


def parse_activity(body: Mapping[str, Any]) -> Activity:
    """The Activity of an incoming BODY, checked in full; BadRequestError (400) if it is not one.

    Beyond the types of the table: `from` and `conversation` carry ids, `serviceUrl` and
    `channelId` are strings, dates are ISO 8601 and the whole activity survives a serialize round trip (so
    nothing stored from it fails later).
    """
    try:
        check_activity(dict(body))
        _account_id(body, "conversation")
        _account_id(body, "from")
        if not isinstance(body.get("serviceUrl"), str):
            raise ActivityError("'serviceUrl' is required")
        channel = body.get("channelId")
        if not isinstance(channel, str) or not channel or len(channel) > MAX_ID_CHARS:
            raise ActivityError("'channelId' is required")
    except ActivityError as error:
        raise BadRequestError(400, "BadArgument", f"not an Activity: {error}") from None
    try:
        activity: Activity = Activity().deserialize(dict(body))
        activity.serialize()
    except Exception as error:  # msrest raises its own families, and OverflowError on dates
        raise BadRequestError(
            400, "BadArgument", f"not an Activity: {type(error).__name__}"
        ) from None
    return activity
