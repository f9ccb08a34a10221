"""Pluggable auth for the FHIR client: a static bearer token, or OAuth2 client credentials.

`ClientCredentialsAuth` is SMART backend services: the client proves itself with a signed
JWT assertion (`private_key_jwt`, RS384/ES384) or, for servers that take it, a client
secret; the access token is cached until shortly before it expires and refreshed once
when the server answers 401.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Generator, Sequence

import httpx
import jwt


class BearerAuth(httpx.Auth):
    """A fixed bearer token (for example from `carebot fhir clients add`)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the Authorization header."""
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


class ClientCredentialsAuth(httpx.Auth):
    """OAuth2 client credentials against TOKEN_URL, with a JWT assertion or a secret."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        scopes: Sequence[str],
        *,
        private_key: str | None = None,
        key_id: str | None = None,
        algorithm: str = "RS384",
        client_secret: str | None = None,
        leeway_s: float = 30.0,
    ) -> None:
        if (private_key is None) == (client_secret is None):
            raise ValueError("give exactly one of private_key and client_secret")
        self.token_url = token_url
        self.client_id = client_id
        self.scopes = " ".join(scopes)
        self.private_key = private_key
        self.key_id = key_id
        self.algorithm = algorithm
        self.client_secret = client_secret
        self.leeway_s = leeway_s
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def _assertion(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "exp": now + 300,
            "iat": now,
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": self.key_id} if self.key_id else None
        assert self.private_key is not None
        return jwt.encode(claims, self.private_key, algorithm=self.algorithm, headers=headers)

    def token_request(self) -> httpx.Request:
        """The token endpoint request (form-encoded, per RFC 6749 section 4.4)."""
        form = {"grant_type": "client_credentials", "scope": self.scopes}
        headers = {"Accept": "application/json"}
        if self.private_key is not None:
            form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            form["client_assertion"] = self._assertion()
        else:
            assert self.client_secret is not None
            basic = httpx.BasicAuth(self.client_id, self.client_secret)
            headers["Authorization"] = basic._auth_header
        return httpx.Request("POST", self.token_url, data=form, headers=headers)

    def _store(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise httpx.HTTPStatusError(
                f"token endpoint answered {response.status_code}",
                request=response.request,
                response=response,
            )
        body = response.json()
        self._token = str(body["access_token"])
        self._expires_at = time.monotonic() + float(body.get("expires_in", 300)) - self.leeway_s

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Attach a valid access token, fetching one first when needed; retry once on 401."""
        async with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                token_response = yield self.token_request()
                await token_response.aread()
                self._store(token_response)
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            async with self._lock:
                token_response = yield self.token_request()
                await token_response.aread()
                self._store(token_response)
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request
