"""The FHIR access seam: one backend choice, the embedded store in process, one audit per read."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.patient import Patient

from bot.demo_clinical import record_bundle
from gateway.simulated_gateway import demo_history_bundle
from integrations.fhir import AuthenticationFailed, BearerAuth, FhirClient, SearchQuery
from integrations.fhir.access import FhirConfig, FhirService, standalone_access
from integrations.fhir.backend import FhirBackend, get_default_backend
from integrations.fhir_store.audit import ACCOUNT_SYSTEM
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate
from tests.bot.directline_client import DirectLineTestClient, browser_session
from tests.bot.service import DEMO_PASSWORD, running_app, service_settings

SECRET = "test-secret-" + "x" * 40
ALICE = "Patient/demo-patient-alice"


@contextmanager
def tcp_connects() -> Iterator[list[Any]]:
    """Every TCP connect made in this process meanwhile (asyncio's included: it calls
    `socket.connect` on a non-blocking socket)."""
    seen: list[Any] = []
    original = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            seen.append(address)
        original(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]


def test_the_backend_is_the_outside_server_only_when_one_is_configured() -> None:
    assert get_default_backend("") is FhirBackend.EMBEDDED
    assert get_default_backend("  ") is FhirBackend.EMBEDDED
    assert get_default_backend("https://fhir.example.org/r4") is FhirBackend.OUTSIDE


async def test_an_outside_server_gets_the_configured_token_and_nothing_is_mounted(
    sqlite_url: str,
) -> None:
    config = FhirConfig("https://fhir.example.org/r4", "outside-token", SECRET)
    service = FhirService(config, create_sessionmaker(create_engine(sqlite_url)))
    app = web.Application()
    service.mount(app)
    assert service.store_app is None and not list(app.router.resources())  # no /fhir here
    access = service.open()
    try:
        assert access.backend is FhirBackend.OUTSIDE
        assert access.base_url == "https://fhir.example.org/r4"
        assert access.system_token() == "outside-token"
        request = httpx.Request("GET", "https://fhir.example.org/r4/Patient")
        flow = access.for_patient("Patient/1", person="a1").auth
        assert flow is not None
        assert next(flow.auth_flow(request)).headers["Authorization"] == "Bearer outside-token"
    finally:
        await access.aclose()


async def test_in_process_access_reaches_the_store_with_its_authentication(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'carebot.db'}"
    await migrate(url)
    engine = create_engine(url)
    config = FhirConfig(secret_key=SECRET, public_url="https://care.example.org")
    try:
        with tcp_connects() as connects:
            async with standalone_access(config, create_sessionmaker(engine)) as access:
                assert access.backend is FhirBackend.EMBEDDED
                system = access.system()
                await system.post_bundle_json(record_bundle(datetime.now(UTC)))
                alice = access.for_patient(ALICE, person="account-alice")
                patient = await alice.read(Patient, "demo-patient-alice")
                assert patient.name and patient.name[0].family == "Martin"
                with pytest.raises(Exception) as denied:
                    await alice.read(Patient, "demo-patient-bruno")
                assert getattr(denied.value, "status", None) in (403, 404)
                # Without a token the in-process request is refused like a network one.
                bare = FhirClient(access.base_url, http=access.http, max_attempts=1)
                with pytest.raises(AuthenticationFailed) as refused:
                    await bare.count(SearchQuery(Patient))
                assert refused.value.status == 401
                assert refused.value.outcome is not None  # an OperationOutcome, as on the wire
        assert connects == []
    finally:
        await engine.dispose()


async def test_a_forged_or_foreign_token_is_refused_in_process(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'carebot.db'}"
    await migrate(url)
    engine = create_engine(url)
    try:
        mine = FhirConfig(secret_key=SECRET)
        other = FhirConfig(secret_key="another-secret-" + "y" * 40)
        async with (
            standalone_access(mine, create_sessionmaker(engine)) as access,
            standalone_access(other, create_sessionmaker(engine)) as foreign,
        ):
            # A token signed under another service's secret is not this store's.
            stolen = FhirClient(
                access.base_url, http=access.http, auth=BearerAuth(foreign.system_token())
            )
            with pytest.raises(AuthenticationFailed):
                await stolen.count(SearchQuery(Patient))
            assert await access.system().count(SearchQuery(Patient)) == 0
    finally:
        await engine.dispose()


async def _seed_alice(services: Any) -> None:
    system = services.fhir.system()
    now = datetime.now(UTC)
    await system.post_bundle_json(record_bundle(now))
    await system.post_bundle_json(demo_history_bundle("demo-patient-alice", now, days=0.05))


async def test_a_first_triage_turn_opens_no_tcp_connection_and_leaves_one_audit_naming_the_person(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_app(service_settings(tmp_path, sqlite_url)) as (base, services):
        await _seed_alice(services)
        account = await services.accounts.by_username("alice")
        assert account is not None
        system = services.fhir.system()
        async with browser_session() as http:
            chat = DirectLineTestClient(http, base)
            await chat.sign_in("alice", DEMO_PASSWORD)
            await chat.start()
            await chat.say("help")  # the test's own connection to the service is now open
            before = {e.id for e in await system.search_all(SearchQuery(AuditEvent))}
            with tcp_connects() as connects:
                await chat.say("check symptoms")
            texts = await chat.bot_texts()
            # The counter counts: a new session to the service is one connect.
            with tcp_connects() as control:
                async with httpx.AsyncClient() as fresh:
                    await fresh.get(f"{base}/healthz")
        assert len(control) == 1
        assert connects == [], "the bot reached its embedded store over TCP"
        assert texts, "the triage dialog answered"
        events = [e for e in await system.search_all(SearchQuery(AuditEvent)) if e.id not in before]
        # The turn reads the patient's record (birth date and sex, pregnancy status, then the
        # vitals with their Devices): each read leaves its AuditEvent naming the person.
        assert len(events) == 3, [e.agent[0].who for e in events]
        for event in events:
            person = event.agent[0]
            assert person.requestor is True
            assert person.who is not None and person.who.identifier is not None
            assert (person.who.identifier.system, person.who.identifier.value) == (
                ACCOUNT_SYSTEM,
                account.id,
            )
            assert ALICE in {e.what.reference for e in event.entity or [] if e.what}
