"""The resource types the store keeps and the search parameters of each (pure tables).

Paths are dotted JSON paths; lists are flattened on the way. Reference parameters may name
the resource types they accept (`Appointment.patient` is a participant actor that is a
Patient). `patient` parameters also define the patient compartment used by scopes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ParamKind(StrEnum):
    """How a parameter's values are indexed and matched."""

    TOKEN = "token"
    REFERENCE = "reference"
    DATE = "date"


@dataclass(frozen=True)
class SearchParam:
    """One search parameter of one resource type."""

    name: str
    kind: ParamKind
    paths: tuple[str, ...]
    targets: tuple[str, ...] = ()
    # An alias has no index rows of its own: it searches the rows of these parameters
    # (`patient` is `subject` restricted to Patients; `combo-code` is code or component-code;
    # an Observation's `date` is on its every row, and its one `status` row answers for it).
    stored_as: tuple[str, ...] = ()

    @property
    def indexed_as(self) -> tuple[str, ...]:
        """The parameter names whose index rows this parameter searches."""
        return self.stored_as or (self.name,)


def _tok(name: str, *paths: str, stored_as: tuple[str, ...] = ()) -> SearchParam:
    return SearchParam(name, ParamKind.TOKEN, paths, stored_as=stored_as)


def _ref(
    name: str, *paths: str, targets: tuple[str, ...] = (), stored_as: tuple[str, ...] = ()
) -> SearchParam:
    return SearchParam(name, ParamKind.REFERENCE, paths, targets, stored_as)


def _date(name: str, *paths: str, stored_as: tuple[str, ...] = ()) -> SearchParam:
    return SearchParam(name, ParamKind.DATE, paths, stored_as=stored_as)


def _subject_params() -> list[SearchParam]:
    patient = _ref("patient", "subject", targets=("Patient",), stored_as=("subject",))
    return [patient, _ref("subject", "subject")]


_IDENTIFIER = _tok("identifier", "identifier")
_STATUS = _tok("status", "status")
_CATEGORY = _tok("category", "category")

