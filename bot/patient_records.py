"""Dialog services over FHIR, each call made with a client bound to the patient concerned."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.fhir_access import FhirAccess
from dialogs.evidence import TriageRecord
from dialogs.fhir_evidence import FhirTriageRecorder, FhirVitalsSource
from dialogs.triage.models import VitalReading


class PatientVitals:
    """`VitalsSource` reading with the patient's own FHIR client."""

    def __init__(self, fhir: FhirAccess) -> None:
        self._fhir = fhir

    async def readings(self, patient: str, since: datetime) -> Sequence[VitalReading]:
        """The patient's readings since SINCE, newest first."""
        client = await self._fhir.for_patient(patient)
        return await FhirVitalsSource(client).readings(patient, since)


class PatientRecorder:
    """`TriageRecorder` for the patient's record."""

    def __init__(self, fhir: FhirAccess) -> None:
        self._fhir = fhir

    async def record_triage(self, record: TriageRecord) -> None:
        """Store the interview and outcome (one transaction: the service's own client, as
        patient tokens may not post bundles; the resources are the patient's own)."""
        client = await self._fhir.system()
        await FhirTriageRecorder(client).record_triage(record)

    async def record_vitals_read(self, reader: str, patient: str, count: int) -> None:
        """Leave the AuditEvent of a vitals read."""
        client = await self._fhir.for_patient(patient)
        await FhirTriageRecorder(client).record_vitals_read(reader, patient, count)
