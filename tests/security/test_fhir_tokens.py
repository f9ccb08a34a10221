"""FHIR tokens: revocation sticks and tokens expire (M1); scopes are checked at registration (M4)."""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from fhir.resources.R4B.patient import Patient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main as carebot
from integrations.fhir import AuthenticationFailed, BearerAuth, FhirClient, SearchQuery
from integrations.fhir_store import access_tokens
from integrations.fhir_store.access_tokens import AccessTokenKey
from integrations.fhir_store.app import create_fhir_app
from integrations.fhir_store.clients import (
    ClientRevokedError,
    add_client,
    ensure_client,
    list_clients,
    revoke_client,
)
from integrations.fhir_store.scopes import ScopeError
from integrations.fhir_store.store import utcnow
from integrations.fhir_store.tables import FhirClientTokenRow
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate

SECRET = "test-secret-" + "x" * 40


@dataclass
class Store:
    sessions: async_sessionmaker[AsyncSession]
    key: AccessTokenKey
    base: str
    http: httpx.AsyncClient

    def client(self, token: str) -> FhirClient:
        return FhirClient(self.base, http=self.http, auth=BearerAuth(token), max_attempts=1)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'carebot.db'}"
    await migrate(url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    key = AccessTokenKey(SECRET)
    root = web.Application()
    root.add_subapp("/fhir", create_fhir_app(sessions, access_key=key))
    runner = web.AppRunner(root)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            yield Store(sessions, key, f"http://127.0.0.1:{runner.addresses[0][1]}/fhir", http)
    finally:
        await runner.cleanup()
        await engine.dispose()


# ---- M1: revocation sticks, tokens expire ----------------------------------------------


async def test_m1_a_revoked_client_stays_revoked(store: Store) -> None:
    token = await ensure_client(store.sessions, "carebot-patient-x", "system/*.read")
    assert await store.client(token).count(SearchQuery(Patient)) == 0
    assert await revoke_client(store.sessions, "carebot-patient-x")
    # On main, the next ensure_client set revoked_at back to None: every old token worked again.
    with pytest.raises(ClientRevokedError):
        await ensure_client(store.sessions, "carebot-patient-x", "system/*.read")
    with pytest.raises(AuthenticationFailed):
        await store.client(token).count(SearchQuery(Patient))
    (info,) = await list_clients(store.sessions)
    assert info.revoked_at is not None


async def test_m1_registered_tokens_expire_and_the_store_answers_401(store: Store) -> None:
    token = await add_client(store.sessions, "ops", "system/*.read", ttl=timedelta(hours=12))
    async with store.sessions() as session:
        (expires,) = (await session.execute(select(FhirClientTokenRow.expires_at))).one()
    assert timedelta(hours=11, minutes=59) < expires - utcnow() <= timedelta(hours=12)
    assert await store.client(token).count(SearchQuery(Patient)) == 0
    async with store.sessions() as session, session.begin():  # twelve hours later
        await session.execute(
            update(FhirClientTokenRow).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(AuthenticationFailed) as refused:
        await store.client(token).count(SearchQuery(Patient))
    assert refused.value.status == 401
    default = await add_client(store.sessions, "ops-2", "system/*.read")
    assert default.startswith("cbf_")
    async with store.sessions() as session:
        latest = max((await session.execute(select(FhirClientTokenRow.expires_at))).scalars())
    assert timedelta(days=29) < latest - utcnow() <= timedelta(days=30)
    with pytest.raises(ValueError, match="at most 366 days"):
        await add_client(store.sessions, "forever", "system/*.read", ttl=timedelta(days=3650))


async def test_m1_the_services_signed_tokens_expire(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = types.SimpleNamespace(time=lambda: 1_000_000_000.0)  # issued in 2001
    monkeypatch.setattr(access_tokens, "time", clock)
    old = store.key.issue("carebot-service", "system/*.*", ttl_s=300)
    monkeypatch.undo()
    with pytest.raises(AuthenticationFailed) as refused:
        await store.client(old).count(SearchQuery(Patient))
    assert refused.value.status == 401
    fresh = store.key.issue("carebot-service", "system/*.*")
    assert await store.client(fresh).count(SearchQuery(Patient)) == 0
    with pytest.raises(ValueError):
        store.key.issue("carebot-service", "system/*.*", ttl_s=30 * 86400)


def test_m1_clients_add_takes_a_ttl(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAREBOT_DATABASE_URL", sqlite_url)
    assert (
        carebot(["fhir", "clients", "add", "g", "--scopes", "system/*.read", "--ttl", "90m"]) == 0
    )
    assert capsys.readouterr().out.startswith("cbf_")
    with pytest.raises(SystemExit) as bad:
        carebot(["fhir", "clients", "add", "h", "--scopes", "system/*.read", "--ttl", "soon"])
    assert bad.value.code == 2
    engine = create_engine(sqlite_url)

    async def expiry() -> timedelta:
        async with create_sessionmaker(engine)() as session:
            (expires,) = (await session.execute(select(FhirClientTokenRow.expires_at))).one()
        await engine.dispose()
        return expires - utcnow()

    assert timedelta(minutes=89) < asyncio.run(expiry()) <= timedelta(minutes=90)


# ---- M4: scopes are checked at registration --------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "patient", "message"),
    [
        ("patient/*.*", None, "patient/ scopes need a patient (--patient ID)"),
        ("patient/Observation.read system/Device.read", None, "patient/ scopes need a patient"),
        ("user/*.*", None, "user/ scopes need a user"),
        ("system/*.read", "demo-patient-alice", "a patient binds patient/ scopes only"),
        ("patient/*.everything", "demo-patient-alice", "not a SMART resource scope"),
        ("openid launch/patient", None, "not a SMART resource scope"),
        ("", None, "no scopes given"),
    ],
)
def test_m4_clients_add_refuses_unfit_scopes_with_exit_status_2(
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    scopes: str,
    patient: str | None,
    message: str,
) -> None:
    monkeypatch.setenv("CAREBOT_DATABASE_URL", sqlite_url)
    argv = ["fhir", "clients", "add", "wide", "--scopes", scopes]
    argv += ["--patient", patient] if patient else []
    assert carebot(argv) == 2
    out = capsys.readouterr()
    assert out.out == ""  # no token
    assert message in out.err


async def test_m4_no_registration_or_signed_token_reaches_every_patient(store: Store) -> None:
    for scopes in ("patient/*.*", "user/*.*"):
        with pytest.raises(ScopeError):
            await add_client(store.sessions, "wide", scopes)
        with pytest.raises(ScopeError):
            await ensure_client(store.sessions, "wide", scopes)
        with pytest.raises(ScopeError):
            store.key.issue("wide", scopes)
    assert await list_clients(store.sessions) == []
    bound = await add_client(store.sessions, "alice", "patient/*.read", "demo-patient-alice")
    assert bound.startswith("cbf_")
