"""Who may post to `/api/messages`, and where the replies may go (one gate, chosen at start).

- no app id: closed, 401 naming the two settings that open it;
- `CAREBOT_EMULATOR_MODE=1` (no app id): loopback clients only, replying to loopback
  serviceUrls only, so the endpoint cannot be used to make the service call elsewhere;
- an app id: the JWT Azure Bot Service puts on every request. Keys come from the Bot
  Framework OpenID metadata, fetched asynchronously and cached. Every failure (missing,
  expired, unsigned, wrong audience or issuer, no `exp`, serviceUrl other than the token's
  `serviceurl` claim, or without a claim one off the allow-list) is a 401, never a 500, and
  the bot's own access token is never sent to a serviceUrl nobody vouched for.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Sequence
from typing import Any, Protocol

import aiohttp
import jwt

from bot.service_url import BOT_FRAMEWORK_ORIGINS, ServiceUrl, origin_allowed

BOT_FRAMEWORK_OPENID = "https://login.botframework.com/v1/.well-known/openidconfiguration"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
KEY_CACHE_SECONDS = 24 * 3600
CLOCK_SKEW_SECONDS = 300


CLOSED_MESSAGE = (
    "/api/messages is closed: set CAREBOT_MICROSOFT_APP_ID (and its password) to take "
    "Azure Bot Service traffic, or CAREBOT_EMULATOR_MODE=1 for local development with the "
    "Bot Framework Emulator (loopback only)"
)


class ChannelAuthError(Exception):
    """The request is not from an authorised channel (STATUS: 401 or 403)."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class ChannelGate(Protocol):
    """Admits requests to /api/messages."""

    def admit_client(self, remote: str | None) -> None:
        """Raise ChannelAuthError if the peer address may not post at all (before the body)."""
        ...

    async def admit(
        self, authorization: str | None, channel_id: str, service_url: ServiceUrl
    ) -> None:
        """Raise ChannelAuthError unless the activity may be processed and answered."""
        ...


def is_loopback_address(remote: str | None) -> bool:
    """True for a peer address on this machine (127.0.0.0/8, ::1, IPv4-mapped loopback)."""
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class ClosedChannel:
    """No app id and no emulator mode: nobody may post."""

    def admit_client(self, remote: str | None) -> None:
        """Always refused, naming the settings that open the endpoint."""
        raise ChannelAuthError(CLOSED_MESSAGE)

    async def admit(
        self, authorization: str | None, channel_id: str, service_url: ServiceUrl
    ) -> None:
        """Always refused."""
        raise ChannelAuthError(CLOSED_MESSAGE)


class EmulatorChannel:
    """Local development: loopback clients, loopback serviceUrls, no tokens either way."""

    def admit_client(self, remote: str | None) -> None:
        """Only a client on this machine."""
        if not is_loopback_address(remote):
            raise ChannelAuthError("emulator mode takes requests from loopback only", 403)

    async def admit(
        self, authorization: str | None, channel_id: str, service_url: ServiceUrl
    ) -> None:
        """Only replies to http(s)://127.0.0.1, localhost or [::1]."""
        if not service_url.is_loopback:
            raise ChannelAuthError("emulator mode replies to loopback serviceUrls only", 403)


class ChannelAuthenticator:
    """Validates channel tokens for one bot app id."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        app_id: str,
        *,
        openid_url: str = BOT_FRAMEWORK_OPENID,
        issuer: str = BOT_FRAMEWORK_ISSUER,
        service_origins: Sequence[str] = BOT_FRAMEWORK_ORIGINS,
    ) -> None:
        self._http = http
        self._app_id = app_id
        self._openid_url = openid_url
        self._issuer = issuer
        self._service_origins = tuple(service_origins)
        self._keys: dict[str, tuple[Any, list[str]]] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def _refresh_keys(self) -> None:
        async with self._http.get(self._openid_url) as response:
            metadata = await response.json(content_type=None)
        async with self._http.get(metadata["jwks_uri"]) as response:
            jwks = await response.json(content_type=None)
        keys: dict[str, tuple[Any, list[str]]] = {}
        for entry in jwks.get("keys", []):
            key = jwt.PyJWK.from_dict(entry)
            keys[entry["kid"]] = (key.key, list(entry.get("endorsements", [])))
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _key(self, kid: str) -> tuple[Any, list[str]]:
        async with self._lock:
            stale = time.monotonic() - self._fetched_at > KEY_CACHE_SECONDS
            if stale or kid not in self._keys:
                await self._refresh_keys()
        if kid not in self._keys:
            raise ChannelAuthError("unknown signing key")
        return self._keys[kid]

    def admit_client(self, remote: str | None) -> None:
        """Any address: the token decides."""

    async def admit(
        self, authorization: str | None, channel_id: str, service_url: ServiceUrl
    ) -> None:
        """Raise ChannelAuthError unless AUTHORIZATION is a valid token for this activity."""
        if not authorization or not authorization.startswith("Bearer "):
            raise ChannelAuthError("missing bearer token")
        token = authorization.removeprefix("Bearer ").strip()
        try:
            header = jwt.get_unverified_header(token)
            key, endorsements = await self._key(str(header.get("kid", "")))
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self._app_id,
                issuer=self._issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, aiohttp.ClientError, KeyError, ValueError) as error:
            raise ChannelAuthError(f"invalid token: {type(error).__name__}") from None
        if endorsements and channel_id not in endorsements:
            raise ChannelAuthError("the signing key is not endorsed for this channel")
        claimed = claims.get("serviceurl")
        if claimed is not None:
            if claimed != service_url.raw:
                raise ChannelAuthError("serviceUrl does not match the token")
        elif not origin_allowed(service_url, self._service_origins):
            raise ChannelAuthError(
                "the token names no serviceUrl and this one is not a Bot Framework service "
                "(CAREBOT_CHANNEL_SERVICE_ORIGINS)"
            )
