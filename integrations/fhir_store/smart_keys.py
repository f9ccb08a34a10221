"""The service's key for OpenID Connect id_tokens (RS256, as OpenID Connect requires), made
on first use and kept in the database so every process signs alike (async I/O)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.fhir_store.records import utcnow
from integrations.fhir_store.tables import SmartKeyRow

ID_TOKEN_TTL_S = 3600


class IdTokenKey:
    """Signs id_tokens and publishes the public half as a JWKS."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._key: tuple[str, rsa.RSAPrivateKey] | None = None

    async def _current(self) -> tuple[str, rsa.RSAPrivateKey]:
        if self._key is None:
            async with self._sessionmaker() as session:
                row = (
                    await session.execute(select(SmartKeyRow).order_by(SmartKeyRow.created_at))
                ).scalar()
            if row is None:
                row = await self._create()
            key = serialization.load_pem_private_key(row.private_pem.encode(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            self._key = (row.kid, key)
        return self._key

    async def _create(self) -> SmartKeyRow:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        try:
            async with self._sessionmaker() as session, session.begin():
                await session.execute(
                    insert(SmartKeyRow).values(
                        kid=uuid.uuid4().hex, private_pem=pem, created_at=utcnow()
                    )
                )
        except IntegrityError:
            pass
        async with self._sessionmaker() as session:
            # another process may have made one at the same moment: the oldest wins
            return (
                await session.execute(select(SmartKeyRow).order_by(SmartKeyRow.created_at))
            ).scalar_one()

    async def id_token(self, issuer: str, client_id: str, subject: str, fhir_user: str) -> str:
        """An id_token for SUBJECT (an account id) naming FHIR_USER, for CLIENT_ID."""
        kid, key = await self._current()
        now = int(time.time())
        claims = {
            "iss": issuer,
            "sub": subject,
            "aud": client_id,
            "iat": now,
            "exp": now + ID_TOKEN_TTL_S,
            "fhirUser": fhir_user,
        }
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    async def jwks(self) -> dict[str, Any]:
        """The public key as a JWKS."""
        kid, key = await self._current()
        public: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        return {"keys": [{**public, "kid": kid, "use": "sig", "alg": "RS256"}]}
