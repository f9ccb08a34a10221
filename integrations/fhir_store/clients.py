"""Registered API clients and their bearer tokens (async I/O over the store's tables).

Programmatic use, for processes that talk to the embedded store::

    token = await ensure_client(sessionmaker, "gateway", "system/Observation.write")

`ensure_client` is idempotent by name: the client is created once, its scopes follow the
latest call, and each call returns a new bearer token; a revoked client stays revoked
(`ensure_client` refuses it). Every token expires (`DEFAULT_TOKEN_TTL`, or the `ttl` given);
tokens are kept only as SHA-256 digests. The service itself registers nothing here: it signs
short-lived tokens (`integrations.fhir_store.access_tokens`).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.fhir_store.scopes import Grant, checked_scopes, parse_scopes
from integrations.fhir_store.store import utcnow
from integrations.fhir_store.tables import FhirClientRow, FhirClientTokenRow

DEFAULT_TOKEN_TTL = timedelta(days=30)
MAX_TOKEN_TTL = timedelta(days=366)


class ClientRevokedError(ValueError):
    """The client was revoked: it gets no new token (register a new client instead)."""


def _checked_ttl(ttl: timedelta) -> timedelta:
    if not timedelta(0) < ttl <= MAX_TOKEN_TTL:
        raise ValueError(f"a token lives more than 0 s and at most {MAX_TOKEN_TTL.days} days")
    return ttl


@dataclass(frozen=True)
class ClientInfo:
    """A registered client as listed by `carebot fhir clients list`."""

    id: str
    name: str
    scopes: str
    patient: str | None
    created_at: datetime
    revoked_at: datetime | None
    redirect_uris: str | None = None
    jwks: str | None = None
    """For a SMART client: "registered", or the JWKS URL."""

    @property
    def smart(self) -> bool:
        """True for a SMART client (redirect URIs or a JWKS; tokens from /auth/token)."""
        return bool(self.redirect_uris or self.jwks)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_patient(patient: str | None) -> str | None:
    """`Patient/ID` from an id or a reference; None for none."""
    if not patient:
        return None
    return patient if patient.startswith("Patient/") else f"Patient/{patient}"


async def _issue(session: AsyncSession, client_id: str, ttl: timedelta) -> str:
    token = "cbf_" + secrets.token_urlsafe(32)
    now = utcnow()
    await session.execute(
        insert(FhirClientTokenRow).values(
            token_hash=_digest(token), client_id=client_id, created_at=now, expires_at=now + ttl
        )
    )
    return token


async def _register(session: AsyncSession, name: str, scopes: str, patient: str | None) -> str:
    client_id = uuid.uuid4().hex
    await session.execute(
        insert(FhirClientRow).values(
            id=client_id,
            name=name,
            scopes=scopes,
            patient=normalize_patient(patient),
            created_at=utcnow(),
            revoked_at=None,
        )
    )
    return client_id


async def check_new_name(session: AsyncSession, name: str) -> None:
    """ValueError when a client named NAME exists (revoked ones included)."""
    existing = (
        await session.execute(select(FhirClientRow.id).where(FhirClientRow.name == name))
    ).scalar_one_or_none()
    if existing is not None:
        raise ValueError(f"a client named {name!r} already exists")


async def add_client(
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    scopes: str,
    patient: str | None = None,
    *,
    ttl: timedelta = DEFAULT_TOKEN_TTL,
) -> str:
    """Register a new client and return its bearer token (valid for TTL); the name must be
    new, and the scopes fit for a registered client (see `checked_scopes`)."""
    checked_scopes(scopes, normalize_patient(patient))
    _checked_ttl(ttl)
    async with sessionmaker() as session, session.begin():
        await check_new_name(session, name)
        return await _issue(session, await _register(session, name, scopes, patient), ttl)


async def ensure_client(
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    scopes: str,
    patient: str | None = None,
    *,
    ttl: timedelta = DEFAULT_TOKEN_TTL,
) -> str:
    """A bearer token for the client NAME, registering it (or updating its scopes) if needed;
    ClientRevokedError if NAME was revoked (revocation sticks)."""
    checked_scopes(scopes, normalize_patient(patient))
    _checked_ttl(ttl)
    async with sessionmaker() as session, session.begin():
        row = (
            await session.execute(select(FhirClientRow).where(FhirClientRow.name == name))
        ).scalar_one_or_none()
        if row is None:
            client_id = await _register(session, name, scopes, patient)
        elif row.revoked_at is not None:
            raise ClientRevokedError(f"the client {name!r} was revoked")
        else:
            client_id = row.id
            await session.execute(
                update(FhirClientRow)
                .where(FhirClientRow.id == client_id, FhirClientRow.revoked_at.is_(None))
                .values(scopes=scopes, patient=normalize_patient(patient))
            )
        return await _issue(session, client_id, ttl)


async def list_clients(sessionmaker: async_sessionmaker[AsyncSession]) -> list[ClientInfo]:
    """Every registered client, revoked ones included."""
    async with sessionmaker() as session:
        rows = (
            (await session.execute(select(FhirClientRow).order_by(FhirClientRow.created_at)))
            .scalars()
            .all()
        )
    return [
        ClientInfo(
            r.id,
            r.name,
            r.scopes,
            r.patient,
            r.created_at,
            r.revoked_at,
            r.redirect_uris,
            r.jwks_url or ("registered" if r.jwks else None),
        )
        for r in rows
    ]


async def revoke_client(sessionmaker: async_sessionmaker[AsyncSession], name: str) -> bool:
    """Revoke a client (all its tokens); False if there is no such active client."""
    async with sessionmaker() as session, session.begin():
        result = await session.execute(
            update(FhirClientRow)
            .where(FhirClientRow.name == name, FhirClientRow.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def authenticate(sessionmaker: async_sessionmaker[AsyncSession], token: str) -> Grant | None:
    """The grant of an active client holding TOKEN (unexpired), or None."""
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(FhirClientRow)
                .join(FhirClientTokenRow, FhirClientTokenRow.client_id == FhirClientRow.id)
                .where(
                    FhirClientTokenRow.token_hash == _digest(token),
                    FhirClientTokenRow.expires_at > utcnow(),
                    FhirClientRow.revoked_at.is_(None),
                )
            )
        ).scalar_one_or_none()
    if row is None:
        return None
    return Grant(row.id, row.name, parse_scopes(row.scopes), row.patient)
