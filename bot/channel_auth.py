"""Checks the JWT that Azure Bot Service puts on every `/api/messages` request.

Keys come from the Bot Framework OpenID metadata, fetched asynchronously and cached.
Every failure (missing, expired, unsigned, wrong audience or issuer, serviceUrl mismatch,
no `exp`) is a 401, never a 500.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import jwt

BOT_FRAMEWORK_OPENID = "https://login.botframework.com/v1/.well-known/openidconfiguration"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
KEY_CACHE_SECONDS = 24 * 3600
CLOCK_SKEW_SECONDS = 300


class ChannelAuthError(Exception):
    """The request is not from an authorised channel."""


class ChannelAuthenticator:
    """Validates channel tokens for one bot app id."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        app_id: str,
        *,
        openid_url: str = BOT_FRAMEWORK_OPENID,
        issuer: str = BOT_FRAMEWORK_ISSUER,
    ) -> None:
        self._http = http
        self._app_id = app_id
        self._openid_url = openid_url
        self._issuer = issuer
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

    async def authenticate(
        self, authorization: str | None, channel_id: str, service_url: str
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
        if claims.get("serviceurl") not in (None, service_url):
            raise ChannelAuthError("serviceUrl does not match the token")
