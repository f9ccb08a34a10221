"""Against the real embedded FHIR store (SQLite): device vitals in, records and audit out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from aiohttp import web
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.riskassessment import RiskAssessment
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialogs.evidence import InterviewItem, TriageRecord
from dialogs.fhir_evidence import FhirTriageRecorder, FhirVitalsSource
from dialogs.triage import Level, VitalKind, assess
from dialogs.triage.codes import TRIAGE_LEVEL_SYSTEM
from integrations.fhir import BearerAuth, FhirClient, SearchQuery
from integrations.fhir_store import create_fhir_app, ensure_client
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate

NOW = datetime.now(UTC).replace(microsecond=0)


def _spo2(patient: str, value: float, when: datetime) -> Observation:
    return Observation.model_validate(
        {
            "resourceType": "Observation",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "vital-signs",
                        }
                    ]
                }
            ],
            "code": {
                "coding": [
                    {"system": "http://loinc.org", "code": "2708-6"},
                    {"system": "http://loinc.org", "code": "59408-5"},
                ]
            },
            "subject": {"reference": patient},
            "effectiveDateTime": when.isoformat(),
            "device": {"display": "Nonin 3230"},
            "valueQuantity": {
                "value": value,
                "unit": "%",
                "system": "http://unitsofmeasure.org",
                "code": "%",
            },
        }
    )


@asynccontextmanager
async def embedded_store(
    tmp_path: Path,
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], str, httpx.AsyncClient, FhirClient]]:
    """The embedded store on a local port: its sessions, base URL, an HTTP client and a
    system client."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'carebot.db'}"
    await migrate(url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    root = web.Application()
    root.add_subapp("/fhir", create_fhir_app(sessions))
    runner = web.AppRunner(root)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}/fhir"
    try:
        system_token = await ensure_client(sessions, "svc", "system/*.*")
        async with httpx.AsyncClient(timeout=30) as http:
            yield (
                sessions,
                base,
                http,
                FhirClient(base, http=http, auth=BearerAuth(system_token), backoff_s=0.01),
            )
    finally:
        await runner.cleanup()
        await engine.dispose()


async def test_vitals_and_records_through_the_embedded_store(tmp_path: Path) -> None:
    async with embedded_store(tmp_path) as (sessions, base, http, system):
        patient = await system.create(Patient.model_validate({"resourceType": "Patient"}))
        ref = f"Patient/{patient.id}"
        await system.create(_spo2(ref, 97, NOW - timedelta(days=2)))
        await system.create(_spo2(ref, 86, NOW - timedelta(hours=1)))
        token = await ensure_client(sessions, "p", "patient/*.*", ref)
        own = FhirClient(base, http=http, auth=BearerAuth(token), backoff_s=0.01)

        readings = await FhirVitalsSource(own).readings(ref, NOW - timedelta(hours=24))
        assert [(r.kind, r.value, r.source) for r in readings] == [
            (VitalKind.SPO2, 86.0, "Nonin 3230")
        ]
        result = assess("a bit breathless", device_vitals=readings)
        assert result.level is Level.EMERGENCY_AMBULANCE

        record = TriageRecord(
            key="conv-9/1",
            patient=ref,
            language="en",
            items=(InterviewItem("complaint", "What is the problem?", "a bit breathless"),),
            result=result,
            time=NOW,
        )
        recorder = FhirTriageRecorder(system)
        await recorder.record_triage(record)
        await recorder.record_triage(record)  # a retry changes nothing
        outcomes = await system.search_all(SearchQuery(RiskAssessment).where(subject=ref))
        assert len(outcomes) == 1
        level = outcomes[0].prediction[0].outcome.coding[0]  # type: ignore[index,union-attr]
        assert (level.system, level.code) == (TRIAGE_LEVEL_SYSTEM, "emergency_ambulance")
        answers = await system.search_all(SearchQuery(QuestionnaireResponse).where(subject=ref))
        assert len(answers) == 1


async def test_record_facts_and_a_relatives_consultation_through_the_embedded_store(
    tmp_path: Path,
) -> None:
    from dialogs.fhir_evidence import FhirPatientFacts
    from dialogs.subject import read_relative
    from dialogs.triage import Sex
    from dialogs.triage.normalise import normalise

    async with embedded_store(tmp_path) as (sessions, base, http, system):
        patient = await system.create(
            Patient.model_validate(
                {"resourceType": "Patient", "birthDate": "1990-06-01", "gender": "female"}
            )
        )
        ref = f"Patient/{patient.id}"
        pregnancy = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "82810-3"}]},
            "subject": {"reference": ref},
            "effectiveDateTime": NOW.isoformat(),
            "valueCodeableConcept": {
                "coding": [{"system": "http://loinc.org", "code": "LA15173-0"}]
            },
        }
        await system.create(Observation.model_validate(pregnancy))
        token = await ensure_client(sessions, "p", "patient/*.*", ref)
        own = FhirClient(base, http=http, auth=BearerAuth(token), backoff_s=0.01)
        facts = await FhirPatientFacts(own, NOW.date()).facts(ref)
        assert (facts.sex, facts.pregnant) == (Sex.FEMALE, True)
        assert facts.age_years is not None and 30 < facts.age_years < 40

        story = "my son is 6 and has a fever and a rash"
        record = TriageRecord(
            key="conv-10/1",
            patient=ref,
            language="en",
            items=(InterviewItem("complaint", "What is the problem?", story),),
            result=assess(story),
            time=NOW,
            relative=read_relative(normalise(story)),
        )
        await FhirTriageRecorder(system).record_triage(record)
        assert await system.count(SearchQuery(RiskAssessment).where(subject=ref)) == 0
        (response,) = await system.search_all(SearchQuery(QuestionnaireResponse).where(author=ref))
        assert response.subject is not None and response.subject.reference == "#relative"
        assert response.contained is not None
        assert response.contained[0].get_resource_type() == "RelatedPerson"
