"""Local accounts: people who sign in, with argon2-hashed passwords."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.persistence.tables import AccountRow

_T = TypeVar("_T")
_DEFAULT_HASHER = PasswordHasher()
# argon2 checks at once: each uses several threads and 64 MiB, so a flood of them would
# starve the event loop of CPU even off it; the rest wait their turn.
MAX_CONCURRENT_HASHES = 2


class Role(StrEnum):
    """What an account may do."""

    PATIENT = "patient"
    PROVIDER = "provider"
    CARE_MANAGER = "care_manager"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.PROVIDER, Role.CARE_MANAGER, Role.ADMIN})


@dataclass(frozen=True)
class Account:
    """A signed-in person as the rest of the code sees them (no password hash)."""

    id: str
    username: str
    role: Role
    display_name: str
    language: str | None
    fhir_reference: str | None
    aad_object_id: str | None

    @property
    def is_staff(self) -> bool:
        """True for providers, care managers and administrators."""
        return self.role in STAFF_ROLES


class AccountExistsError(ValueError):
    """The username (or Teams identity) is taken."""


def _to_account(row: AccountRow) -> Account:
    return Account(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        display_name=row.display_name,
        language=row.language,
        fhir_reference=row.fhir_reference,
        aad_object_id=row.aad_object_id,
    )


class AccountRepository:
    """Creates, finds and authenticates accounts.

    argon2 runs in a worker thread: one hash takes tens of milliseconds of CPU, which on the
    event loop would stall every other request during a burst of sign-ins."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], hasher: PasswordHasher = _DEFAULT_HASHER
    ) -> None:
        self._sessions = sessions
        self._hasher = hasher
        self._decoy_hash: str | None = None
        self._hashing = asyncio.Semaphore(MAX_CONCURRENT_HASHES)

    async def _in_thread(self, function: Callable[..., _T], *args: str) -> _T:
        async with self._hashing:
            return await asyncio.to_thread(function, *args)

    async def _decoy(self) -> str:
        # A hash to verify against for unknown usernames, so they cost what real ones do.
        if self._decoy_hash is None:
            self._decoy_hash = await self._in_thread(self._hasher.hash, uuid.uuid4().hex)
        return self._decoy_hash

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def create(
        self,
        *,
        username: str,
        password: str,
        role: Role,
        display_name: str,
        language: str | None = None,
        fhir_reference: str | None = None,
        aad_object_id: str | None = None,
    ) -> Account:
        """Add an account; raises AccountExistsError for a taken username."""
        if not username.strip() or len(password) < 8:
            raise ValueError("a username and a password of at least 8 characters are required")
        row = AccountRow(
            id=uuid.uuid4().hex,
            username=username.strip().lower(),
            password_hash=await self._in_thread(self._hasher.hash, password),
            role=role.value,
            display_name=display_name,
            language=language,
            fhir_reference=fhir_reference,
            aad_object_id=aad_object_id,
            created_at=datetime.now(UTC),
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError as error:
            raise AccountExistsError(username) from error
        return _to_account(row)

    async def authenticate(self, username: str, password: str) -> Account | None:
        """The account if USERNAME and PASSWORD match, else None."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(AccountRow).where(AccountRow.username == username.strip().lower())
            )
        # Unknown usernames spend the same time as a real check, so they cannot be probed.
        password_hash = row.password_hash if row is not None else await self._decoy()
        matches = await self._in_thread(self._verify, password_hash, password)
        return _to_account(row) if row is not None and matches else None

    async def get(self, account_id: str) -> Account | None:
        """The account with this id, or None."""
        async with self._sessions() as session:
            row = await session.get(AccountRow, account_id)
        return _to_account(row) if row else None

    async def by_username(self, username: str) -> Account | None:
        """The account with this username, or None."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(AccountRow).where(AccountRow.username == username.strip().lower())
            )
        return _to_account(row) if row else None

    async def by_fhir_reference(self, reference: str) -> Account | None:
        """The account of the person REFERENCE (`Practitioner/id`, `Patient/id`) names, or None."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(AccountRow).where(AccountRow.fhir_reference == reference).limit(1)
            )
        return _to_account(row) if row else None

    async def by_aad_object_id(self, aad_object_id: str) -> Account | None:
        """The account linked to a Microsoft Entra (Teams) user, or None."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(AccountRow).where(AccountRow.aad_object_id == aad_object_id)
            )
        return _to_account(row) if row else None

    async def set_language(self, account_id: str, language: str) -> None:
        """Remember the account's preferred language."""
        async with self._sessions.begin() as session:
            row = await session.get(AccountRow, account_id)
            if row is not None:
                row.language = language
