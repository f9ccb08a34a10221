"""A local Direct Line 3.0 endpoint (polling) so the portal's Web Chat needs no Azure account.

Web Chat is created with `createDirectLine({token, domain: origin + '/directline',
webSocket: false})`. The token is issued by the portal for the signed-in patient; the
account id in it, never the browser's `from.id`, says who is talking.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from botbuilder.schema import Activity, ConversationReference, ResourceResponse

from bot.activity_check import parse_activity
from bot.adapter import TurnSource
from bot.directline.store import DirectLineStore
from bot.http_json import BadRequestError, json_error, read_json_object
from bot.people import LOCAL_CHANNEL, LOCAL_SERVICE_URL
from bot.services import SERVICES, Services
from bot.signing import InvalidTokenError, TokenClaims
from bot.web_sessions import require_live_portal_session

DIRECTLINE_AUDIENCE = "carebot-directline"
TOKEN_TTL_SECONDS = 1800
# Watermarks are activity numbers (a 32-bit column): anything longer is not one of ours.
MAX_WATERMARK = 2**31 - 1
BOT_ACCOUNT = {"id": "carebot", "name": "carebot", "role": "bot"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DirectLineSink:
    """Stores the user's activity and the bot's replies in the conversation, where Web Chat
    polls them (INBOUND: the user's checked activity document, None for a conversationUpdate
    the server made up)."""

    source = TurnSource.LOCAL_DIRECTLINE

    def __init__(
        self,
        store: DirectLineStore,
        conversation_id: str,
        inbound: dict[str, Any] | None = None,
    ) -> None:
        self._store = store
        self._conversation_id = conversation_id
        self._inbound = inbound

    async def record_inbound(self) -> str | None:
        """Append the user's activity (under the conversation's turn lock, so in order)."""
        if self._inbound is None:
            return None
        return await self._store.append(self._conversation_id, self._inbound)

    async def send(self, activity: Activity) -> ResourceResponse:
        """Append the bot's activity to the conversation."""
        document: dict[str, Any] = activity.serialize()
        document.update(
            {
                "from": BOT_ACCOUNT,
                "conversation": {"id": self._conversation_id},
                "channelId": LOCAL_CHANNEL,
                "timestamp": _now(),
            }
        )
        document.pop("serviceUrl", None)
        document.pop("recipient", None)
        return ResourceResponse(id=await self._store.append(self._conversation_id, document))

    async def update(self, activity: Activity) -> ResourceResponse:
        """Direct Line 3.0 has no update: the new version is appended."""
        return await self.send(activity)

    async def delete(self, reference: ConversationReference) -> None:
        """Direct Line 3.0 has no delete; nothing acknowledged is removed."""


def _claims(request: web.Request) -> TokenClaims:
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None
    try:
        return request.app[SERVICES].signer.verify(token, DIRECTLINE_AUDIENCE)
    except InvalidTokenError as error:
        raise BadRequestError(403, "TokenInvalid", f"invalid Direct Line token: {error}") from None


async def _owned_conversation(request: web.Request) -> tuple[TokenClaims, str]:
    claims = _claims(request)
    conversation_id = request.match_info["conversation_id"]
    bound = claims.extra.get("conv")
    if bound is not None and bound != conversation_id:
        raise BadRequestError(403, "BadArgument", "the token is for another conversation")
    owner = await request.app[SERVICES].directline.owner(conversation_id)
    if owner is None:
        raise BadRequestError(404, "BadArgument", "no such conversation")
    if owner != claims.subject:
        raise BadRequestError(403, "BadArgument", "the token is for another user")
    return claims, conversation_id


def _inbound(
    body: dict[str, Any], conversation_id: str, claims: TokenClaims, locale: str | None
) -> dict[str, Any]:
    """The user's activity as the channel vouches for it: identity and routing set here."""
    document = dict(body)
    document.update(
        {
            "from": {"id": claims.subject, "role": "user"},
            "recipient": BOT_ACCOUNT,
            "conversation": {"id": conversation_id},
            "channelId": LOCAL_CHANNEL,
            "serviceUrl": LOCAL_SERVICE_URL,
            "timestamp": _now(),
        }
    )
    if not document.get("locale") and locale:
        document["locale"] = locale
    return document


async def _run_turn(services: Services, document: dict[str, Any], *, record: bool) -> str | None:
    """Check DOCUMENT in full (a 400 before anything is stored), then run its turn."""
    activity = parse_activity(document)
    result = await services.adapter.process(
        activity,
        services.bot.on_turn,
        source=TurnSource.LOCAL_DIRECTLINE,
        inbound=document if record else None,
    )
    return result.inbound_id


