"""A staff-pages world on the running service: the demo record, hours of device vitals, a
triage the bot recorded and booked visits, all written through the real store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.demo import seed_clinical_record
from bot.services import Services
from dialogs.evidence import InterviewItem, TriageRecord
from dialogs.fhir_evidence import FhirTriageRecorder
from dialogs.triage.models import Level, Reason, TriageResult
from integrations.accounts import Role
from integrations.codes import CAREBOT_BASE_URL
from integrations.scheduling.fhir_scheduler import MEETING_EXTENSION
from integrations.visits.consent import Signature, consent_text
from tests.bot.service import DEMO_PASSWORD

ALICE = "Patient/demo-patient-alice"
DAVID = "Patient/demo-patient-david"
CHEN = "Practitioner/demo-practitioner-chen"
HADDAD = "Practitioner/demo-practitioner-haddad"
ADMIN_USER = "audra"


@dataclass(frozen=True)
class StaffWorld:
    """The ids the tests open: Alice's visit with Dr Chen, David's with Dr Haddad."""

    alice_visit: str
    david_visit: str
    day: str  # the visits' day (UTC service), YYYY-MM-DD


def appointment(patient: str, practitioner: str, name: str, start: datetime) -> dict[str, Any]:
    """A booked virtual visit as the FHIR scheduler writes it, with a Jitsi room."""
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "extension": [{"url": MEETING_EXTENSION, "valueString": f"carebot-test-{patient[-5:]}"}],
        "identifier": [{"system": f"{CAREBOT_BASE_URL}/appointment", "value": f"t-{patient}"}],
        "start": start.isoformat().replace("+00:00", "Z"),
        "end": (start + timedelta(minutes=20)).isoformat().replace("+00:00", "Z"),
        "participant": [
            {"actor": {"reference": patient}, "status": "accepted"},
            {"actor": {"reference": practitioner, "display": name}, "status": "accepted"},
        ],
    }


async def seed_staff_world(services: Services, now: datetime | None = None) -> StaffWorld:
    """The demo record with six hours of vitals, Alice's triage, two visits and an admin."""
    now = now or datetime.now(UTC)
    system = services.fhir.system()
    await seed_clinical_record(system, now, days=0.25)
    record = TriageRecord(
        key="staff-test/1",
        patient=ALICE,
        language="en",
        items=(
            InterviewItem("complaint", "What is bothering you?", "a cough and a fever"),
            InterviewItem("breathless", "Are you short of breath?", "no", answer_yes=False),
        ),
        result=TriageResult(
            Level.CONSULTATION_24,
            (Reason("fever", Level.CONSULTATION_24, "fever for three days"),),
            (),
        ),
        time=now - timedelta(hours=2),
    )
    await FhirTriageRecorder(system).record_triage(record)
    # the visits sit at noon UTC of today, so `?day=` names them whatever the hour
    start = now.replace(hour=12, minute=0, second=0, microsecond=0)
    ids = []
    for patient, practitioner, name in (
        (ALICE, CHEN, "Dr Sarah Chen"),
        (DAVID, HADDAD, "Dr Karim Haddad"),
    ):
        _, created = await system.request_json(
            "POST", "Appointment", body=appointment(patient, practitioner, name, start),
            headers={"Prefer": "return=representation"}, idempotent=False,
        )  # fmt: skip
        ids.append(str((created or {})["id"]))
    await services.accounts.create(
        username=ADMIN_USER, password=DEMO_PASSWORD, role=Role.ADMIN, display_name="Audra Admin",
        language="en",
    )  # fmt: skip
    return StaffWorld(ids[0], ids[1], start.date().isoformat())


async def sign_consent(services: Services, patient: str) -> str:
    """The patient's active virtual-visit Consent, signed as the intake dialog signs it."""
    return await services.visits.consents.sign(
        Signature(
            patient=patient,
            person=None,
            signer_name="Alice Martin",
            text=consent_text("en"),
            language="en",
            channel="webchat",
            when=datetime.now(UTC),
        )
    )
