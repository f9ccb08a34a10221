"""`POST /api/messages`: activities from Azure Bot Service channels (Teams, Web Chat)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from botbuilder.schema import Activity

from bot.adapter import ConnectorSink
from bot.channel_auth import ChannelAuthError
from bot.http_json import BadRequestError, json_error, read_json_object
from bot.services import SERVICES

log = logging.getLogger(__name__)


def parse_activity(body: dict[str, Any]) -> Activity:
    """A botbuilder Activity from a JSON body; BadRequestError when required fields lack."""
    if not isinstance(body.get("type"), str) or not body["type"]:
        raise BadRequestError(400, "BadArgument", "activity.type is required")
    conversation = body.get("conversation")
    if not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str):
        raise BadRequestError(400, "BadArgument", "activity.conversation.id is required")
    if not isinstance(body.get("serviceUrl"), str) or not body["serviceUrl"].startswith("http"):
        raise BadRequestError(400, "BadArgument", "activity.serviceUrl must be an http(s) URL")
    if not isinstance(body.get("from"), dict):
        raise BadRequestError(400, "BadArgument", "activity.from is required")
    try:
        activity: Activity = Activity().deserialize(body)
    except Exception as error:  # msrest raises its own DeserializationError family
        raise BadRequestError(
            400, "BadArgument", f"not an Activity: {type(error).__name__}"
        ) from None
    return activity


async def post_messages(request: web.Request) -> web.Response:
    """Run one turn for the posted activity; replies go to its serviceUrl."""
    services = request.app[SERVICES]
    activity = parse_activity(await read_json_object(request))
    if services.channel_auth is not None:
        try:
            await services.channel_auth.authenticate(
                request.headers.get("Authorization"), activity.channel_id, activity.service_url
            )
        except ChannelAuthError as error:
            return json_error(401, "Unauthorized", str(error))
    invoke = await services.adapter.process(
        activity, ConnectorSink(services.connector), services.bot.on_turn
    )
    if invoke is not None:
        return web.json_response(
            getattr(invoke, "body", None), status=getattr(invoke, "status", 200)
        )
    return web.Response(status=200)


def add_routes(app: web.Application) -> None:
    """Mount the Bot Framework messaging endpoint."""
    app.router.add_post("/api/messages", post_messages)
