"""A SMART app's side of the standalone launch and of Backend Services, over real HTTP
against the running service (no browser): what a third-party app does."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

REDIRECT_URI = "http://127.0.0.1:9/callback"
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
VITAL_SIGNS = "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"


def pkce() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden fields of a page's forms (the CSRF token, the request carried along)."""
    return {name: html.unescape(value) for name, value in HIDDEN.findall(page)}


def authorize_url(
    base: str,
    client_id: str,
    scope: str,
    challenge: str,
    state: str,
    redirect_uri: str = REDIRECT_URI,
) -> str:
    """The app's authorization request."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "aud": f"{base}/fhir",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{base}/auth/authorize?{urlencode(query)}"


def redirect_params(location: str) -> dict[str, str]:
    """The query of a redirect to the app, as single values."""
    assert location.startswith(REDIRECT_URI), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def sign_in_and_decide(
    http: aiohttp.ClientSession,
    url: str,
    username: str,
    password: str,
    decision: str = "approve",
) -> dict[str, str]:
    """Follow the authorization request through the portal's sign-in and the approval page;
    the parameters the app's redirect URI receives."""
    async with http.get(url, allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        area_url = response.headers["Location"]
    base = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
    async with http.get(base + area_url) as response:
        sign_in = await response.text()
    fields = hidden_fields(sign_in)
    area = urlsplit(area_url).path.split("/")[1]
    async with http.post(
        f"{base}/{area}/login",
        data={"username": username, "password": password, **fields},
        allow_redirects=False,
    ) as response:
        assert response.status == 303, await response.text()
        approval_url = response.headers["Location"]
    async with http.get(base + approval_url) as response:
        approval = await response.text()
        assert response.status == 200, approval
    fields = hidden_fields(approval)
    async with http.post(
        f"{base}/{area}/smart/authorize",
        data={**fields, "decision": decision},
        allow_redirects=False,
    ) as response:
        assert response.status == 303, await response.text()
        return redirect_params(response.headers["Location"])


async def token_request(
    http: aiohttp.ClientSession, base: str, form: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """POST FORM to the token endpoint; the status and JSON answer."""
    async with http.post(f"{base}/auth/token", data=form) as response:
        return response.status, await response.json()


@dataclass(frozen=True)
class BackendKey:
    """A backend service's key pair and its public JWKS."""

    kid: str
    alg: str
    private: Any

    @property
    def jwks(self) -> dict[str, Any]:
        """The public JWKS to register."""
        algorithm = jwt.get_algorithm_by_name(self.alg)
        public = json.loads(algorithm.to_jwk(self.private.public_key()))  # type: ignore[attr-defined]
        return {"keys": [{**public, "kid": self.kid, "alg": self.alg}]}


def new_key(alg: str) -> BackendKey:
    """A fresh RS384 or ES384 key."""
    if alg == "RS384":
        return BackendKey(uuid.uuid4().hex, alg, rsa.generate_private_key(65537, 2048))
    return BackendKey(uuid.uuid4().hex, alg, ec.generate_private_key(ec.SECP384R1()))


def assertion(
    key: BackendKey,
    client_id: str,
    aud: str,
    *,
    exp_in: int = 120,
    jti: str | None = None,
    nbf_in: int | None = None,
) -> str:
    """A signed client assertion (RFC 7523) as a backend service makes it."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "exp": now + exp_in,
        "jti": jti or uuid.uuid4().hex,
    }
    if nbf_in is not None:
        claims["nbf"] = now + nbf_in
    return jwt.encode(claims, key.private, algorithm=key.alg, headers={"kid": key.kid})


def client_credentials(client_id: str, signed: str, scope: str) -> dict[str, str]:
    """The form of a client-credentials token request."""
    return {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": signed,
        "client_id": client_id,
    }
