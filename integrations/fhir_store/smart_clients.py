"""SMART clients: apps with registered redirect URIs (public, PKCE) and backend services
with a registered JWKS (confidential asymmetric); async I/O over `fhir_client`.

A client's registered scopes are the most it may be granted: a request for more is cut
down to them (`allowed_scopes`), context scopes (`openid`, `launch/patient`, ...) apart.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.fhir_store.clients import check_new_name
from integrations.fhir_store.records import utcnow
from integrations.fhir_store.scopes import Scope, ScopeError, parse_scope, split_scopes
from integrations.fhir_store.tables import FhirClientRow


@dataclass(frozen=True)
class SmartClient:
    """A registered, active SMART client."""

    id: str
    name: str
    scopes: str
    redirect_uris: tuple[str, ...]
    jwks: dict[str, Any] | None
    jwks_url: str | None

    @property
    def confidential(self) -> bool:
        """True for a client that authenticates with a signed assertion."""
        return self.jwks is not None or self.jwks_url is not None


def check_redirect_uri(uri: str) -> str:
    """URI when it may be registered: absolute https (http only on loopback), no fragment."""
    parts = urlsplit(uri)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
        raise ValueError(f"a redirect URI is an absolute URL without a fragment: {uri!r}")
    if parts.scheme == "http" and not loopback:
        raise ValueError(f"a redirect URI uses https (http only on loopback): {uri!r}")
    return uri


def check_jwks(document: Any) -> dict[str, Any]:
    """DOCUMENT when it is a JWKS whose keys all have a `kid` and a `kty`."""
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ValueError("a JWKS is a JSON object with a non-empty 'keys' list")
    for key in keys:
        if not isinstance(key, dict) or not key.get("kid") or not key.get("kty"):
            raise ValueError("each key of the JWKS needs a 'kid' and a 'kty'")
        if "d" in key:
            raise ValueError("the JWKS holds a private key: register the public keys only")
    return dict(document)


async def add_smart_client(
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    scopes: str,
    *,
    redirect_uris: tuple[str, ...] = (),
    jwks: dict[str, Any] | None = None,
    jwks_url: str | None = None,
) -> str:
    """Register a SMART client; its client_id. An app has redirect URIs; a backend service
    a JWKS (or its URL) and system/ scopes."""
    resource, _ = split_scopes(scopes)
    if not resource:
        raise ScopeError("a SMART client needs resource scopes (e.g. 'patient/*.rs')")
    for uri in redirect_uris:
        check_redirect_uri(uri)
    if jwks is not None:
        check_jwks(jwks)
    if jwks_url is not None and urlsplit(jwks_url).scheme not in ("https", "http"):
        raise ValueError(f"the JWKS URL is an http(s) URL: {jwks_url!r}")
    if not redirect_uris and jwks is None and jwks_url is None:
        raise ValueError("a SMART client has redirect URIs, a JWKS, or both")
    if not redirect_uris and any(not w.startswith("system/") for w in resource.split()):
        raise ScopeError("a backend service (no redirect URI) is granted system/ scopes only")
    client_id = uuid.uuid4().hex
    async with sessionmaker() as session, session.begin():
        await check_new_name(session, name)
        await session.execute(
            insert(FhirClientRow).values(
                id=client_id,
                name=name,
                scopes=" ".join(scopes.split()),
                patient=None,
                created_at=utcnow(),
                revoked_at=None,
                redirect_uris=" ".join(redirect_uris) or None,
                jwks=json.dumps(jwks) if jwks is not None else None,
                jwks_url=jwks_url,
            )
        )
    return client_id


async def smart_client(
    sessionmaker: async_sessionmaker[AsyncSession], client_id: str
) -> SmartClient | None:
    """The active SMART client CLIENT_ID, or None (unknown, revoked, or a bearer-token one)."""
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(FhirClientRow).where(
                    FhirClientRow.id == client_id, FhirClientRow.revoked_at.is_(None)
                )
            )
        ).scalar_one_or_none()
    if row is None or (row.redirect_uris is None and row.jwks is None and row.jwks_url is None):
        return None
    return SmartClient(
        row.id,
        row.name,
        row.scopes,
        tuple((row.redirect_uris or "").split()),
        json.loads(row.jwks) if row.jwks else None,
        row.jwks_url,
    )


def _within(asked: Scope, allowed: Scope) -> bool:
    return (
        asked.context == allowed.context
        and allowed.resource_type in ("*", asked.resource_type)
        and asked.letters <= allowed.letters
        and allowed.restriction in (None, asked.restriction)
    )


def allowed_scopes(client: SmartClient, requested: str, contexts: tuple[str, ...]) -> str:
    """The scopes of REQUESTED that CLIENT may be granted, with scope contexts (`patient`,
    `user`, `system`) among CONTEXTS; context scopes pass. ScopeError for malformed ones."""
    resource, context = split_scopes(requested)
    registered = [parse_scope(w) for w in split_scopes(client.scopes)[0].split()]
    granted = [
        word
        for word in resource.split()
        if (scope := parse_scope(word)).context in contexts
        and any(_within(scope, allowed) for allowed in registered)
    ]
    return " ".join(sorted(context) + granted)
