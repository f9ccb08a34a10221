"""`POST /api/messages`: activities from Azure Bot Service channels (Teams, Web Chat).

Who may post and where replies may go is decided by the service's `ChannelGate` (closed,
emulator mode or channel JWTs; see bot/channel_auth.py). The activity is checked in full
and its serviceUrl must be a bare base URL before any turn runs.
"""

from __future__ import annotations

from aiohttp import web

from bot.activity_check import parse_activity
from bot.adapter import TurnSource
from bot.channel_auth import ChannelAuthError
from bot.http_json import BadRequestError, json_error, read_json_object
from bot.service_url import ServiceUrlError, parse_service_url
from bot.services import SERVICES
from bot.settings import Settings


def describe_endpoint(settings: Settings) -> str:
    """How /api/messages is opened, for the start-up banner."""
    if settings.microsoft_app_id:
        return "open to Azure Bot Service (channel JWTs for the app id)"
    if settings.emulator_mode:
        return "emulator mode: loopback clients and serviceUrls only"
    return "closed (set CAREBOT_MICROSOFT_APP_ID, or CAREBOT_EMULATOR_MODE=1 for the Emulator)"


async def post_messages(request: web.Request) -> web.Response:
    """Run one turn for the posted activity; replies go to its serviceUrl."""
    services = request.app[SERVICES]
    try:
        services.channel_auth.admit_client(request.remote)
        activity = parse_activity(await read_json_object(request))
        try:
            service_url = parse_service_url(activity.service_url)
        except ServiceUrlError as error:
            raise BadRequestError(400, "BadArgument", f"activity.serviceUrl: {error}") from None
        await services.channel_auth.admit(
            request.headers.get("Authorization"), activity.channel_id or "", service_url
        )
    except ChannelAuthError as error:
        code = "Unauthorized" if error.status == 401 else "Forbidden"
        return json_error(error.status, code, str(error))
    result = await services.adapter.process(
        activity, services.bot.on_turn, source=TurnSource.BOT_CONNECTOR
    )
    invoke = result.invoke_response
    if invoke is not None:
        return web.json_response(
            getattr(invoke, "body", None), status=getattr(invoke, "status", 200)
        )
    return web.Response(status=200)


def add_routes(app: web.Application) -> None:
    """Mount the Bot Framework messaging endpoint."""
    app.router.add_post("/api/messages", post_messages)
