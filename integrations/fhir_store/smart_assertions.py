"""SMART Backend Services: a client authenticates with a `private_key_jwt` assertion
(RFC 7523) signed by a key of its registered JWKS (async I/O: the client row, the JWKS URL,
the `jti` table).

The assertion is refused when its algorithm is not RS384 or ES384, its `kid` is not in the
client's JWKS, the signature does not verify, `iss` or `sub` is not the client, `aud` is not
the token endpoint, it is expired or not yet valid, it lives more than five minutes, or its
`jti` was seen before (each is remembered until the assertion expires).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.fhir_store.records import utcnow
from integrations.fhir_store.smart_clients import SmartClient, smart_client
from integrations.fhir_store.smart_grants import OAuthError
from integrations.fhir_store.tables import SmartJtiRow

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS384", "ES384")
MAX_LIFETIME_S = 300
LEEWAY_S = 30
_JWKS_TIMEOUT = httpx.Timeout(5.0)


def _refused(reason: str) -> OAuthError:
    return OAuthError("invalid_client", f"client assertion refused: {reason}", 401)


async def client_keys(client: SmartClient) -> list[dict[str, Any]]:
    """The keys of CLIENT's JWKS: registered inline, or fetched from its URL."""
    if client.jwks is not None:
        document: Any = client.jwks
    elif client.jwks_url is not None:
        try:
            async with httpx.AsyncClient(timeout=_JWKS_TIMEOUT) as http:
                response = await http.get(client.jwks_url)
                response.raise_for_status()
                document = response.json()
        except (httpx.HTTPError, json.JSONDecodeError) as error:
            raise _refused("the client's JWKS URL did not answer with a JWKS") from error
    else:
        raise _refused("the client has no registered JWKS")
    keys = document.get("keys") if isinstance(document, dict) else None
    return [k for k in keys if isinstance(k, dict)] if isinstance(keys, list) else []


async def verify_assertion(
    sessionmaker: async_sessionmaker[AsyncSession], assertion: str, token_url: str
) -> SmartClient:
    """The client ASSERTION authenticates (addressed to TOKEN_URL); OAuthError otherwise."""
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise _refused("not a JWT") from error
    alg, kid, issuer = header.get("alg"), header.get("kid"), unverified.get("iss")
    if alg not in ALGORITHMS:
        raise _refused(f"alg must be one of {', '.join(ALGORITHMS)}")
    client = await smart_client(sessionmaker, str(issuer)) if isinstance(issuer, str) else None
    if client is None:
        raise _refused("iss names no registered client")
    matching = [k for k in await client_keys(client) if k.get("kid") == kid]
    if kid is None or len(matching) != 1:
        raise _refused("kid names no key of the client's JWKS")
    try:
        key = jwt.PyJWK(matching[0], algorithm=alg)
        claims = jwt.decode(
            assertion,
            key,
            algorithms=[alg],
            audience=token_url,
            issuer=client.id,
            leeway=LEEWAY_S,
            options={"require": ["iss", "sub", "aud", "exp", "jti"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise _refused("expired") from error
    except jwt.ImmatureSignatureError as error:
        raise _refused("not yet valid") from error
    except jwt.InvalidAudienceError as error:
        raise _refused("aud is not this token endpoint") from error
    except jwt.PyJWTError as error:
        raise _refused("bad signature or claims") from error
    if claims["sub"] != client.id:
        raise _refused("sub must be the client_id")
    expires = int(claims["exp"])
    if expires - int(utcnow().replace(tzinfo=UTC).timestamp()) > MAX_LIFETIME_S + LEEWAY_S:
        raise _refused(f"exp lies more than {MAX_LIFETIME_S} s ahead")
    await _remember_jti(sessionmaker, client.id, str(claims["jti"]), expires)
    return client


async def _remember_jti(
    sessionmaker: async_sessionmaker[AsyncSession], client_id: str, jti: str, expires: int
) -> None:
    until = datetime.fromtimestamp(expires + LEEWAY_S, UTC).replace(tzinfo=None)
    if len(jti) > 255:
        raise _refused("jti is longer than 255 characters")
    try:
        async with sessionmaker() as session, session.begin():
            await session.execute(delete(SmartJtiRow).where(SmartJtiRow.expires_at < utcnow()))
            await session.execute(
                insert(SmartJtiRow).values(client_id=client_id, jti=jti, expires_at=until)
            )
    except IntegrityError as error:
        raise _refused("jti was used before (a replay)") from error
