"""Dialog services over FHIR, each call made with a client bound to the patient concerned."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from dialogs.evidence import TriageRecord
from dialogs.fhir_evidence import FhirPatientFacts, FhirTriageRecorder, FhirVitalsSource
from dialogs.triage.models import Patient, VitalReading
from integrations.fhir.access import FhirAccess


class PatientVitals:
    """`VitalsSource` reading with a client bound to the patient, acting for the reader."""

    def __init__(self, fhir: FhirAccess) -> None:
        self._fhir = fhir

    async def readings(
        self, patient: str, since: datetime, *, reader: str
    ) -> Sequence[VitalReading]:
        """The patient's readings since SINCE, newest first; the store audits the read once,
        naming READER's account."""
        client = self._fhir.for_patient(patient, person=reader)
        return await FhirVitalsSource(client).readings(patient, since)


class PatientFacts:
    """`PatientFactsSource` reading with a client bound to the patient, acting for the reader."""

    def __init__(
        self, fhir: FhirAccess, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._fhir = fhir
        self._clock = clock

    async def facts(self, patient: str, *, reader: str) -> Patient:
        """The patient's age, sex and recorded pregnancy; the store audits the reads, naming
        READER's account."""
        client = self._fhir.for_patient(patient, person=reader)
        return await FhirPatientFacts(client, self._clock().date()).facts(patient)


class PatientRecorder:
    """`TriageRecorder` for the patient's record."""

    def __init__(self, fhir: FhirAccess) -> None:
        self._fhir = fhir

    async def record_triage(self, record: TriageRecord) -> None:
        """Store the interview and outcome (one transaction: the service's own client, as
        patient tokens may not post bundles; the resources are the patient's own)."""
        await FhirTriageRecorder(self._fhir.system()).record_triage(record)
