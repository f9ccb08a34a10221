"""SMART authorization codes and refresh tokens (async I/O over the store's tables).

A code is kept only as its SHA-256, lives `CODE_TTL`, is redeemed once (an atomic update
marks it used before anything else is checked), and only by the client it was issued to,
with the same redirect URI and the PKCE verifier of its S256 challenge (RFC 7636). A code
presented twice also revokes the refresh tokens issued from it (RFC 6749 section 4.1.2).

A refresh token rotates: each use marks it used and returns a new one of the same family; a
used one presented again revokes the whole family (someone holds a stolen copy). A refresh
asks for the scopes granted or fewer, never more.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.fhir_store.records import utcnow
from integrations.fhir_store.scopes import scope_words
from integrations.fhir_store.tables import SmartCodeRow, SmartRefreshRow

CODE_TTL = timedelta(seconds=60)
REFRESH_TTL = timedelta(days=30)
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


class OAuthError(ValueError):
    """A token request refused with an OAuth 2.0 error code (RFC 6749 section 5.2)."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


@dataclass(frozen=True)
class Approval:
    """What a person approved for a client: the scopes (space-separated, context scopes
    included), the patient in context, the person (account id), for staff their
    Practitioner, and the fhirUser of their id_token."""

    client_id: str
    scope: str
    person: str
    patient: str | None = None
    practitioner: str | None = None
    fhir_user: str | None = None

    def columns(self) -> dict[str, str | None]:
        """The columns a code or refresh-token row keeps of it."""
        return {
            "client_id": self.client_id,
            "scope": self.scope,
            "patient": self.patient,
            "person": self.person,
            "practitioner": self.practitioner,
            "fhir_user": self.fhir_user,
        }


def _approval_of(row: SmartCodeRow | SmartRefreshRow) -> Approval:
    return Approval(
        row.client_id, row.scope, row.person, row.patient, row.practitioner, row.fhir_user
    )


