"""A booking world on the real embedded store (SQLite): the demo record, the visit service
with `.eml` mail in a temporary var/, and conversations wired as the service wires them."""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import DialogServices, build_runner
from bot.demo_clinical import record_bundle
from bot.settings import Settings
from bot.visits_wiring import open_visit_backends, visit_service
from dialogs.base import Person
from dialogs.triage.advice import EmergencyNumbers
from dialogs.triage.knowledge_base import load_knowledge
from integrations.fhir.access import FhirAccess, FhirConfig, standalone_access
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate
from integrations.visits.service import VisitService
from tests.scheduling.conftest import MONDAY, Clock
from tests.triage.driver import (
    Conversation,
    FakeRecorder,
    FakeVitalsSource,
    RememberedLanguages,
)

SECRET = "test-secret-" + "v" * 40
ALICE = Person("acct-alice", "Alice Martin", fhir_reference="Patient/demo-patient-alice")
BRUNO = Person("acct-bruno", "Bruno Lefèvre", fhir_reference="Patient/demo-patient-bruno",
               language="fr")  # fmt: skip
PARIS = ZoneInfo("Europe/Paris")


@dataclass
class World:
    """The store, the clock, the visit service and its mail folder."""

    access: FhirAccess
    clock: Clock
    visits: VisitService
    mail_dir: Path
    zone: ZoneInfo = PARIS
    routine_hours: int = 14 * 24
    database_url: str = ""

    def chat(self, person: Person) -> Conversation:
        """A new conversation (a new runner: what a restarted process builds)."""
        _, runner = build_runner(
            DialogServices(
                vitals=FakeVitalsSource(), recorder=FakeRecorder(),
                languages=RememberedLanguages(), knowledge=load_knowledge(),
                emergency=EmergencyNumbers(), zone=self.zone, clock=self.clock,
                visits=self.visits, routine_hours=self.routine_hours,
            )
        )  # fmt: skip
        return Conversation(person, runner)

    def mails(self) -> list[EmailMessage]:
        """The mails written so far, oldest first."""
        found = []
        for path in sorted(self.mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
            mime = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(mime, EmailMessage)
            found.append(mime)
        return found

    async def get(self, path: str, **params: str) -> dict[str, object]:
        """A system read of the store (to check what the dialogs wrote)."""
        _, data = await self.access.system().request_json("GET", path, params=list(params.items()))
        assert data is not None
        return data


@asynccontextmanager
async def open_world(
    folder: Path, start: datetime = MONDAY, zone: ZoneInfo = PARIS, **settings_: object
) -> AsyncIterator[World]:
    """A world in FOLDER whose clock starts at START (the demo seeded then), patients'
    times told in ZONE."""
    url = f"sqlite+aiosqlite:///{folder / 'carebot.db'}"
    await migrate(url)
    engine = create_engine(url)
    clock = Clock(start)
    settings = Settings(
        var_dir=folder / "var", timezone=zone.key, mail_from="clinic@example.org", **settings_
    )  # type: ignore[arg-type]
    try:
        async with standalone_access(FhirConfig(secret_key=SECRET),
                                     create_sessionmaker(engine)) as access:  # fmt: skip
            await access.system().post_bundle_json(record_bundle(start))
            async with open_visit_backends(settings, access, clock) as backends:
                service = visit_service(settings, access, backends, clock=clock)
                yield World(access, clock, service, folder / "var" / "mail", zone,
                            database_url=url)  # fmt: skip
    finally:
        await engine.dispose()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(tmp_path) as opened:
        yield opened


def entries(bundle: dict[str, object]) -> list[dict[str, object]]:
    """The resources of a searchset."""
    raw = bundle.get("entry") or []
    assert isinstance(raw, list)
    return [e["resource"] for e in raw]
