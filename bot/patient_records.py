"""Dialog services over FHIR, each call made with a client bound to the patient concerned."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dialogs.evidence import TriageRecord
from dialogs.fhir_evidence import FhirTriageRecorder, FhirVitalsSource
from dialogs.triage.models import VitalReading
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


class PatientRecorder:
    """`TriageRecorder` for the patient's record."""

    def __init__(self, fhir: FhirAccess) -> None:
        self._fhir = fhir

    async def record_triage(self, record: TriageRecord) -> None:
        """Store the interview and outcome (one transaction: the service's own client, as
        patient tokens may not post bundles; the resources are the patient's own)."""
        await FhirTriageRecorder(self._fhir.system()).record_triage(record)