async def _check_conversation_quota(services: Services, account_id: str) -> None:
    limit = services.settings.directline_conversations_per_hour
    since = datetime.now(UTC) - timedelta(hours=1)
    if await services.directline.conversations_since(account_id, since) >= limit:
        raise BadRequestError(
            429,
            "TooManyRequests",
            f"at most {limit} conversations per hour: continue in an open one, or try again later",
        )


async def start_conversation(request: web.Request) -> web.Response:
    """POST /directline/conversations: open (or resume) the token's conversation."""
    services = request.app[SERVICES]
    claims = _claims(request)
    await require_live_portal_session(
        request, claims
    )  # only while the sign-in that granted it lives
    locale = claims.extra.get("locale")
    conversation_id = claims.extra.get("conv")
    status = 200
    if conversation_id is None or await services.directline.owner(conversation_id) is None:
        await _check_conversation_quota(services, claims.subject)
        conversation_id = await services.directline.create_conversation(claims.subject, locale)
        status = 201
        update = {
            "type": "conversationUpdate",
            "membersAdded": [{"id": claims.subject, "role": "user"}, BOT_ACCOUNT],
        }
        await _run_turn(
            services,
            _inbound(update, conversation_id, claims, locale),
            record=False,
        )
    token = services.signer.issue(
        claims.subject,
        DIRECTLINE_AUDIENCE,
        TOKEN_TTL_SECONDS,
        conv=conversation_id,
        sid=claims.extra.get("sid", ""),  # the portal session that granted it
        **({"locale": locale} if locale else {}),
    )
    return web.json_response(
        {"conversationId": conversation_id, "token": token, "expires_in": TOKEN_TTL_SECONDS},
        status=status,
    )


async def refresh_token(request: web.Request) -> web.Response:
    """POST /directline/tokens/refresh: the same grant, valid for another half hour.

    The one place a grant is extended: a check that the portal session still lives goes
    right after `_claims`."""
    services = request.app[SERVICES]
    claims = _claims(request)
    await require_live_portal_session(
        request, claims
    )  # only while the sign-in that granted it lives
    token = services.signer.issue(
        claims.subject, DIRECTLINE_AUDIENCE, TOKEN_TTL_SECONDS, **dict(claims.extra)
    )
    return web.json_response(
        {
            "conversationId": claims.extra.get("conv"),
            "token": token,
            "expires_in": TOKEN_TTL_SECONDS,
        }
    )


async def post_activity(request: web.Request) -> web.Response:
    """POST .../activities: store the user's activity, run the bot turn, acknowledge."""
    services = request.app[SERVICES]
    claims, conversation_id = await _owned_conversation(request)
    body = await read_json_object(request)
    if not isinstance(body.get("type"), str) or not body["type"]:
        raise BadRequestError(400, "BadArgument", "activity.type is required")
    if body["type"] == "message" and not isinstance(body.get("text", ""), str):
        raise BadRequestError(400, "BadArgument", "activity.text must be a string")
    document = _inbound(body, conversation_id, claims, claims.extra.get("locale"))
    activity_id = await _run_turn(services, document, record=True)
    return web.json_response({"id": activity_id})


async def get_activities(request: web.Request) -> web.Response:
    """GET .../activities?watermark=N: the activities after N."""
    _, conversation_id = await _owned_conversation(request)
    raw = request.query.get("watermark") or "0"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) <= MAX_WATERMARK):
        return json_error(
            400, "BadArgument", f"watermark must be an integer from 0 to {MAX_WATERMARK}"
        )
    activities, watermark = await request.app[SERVICES].directline.activities_after(
        conversation_id, int(raw)
    )
    return web.json_response({"activities": activities, "watermark": str(watermark)})


async def upload(request: web.Request) -> web.Response:
    """Attachments are not accepted: health documents do not travel through chat."""
    return json_error(415, "BadArgument", "file upload is not supported")


def add_routes(app: web.Application) -> None:
    """Mount the Direct Line 3.0 routes under /directline (and /v3/directline)."""
    for prefix in ("/directline", "/v3/directline"):
        app.router.add_post(f"{prefix}/conversations", start_conversation)
        app.router.add_post(f"{prefix}/tokens/refresh", refresh_token)
        app.router.add_post(f"{prefix}/conversations/{{conversation_id}}/activities", post_activity)
        app.router.add_get(f"{prefix}/conversations/{{conversation_id}}/activities", get_activities)
        app.router.add_post(f"{prefix}/conversations/{{conversation_id}}/upload", upload)