_TABLE: dict[str, list[SearchParam]] = {
    "Patient": [
        _IDENTIFIER,
        _tok("gender", "gender"),
        _date("birthdate", "birthDate"),
        _tok("active", "active"),
        _ref("general-practitioner", "generalPractitioner"),
        _ref("organization", "managingOrganization"),
    ],
    "Practitioner": [_IDENTIFIER, _tok("active", "active")],
    "PractitionerRole": [
        _IDENTIFIER,
        _tok("active", "active"),
        _ref("practitioner", "practitioner"),
        _ref("organization", "organization"),
        _tok("role", "code"),
        _tok("specialty", "specialty"),
    ],
    "Organization": [_IDENTIFIER, _tok("active", "active"), _tok("type", "type")],
    "Location": [_IDENTIFIER, _STATUS, _ref("organization", "managingOrganization")],
    "CareTeam": [
        _IDENTIFIER,
        *_subject_params(),
        _STATUS,
        _CATEGORY,
        _ref("participant", "participant.member"),
        _date("date", "period"),
    ],
    "Device": [
        _IDENTIFIER,
        _ref("patient", "patient", targets=("Patient",)),
        _STATUS,
        _tok("type", "type"),
    ],
    "Observation": [
        _IDENTIFIER,
        *_subject_params(),
        _STATUS,
        _CATEGORY,
        _tok("code", "code"),
        _tok("combo-code", "code", "component.code", stored_as=("code", "component-code")),
        _tok("component-code", "component.code"),
        _date(
            "date",
            "effectiveDateTime",
            "effectivePeriod",
            "effectiveInstant",
            stored_as=("status",),  # status is 1..1: one row per Observation, dated (DATED_BY)
        ),
        _ref("encounter", "encounter"),
        _ref("device", "device"),
        _ref("performer", "performer"),
        _ref("derived-from", "derivedFrom"),
        _ref("has-member", "hasMember"),
    ],
    "QuestionnaireResponse": [
        _IDENTIFIER,
        *_subject_params(),
        _STATUS,
        _date("authored", "authored"),
        _ref("author", "author"),
        _ref("encounter", "encounter"),
    ],
    "Schedule": [
        _IDENTIFIER,
        _tok("active", "active"),
        _ref("actor", "actor"),
        _date("date", "planningHorizon"),
        _tok("service-type", "serviceType"),
    ],
    "Slot": [
        _IDENTIFIER,
        _STATUS,
        _ref("schedule", "schedule"),
        _date("start", "start"),
        _tok("service-type", "serviceType"),
    ],
    "Appointment": [
        _IDENTIFIER,
        _STATUS,
        _ref("patient", "participant.actor", targets=("Patient",)),
        _ref("practitioner", "participant.actor", targets=("Practitioner",)),
        _ref("actor", "participant.actor"),
        _date("date", "start"),
        _ref("slot", "slot"),
        _tok("service-type", "serviceType"),
    ],
    "AppointmentResponse": [
        _IDENTIFIER,
        _ref("appointment", "appointment"),
        _ref("patient", "actor", targets=("Patient",)),
        _ref("actor", "actor"),
        _tok("part-status", "participantStatus"),
    ],
    "Consent": [
        _IDENTIFIER,
        _ref("patient", "patient", targets=("Patient",)),
        _STATUS,
        _CATEGORY,
        _date("date", "dateTime"),
        _ref("actor", "provision.actor.reference"),
        _tok("scope", "scope"),
    ],
    "Provenance": [
        _ref("patient", "target", targets=("Patient",)),
        _ref("target", "target"),
        _ref("agent", "agent.who"),
        _date("recorded", "recorded"),
    ],
    "Coverage": [
        _IDENTIFIER,
        _ref("patient", "beneficiary", targets=("Patient",)),
        _ref("beneficiary", "beneficiary"),
        _STATUS,
        _tok("type", "type"),
    ],
    "CarePlan": [
        _IDENTIFIER,
        *_subject_params(),
        _STATUS,
        _CATEGORY,
        _tok("intent", "intent"),
        _date("date", "period"),
        _ref("care-team", "careTeam"),
    ],
    "DocumentReference": [
        _tok("identifier", "masterIdentifier", "identifier"),
        *_subject_params(),
        _STATUS,
        _CATEGORY,
        _tok("type", "type"),
        _date("date", "date"),
        _ref("author", "author"),
    ],
    "Communication": [
        _IDENTIFIER,
        *_subject_params(),
        _STATUS,
        _CATEGORY,
        _date("sent", "sent"),
        _ref("recipient", "recipient"),
        _ref("sender", "sender"),
        _ref("based-on", "basedOn"),
    ],
    "Task": [
        _IDENTIFIER,
        _ref("patient", "for", targets=("Patient",), stored_as=("subject",)),
        _ref("subject", "for"),
        _STATUS,
        _tok("code", "code"),
        _tok("intent", "intent"),
        _ref("focus", "focus"),
        _ref("owner", "owner"),
    ],
    "RiskAssessment": [
        _IDENTIFIER,
        *_subject_params(),
        _STATUS,
        _date("date", "occurrenceDateTime", "occurrencePeriod"),
        _tok("method", "method"),
        _ref("performer", "performer"),
    ],
    "Flag": [
        _IDENTIFIER,
        *_subject_params(),
        _STATUS,
        _CATEGORY,
        _date("date", "period"),
        _ref("author", "author"),
    ],
    "AuditEvent": [
        _ref("patient", "entity.what", "agent.who", targets=("Patient",)),
        _ref("agent", "agent.who"),
        _ref("entity", "entity.what"),
        _date("date", "recorded"),
        _tok("type", "type"),
        _tok("subtype", "subtype"),
        _tok("action", "action"),
        _tok("outcome", "outcome"),
    ],
    "Encounter": [
        _IDENTIFIER,
        *_subject_params(),
        _STATUS,
        _tok("class", "class"),
        _tok("type", "type"),
        _date("date", "period"),
        _ref("practitioner", "participant.individual", targets=("Practitioner",)),
        _ref("participant", "participant.individual"),
        _ref("service-provider", "serviceProvider"),
    ],
    "Condition": [
        _IDENTIFIER,
        *_subject_params(),
        _tok("code", "code"),
        _CATEGORY,
        _tok("clinical-status", "clinicalStatus"),
        _tok("verification-status", "verificationStatus"),
        _date("onset-date", "onsetDateTime", "onsetPeriod"),
        _ref("encounter", "encounter"),
    ],
    "Procedure": [
        _IDENTIFIER,
        *_subject_params(),
        _tok("code", "code"),
        _STATUS,
        _date("date", "performedDateTime", "performedPeriod"),
        _ref("encounter", "encounter"),
    ],
    "Immunization": [
        _IDENTIFIER,
        _ref("patient", "patient", targets=("Patient",)),
        _STATUS,
        _tok("vaccine-code", "vaccineCode"),
        _date("date", "occurrenceDateTime"),
    ],
    "MedicationRequest": [
        _IDENTIFIER,
        *_subject_params(),
        _STATUS,
        _tok("intent", "intent"),
        _tok("code", "medicationCodeableConcept"),
        _date("authoredon", "authoredOn"),
        _ref("requester", "requester"),
        _ref("encounter", "encounter"),
    ],
    "DiagnosticReport": [
        _IDENTIFIER,
        *_subject_params(),
        _STATUS,
        _CATEGORY,
        _tok("code", "code"),
        _date("date", "effectiveDateTime", "effectivePeriod"),
        _ref("result", "result"),
        _ref("encounter", "encounter"),
    ],
    "Claim": [
        _IDENTIFIER,
        _ref("patient", "patient", targets=("Patient",)),
        _STATUS,
        _date("created", "created"),
        _ref("provider", "provider"),
    ],
    "ExplanationOfBenefit": [
        _IDENTIFIER,
        _ref("patient", "patient", targets=("Patient",)),
        _STATUS,
        _date("created", "created"),
        _ref("provider", "provider"),
    ],
    "Goal": [
        _IDENTIFIER,
        *_subject_params(),
        _tok("lifecycle-status", "lifecycleStatus"),
        _CATEGORY,
    ],
    "ImagingStudy": [_IDENTIFIER, *_subject_params(), _STATUS, _date("started", "started")],
    # R4 Subscription's own parameters; `url`, `criteria` and `payload` match exactly here
    "Subscription": [
        _STATUS,
        _tok("url", "channel.endpoint"),
        _tok("type", "channel.type"),
        _tok("criteria", "criteria"),
        _tok("payload", "channel.payload"),
    ],
    "AllergyIntolerance": [
        _IDENTIFIER,
        _ref("patient", "patient", targets=("Patient",)),
        _tok("clinical-status", "clinicalStatus"),
        _tok("code", "code"),
        _CATEGORY,
    ],
}

