"""Async Bot Connector REST client (v3) for replies to Azure Bot Service channels.

The stock botbuilder connector (msrest) rebuilds a retry policy synchronously on every
turn and posts through blocking `requests`; this client posts with the service's shared
aiohttp session instead, so replies never block the event loop.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from botbuilder.schema import Activity, ConversationResourceResponse, ResourceResponse
from yarl import URL

from bot.service_url import activities_url, conversations_url


class ConnectorError(RuntimeError):
    """The Bot Connector refused an activity."""

    def __init__(self, status: int, body: str, retry_after: float | None = None) -> None:
        super().__init__(f"Bot Connector answered {status}")
        self.status = status
        self.retry_after = retry_after
        """Seconds the connector asked to wait (its Retry-After header), if it said."""
        self.body = body


class TokenProvider(Protocol):
    """Gives the bearer token for calls to the Bot Connector (None: no auth)."""

    async def token(self) -> str | None:
        """A valid access token, or None when the bot runs without an app id."""
        ...


class AnonymousTokens:
    """No app id configured: local development, the emulator, tests."""

    async def token(self) -> str | None:
        """No token."""
        return None


@dataclass
class _CachedToken:
    value: str
    expires_at: float


class ClientCredentialsTokens:
    """OAuth2 client credentials for the bot's Microsoft app id, cached until near expiry."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str = "https://api.botframework.com/.default",
    ) -> None:
        self._http = http
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": scope,
        }
        self._token_url = token_url
        self._cached: _CachedToken | None = None
        self._lock = asyncio.Lock()

    async def token(self) -> str | None:
        """The cached token, fetched again five minutes before it expires."""
        async with self._lock:
            now = time.monotonic()
            if self._cached is None or self._cached.expires_at - 300 < now:
                async with self._http.post(self._token_url, data=self._form) as response:
                    body: dict[str, Any] = await response.json(content_type=None)
                    if response.status != 200 or "access_token" not in body:
                        raise ConnectorError(response.status, str(body.get("error", "")))
                self._cached = _CachedToken(
                    str(body["access_token"]), now + float(body.get("expires_in", 3600))
                )
            return self._cached.value


@dataclass(frozen=True)
class NewConversation:
    """`ConversationParameters` of ConnectorAPI.json: who talks, in which tenant, what first."""

    bot_id: str
    member_id: str
    bot_name: str | None = None
    tenant_id: str | None = None
    is_group: bool = False
    activity: Activity | None = None

    def to_body(self) -> dict[str, Any]:
        """The JSON body; the tenant also in channelData, where Teams reads it."""
        bot: dict[str, str] = {"id": self.bot_id}
        if self.bot_name:
            bot["name"] = self.bot_name
        body: dict[str, Any] = {
            "isGroup": self.is_group,
            "bot": bot,
            "members": [{"id": self.member_id}],
        }
        if self.tenant_id:
            body["tenantId"] = self.tenant_id
            body["channelData"] = {"tenant": {"id": self.tenant_id}}
        if self.activity is not None:
            body["activity"] = self.activity.serialize()
        return body


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (RFC 9110: delay-seconds; an HTTP date is read as unknown)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class ConnectorClient:
    """Sends, updates and deletes activities at a conversation's serviceUrl."""

    def __init__(self, http: aiohttp.ClientSession, tokens: TokenProvider) -> None:
        self._http = http
        self._tokens = tokens

    async def _headers(self) -> dict[str, str]:
        token = await self._tokens.token()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def _call(self, method: str, url: URL, body: object | None) -> dict[str, Any]:
        async with self._http.request(
            method, url, json=body, headers=await self._headers()
        ) as response:
            text = await response.text()
            if response.status >= 400:
                raise ConnectorError(
                    response.status, text[:500], _retry_after(response.headers.get("Retry-After"))
                )
            if not text:
                return {}
            parsed = await response.json(content_type=None)
            return parsed if isinstance(parsed, dict) else {}

    async def send(self, activity: Activity) -> ResourceResponse:
        """Reply to `activity.reply_to_id` when set, else send to the conversation."""
        url = activities_url(activity.service_url, activity.conversation.id, activity.reply_to_id)
        body = await self._call("POST", url, activity.serialize())
        return ResourceResponse(id=body.get("id"))

    async def update(self, activity: Activity) -> ResourceResponse:
        """Replace a sent activity."""
        url = activities_url(activity.service_url, activity.conversation.id, activity.id)
        body = await self._call("PUT", url, activity.serialize())
        return ResourceResponse(id=body.get("id"))

    async def delete(self, service_url: str, conversation_id: str, activity_id: str) -> None:
        """Delete a sent activity."""
        await self._call("DELETE", activities_url(service_url, conversation_id, activity_id), None)

    async def create_conversation(
        self, service_url: str, parameters: NewConversation
    ) -> ConversationResourceResponse:
        """POST {serviceUrl}/v3/conversations: open a conversation (a 1:1 chat in Teams)."""
        body = await self._call("POST", conversations_url(service_url), parameters.to_body())
        conversation_id = body.get("id")
        if not isinstance(conversation_id, str) or not conversation_id:
            raise ConnectorError(502, "create conversation answered without an id")
        activity_id = body.get("activityId")
        answered_url = body.get("serviceUrl")
        return ConversationResourceResponse(
            id=conversation_id,
            activity_id=activity_id if isinstance(activity_id, str) else None,
            service_url=answered_url if isinstance(answered_url, str) else service_url,
        )