def digest(secret: str) -> str:
    """The SHA-256 a code or token is kept as."""
    return hashlib.sha256(secret.encode()).hexdigest()


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of VERIFIER (RFC 7636 section 4.2)."""
    raw = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def check_challenge(challenge: str) -> None:
    """OAuthError unless CHALLENGE looks like an S256 challenge (43 base64url characters)."""
    if re.fullmatch(r"[A-Za-z0-9\-_]{43}", challenge) is None:
        raise OAuthError("invalid_request", "code_challenge must be an S256 challenge")


async def issue_code(
    sessionmaker: async_sessionmaker[AsyncSession],
    approval: Approval,
    redirect_uri: str,
    code_challenge: str,
) -> str:
    """A new one-time code for APPROVAL, bound to REDIRECT_URI and CODE_CHALLENGE."""
    check_challenge(code_challenge)
    code = secrets.token_urlsafe(32)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            insert(SmartCodeRow).values(
                code_hash=digest(code),
                redirect_uri=redirect_uri,
                code_challenge=code_challenge,
                **approval.columns(),
                expires_at=utcnow() + CODE_TTL,
                used_at=None,
            )
        )
    return code


async def redeem_code(
    sessionmaker: async_sessionmaker[AsyncSession],
    code: str,
    client_id: str,
    redirect_uri: str,
    verifier: str,
) -> tuple[Approval, str]:
    """The approval behind CODE and the refresh-token family it starts; OAuthError
    (invalid_grant) when the code is unknown, used, expired, another client's, for another
    redirect URI, or VERIFIER does not match its challenge."""
    family = digest(code)
    now = utcnow()
    async with sessionmaker() as session, session.begin():
        taken = await session.execute(
            update(SmartCodeRow)
            .where(
                SmartCodeRow.code_hash == family,
                SmartCodeRow.used_at.is_(None),
                SmartCodeRow.expires_at > now,
            )
            .values(used_at=now)
        )
        row = (
            await session.execute(select(SmartCodeRow).where(SmartCodeRow.code_hash == family))
        ).scalar_one_or_none()
        if not taken.rowcount:  # type: ignore[attr-defined]
            if row is not None and row.used_at is not None:
                await _revoke_family(session, family)
            row = None
    if row is None:
        raise OAuthError("invalid_grant", "the code is unknown, expired or already used")
    if row.client_id != client_id:
        raise OAuthError("invalid_grant", "the code was issued to another client")
    if row.redirect_uri != redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request")
    if _VERIFIER.fullmatch(verifier) is None or s256(verifier) != row.code_challenge:
        raise OAuthError("invalid_grant", "the PKCE code_verifier does not match")
    return _approval_of(row), family


async def issue_refresh(
    sessionmaker: async_sessionmaker[AsyncSession], approval: Approval, family: str
) -> str:
    """A new refresh token of FAMILY carrying APPROVAL."""
    async with sessionmaker() as session, session.begin():
        return await _insert_refresh(session, approval, family)


async def _insert_refresh(session: AsyncSession, approval: Approval, family: str) -> str:
    token = "cbr_" + secrets.token_urlsafe(32)
    now = utcnow()
    await session.execute(
        insert(SmartRefreshRow).values(
            token_hash=digest(token),
            family=family,
            **approval.columns(),
            created_at=now,
            expires_at=now + REFRESH_TTL,
        )
    )
    return token


async def _revoke_family(session: AsyncSession, family: str) -> None:
    await session.execute(
        update(SmartRefreshRow)
        .where(SmartRefreshRow.family == family, SmartRefreshRow.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def rotate_refresh(
    sessionmaker: async_sessionmaker[AsyncSession],
    token: str,
    client_id: str,
    scope: str | None,
) -> tuple[Approval, str]:
    """The approval behind refresh TOKEN (narrowed to SCOPE when given) and its successor;
    OAuthError invalid_grant for an unknown, used, expired or revoked token or another
    client's, invalid_scope for a scope not granted (the token then stays usable)."""
    now = utcnow()
    async with sessionmaker() as session, session.begin():
        taken = await session.execute(
            update(SmartRefreshRow)
            .where(
                SmartRefreshRow.token_hash == digest(token),
                SmartRefreshRow.client_id == client_id,
                SmartRefreshRow.used_at.is_(None),
                SmartRefreshRow.revoked_at.is_(None),
                SmartRefreshRow.expires_at > now,
            )
            .values(used_at=now)
        )
        row = (
            await session.execute(
                select(SmartRefreshRow).where(SmartRefreshRow.token_hash == digest(token))
            )
        ).scalar_one_or_none()
        if row is not None and taken.rowcount:  # type: ignore[attr-defined]
            approval = _narrowed(row, scope)  # invalid_scope rolls the use back
            return approval, await _insert_refresh(session, approval, row.family)
        if row is not None and row.used_at is not None and row.client_id == client_id:
            await _revoke_family(session, row.family)  # a replayed refresh token: stolen
    raise OAuthError("invalid_grant", "the refresh token is unknown, used or revoked")


def _narrowed(row: SmartRefreshRow, scope: str | None) -> Approval:
    approval = _approval_of(row)
    if scope is None:
        return approval
    granted, asked = scope_words(row.scope), scope_words(scope)
    if not asked or any(word not in granted for word in asked):
        raise OAuthError("invalid_scope", "a refresh asks for the scopes granted or fewer")
    return replace(approval, scope=" ".join(asked))


async def revoke_refresh(
    sessionmaker: async_sessionmaker[AsyncSession], token: str, client_id: str
) -> None:
    """Revoke refresh TOKEN's family, if it is CLIENT_ID's (RFC 7009: unknown is no error)."""
    async with sessionmaker() as session, session.begin():
        row = (
            await session.execute(
                select(SmartRefreshRow).where(SmartRefreshRow.token_hash == digest(token))
            )
        ).scalar_one_or_none()
        if row is not None and row.client_id == client_id:
            await _revoke_family(session, row.family)
