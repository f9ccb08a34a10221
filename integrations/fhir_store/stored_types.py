"""The resource types the store keeps (pure): one list, read by the parameter generator
(definitions.py) and the parameter table (params.py)."""

from __future__ import annotations

STORED_TYPE_NAMES: tuple[str, ...] = (
    "AllergyIntolerance",
    "Appointment",
    "AppointmentResponse",
    "AuditEvent",
    "CarePlan",
    "CareTeam",
    "Claim",
    "Communication",
    "Condition",
    "Consent",
    "Coverage",
    "Device",
    "DiagnosticReport",
    "DocumentReference",
    "Encounter",
    "ExplanationOfBenefit",
    "Flag",
    "Goal",
    "HealthcareService",
    "ImagingStudy",
    "Immunization",
    "Location",
    "MedicationRequest",
    "Observation",
    "Organization",
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "Provenance",
    "Questionnaire",
    "QuestionnaireResponse",
    "RiskAssessment",
    "Schedule",
    "ServiceRequest",
    "Slot",
    "Subscription",
    "Task",
)

# Types outside every patient's compartment (R4 CompartmentDefinition Patient lists no
# parameter for them) that hold no patient's data: any caller whose scopes name the type
# reads them, whatever patient or staff member the token is bound to. Subscription is not
# among them: its criteria may name a patient, so only callers bound to no person read it.
SHARED_TYPES: frozenset[str] = frozenset(
    {
        "HealthcareService",
        "Location",
        "Organization",
        "Practitioner",
        "PractitionerRole",
        "Questionnaire",
    }
)