STORED_TYPES: frozenset[str] = frozenset(_TABLE)
SEARCH_PARAMS: dict[str, dict[str, SearchParam]] = {
    rtype: {param.name: param for param in params} for rtype, params in _TABLE.items()
}
# The reference parameters of each type that have index rows of their own.
REFERENCE_PARAMS: dict[str, frozenset[str]] = {
    rtype: frozenset(
        p.name for p in params.values() if p.kind is ParamKind.REFERENCE and not p.stored_as
    )
    for rtype, params in SEARCH_PARAMS.items()
}
# Parameters every type answers from the resource table itself.
COMMON_PARAMS: frozenset[str] = frozenset({"_id", "_lastUpdated"})
# Result parameters: they shape the answer rather than filter it.
RESULT_PARAMS: frozenset[str] = frozenset(
    {
        "_count",
        "_sort",
        "_include",
        "_summary",
        "_total",
        "_format",
        "_elements",
        "_getpagesoffset",
        "_revinclude",
    }
)


# Types whose every index row also carries the resource's own date (the low/high of this
# date parameter), so one patient's rows sit in time order and `code` rows answer "latest".
# The parameter itself has no rows of its own (it is an alias of a row every one has).
DATED_BY: dict[str, str] = {"Observation": "date"}


def patient_param(resource_type: str) -> SearchParam | None:
    """The parameter that places a resource in a patient's compartment, if any."""
    return SEARCH_PARAMS.get(resource_type, {}).get("patient")
