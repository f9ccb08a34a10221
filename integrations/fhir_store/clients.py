"""Registered API clients and their bearer tokens (async I/O over the store's tables).

Programmatic use, for processes that talk to the embedded store::

    token = await ensure_client(sessionmaker, "gateway", "system/Observation.write")

`ensure_client` is idempotent by name: the client is created once, its scopes follow the
latest call, and each call returns a bearer token (a new one; earlier tokens stay valid
until the client is revoked). Tokens are kept only as SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.fhir_store.scopes import Grant, parse_scopes
from integrations.fhir_store.store import utcnow
from integrations.fhir_store.tables import FhirClientRow, FhirClientTokenRow


@dataclass(frozen=True)
class ClientInfo:
    """A registered client as listed by `carebot fhir clients list`."""

    id: str
    name: str
    scopes: str
    patient: str | None
    created_at: datetime
    revoked_at: datetime | None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _normalize_patient(patient: str | None) -> str | None:
    if not patient:
        return None
    return patient if patient.startswith("Patient/") else f"Patient/{patient}"


async def _issue(session: AsyncSession, client_id: str) -> str:
    token = "cbf_" + secrets.token_urlsafe(32)
    await session.execute(
        insert(FhirClientTokenRow).values(
            token_hash=_digest(token), client_id=client_id, created_at=utcnow()
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
            patient=_normalize_patient(patient),
            created_at=utcnow(),
            revoked_at=None,
        )
    )
    return client_id


async def add_client(
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    scopes: str,
    patient: str | None = None,
) -> str:
    """Register a new client and return its bearer token; the name must be new."""
    parse_scopes(scopes)
    async with sessionmaker() as session, session.begin():
        existing = (
            await session.execute(select(FhirClientRow.id).where(FhirClientRow.name == name))
        ).scalar_one_or_none()
        if existing is not None:
            raise ValueError(f"a client named {name!r} already exists")
        return await _issue(session, await _register(session, name, scopes, patient))


async def ensure_client(
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    scopes: str,
    patient: str | None = None,
) -> str:
    """A bearer token for the client NAME, registering it (or updating its scopes) if needed."""
    parse_scopes(scopes)
    async with sessionmaker() as session, session.begin():
        row = (
            await session.execute(select(FhirClientRow).where(FhirClientRow.name == name))
        ).scalar_one_or_none()
        if row is None:
            client_id = await _register(session, name, scopes, patient)
        else:
            client_id = row.id
            await session.execute(
                update(FhirClientRow)
                .where(FhirClientRow.id == client_id)
                .values(scopes=scopes, patient=_normalize_patient(patient), revoked_at=None)
            )
        return await _issue(session, client_id)


async def list_clients(sessionmaker: async_sessionmaker[AsyncSession]) -> list[ClientInfo]:
    """Every registered client, revoked ones included."""
    async with sessionmaker() as session:
        rows = (
            (await session.execute(select(FhirClientRow).order_by(FhirClientRow.created_at)))
            .scalars()
            .all()
        )
    return [ClientInfo(r.id, r.name, r.scopes, r.patient, r.created_at, r.revoked_at) for r in rows]


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
    """The grant of an active client holding TOKEN, or None."""
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(FhirClientRow)
                .join(FhirClientTokenRow, FhirClientTokenRow.client_id == FhirClientRow.id)
                .where(
                    FhirClientTokenRow.token_hash == _digest(token),
                    FhirClientRow.revoked_at.is_(None),
                )
            )
        ).scalar_one_or_none()
    if row is None:
        return None
    return Grant(row.id, row.name, parse_scopes(row.scopes), row.patient)
