"""Validation of resources on write: fhir.resources (R4B) plus required-strength codes.

fhir.resources checks structure, cardinality and primitive formats but not coded values
against their value sets; the required bindings of the types we store are checked here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from integrations.fhir_store.outcome import StoreError, invalid
from integrations.fhir_store.params import STORED_TYPES
from integrations.fhir_store.rules import rule_problems

MAX_DEPTH = 48
ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")

_OBS_STATUS = (
    "registered",
    "preliminary",
    "final",
    "amended",
    "corrected",
    "cancelled",
    "entered-in-error",
    "unknown",
)
_EVENT_STATUS = (
    "preparation",
    "in-progress",
    "not-done",
    "on-hold",
    "stopped",
    "completed",
    "entered-in-error",
    "unknown",
)
_FM_STATUS = ("active", "cancelled", "draft", "entered-in-error")

# Resource element path -> allowed codes (required bindings of R4 for the types we store).
_RESOURCE_CODES: dict[str, tuple[str, ...]] = {
    "Observation.status": _OBS_STATUS,
    "RiskAssessment.status": _OBS_STATUS,
    "Patient.gender": ("male", "female", "other", "unknown"),
    "Patient.contact.gender": ("male", "female", "other", "unknown"),
    "Practitioner.gender": ("male", "female", "other", "unknown"),
    "Patient.link.type": ("replaced-by", "replaces", "refer", "seealso"),
    "Appointment.status": (
        "proposed",
        "pending",
        "booked",
        "arrived",
        "fulfilled",
        "cancelled",
        "noshow",
        "entered-in-error",
        "checked-in",
        "waitlist",
    ),
    "Appointment.participant.required": ("required", "optional", "information-only"),
    "Appointment.participant.status": ("accepted", "declined", "tentative", "needs-action"),
    "AppointmentResponse.participantStatus": ("accepted", "declined", "tentative", "needs-action"),
    "Slot.status": ("busy", "free", "busy-unavailable", "busy-tentative", "entered-in-error"),
    "Consent.status": ("draft", "proposed", "active", "rejected", "inactive", "entered-in-error"),
    "Consent.provision.type": ("deny", "permit"),
    "Flag.status": ("active", "inactive", "entered-in-error"),
    "CarePlan.status": (
        "draft",
        "active",
        "on-hold",
        "revoked",
        "completed",
        "entered-in-error",
        "unknown",
    ),
    "CarePlan.intent": ("proposal", "plan", "order", "option"),
    "CareTeam.status": ("proposed", "active", "suspended", "inactive", "entered-in-error"),
    "Communication.status": _EVENT_STATUS,
    "Communication.priority": ("routine", "urgent", "asap", "stat"),
    "DocumentReference.status": ("current", "superseded", "entered-in-error"),
    "DocumentReference.docStatus": ("preliminary", "final", "amended", "entered-in-error"),
    "QuestionnaireResponse.status": (
        "in-progress",
        "completed",
        "amended",
        "entered-in-error",
        "stopped",
    ),
    "Device.status": ("active", "inactive", "entered-in-error", "unknown"),
    "Coverage.status": _FM_STATUS,
    "Encounter.status": (
        "planned",
        "arrived",
        "triaged",
        "in-progress",
        "onleave",
        "finished",
        "cancelled",
        "entered-in-error",
        "unknown",
    ),
    "Procedure.status": _EVENT_STATUS,
    "Immunization.status": ("completed", "entered-in-error", "not-done"),
    "MedicationRequest.status": (
        "active",
        "on-hold",
        "cancelled",
        "completed",
        "entered-in-error",
        "stopped",
        "draft",
        "unknown",
    ),
    "MedicationRequest.intent": (
        "proposal",
        "plan",
        "order",
        "original-order",
        "reflex-order",
        "filler-order",
        "instance-order",
        "option",
    ),
    "MedicationRequest.priority": ("routine", "urgent", "asap", "stat"),
    "DiagnosticReport.status": (
        "registered",
        "partial",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "appended",
        "cancelled",
        "entered-in-error",
        "unknown",
    ),
    "Claim.status": _FM_STATUS,
    "Claim.use": ("claim", "preauthorization", "predetermination"),
    "ExplanationOfBenefit.status": _FM_STATUS,
    "ExplanationOfBenefit.use": ("claim", "preauthorization", "predetermination"),
    "ExplanationOfBenefit.outcome": ("queued", "complete", "error", "partial"),
    "Goal.lifecycleStatus": (
        "proposed",
        "planned",
        "accepted",
        "active",
        "on-hold",
        "completed",
        "cancelled",
        "entered-in-error",
        "rejected",
    ),
    "ImagingStudy.status": ("registered", "available", "cancelled", "entered-in-error", "unknown"),
    "AllergyIntolerance.type": ("allergy", "intolerance"),
    "AllergyIntolerance.category": ("food", "medication", "environment", "biologic"),
    "AllergyIntolerance.criticality": ("low", "high", "unable-to-assess"),
    "AllergyIntolerance.reaction.severity": ("mild", "moderate", "severe"),
    "Location.status": ("active", "suspended", "inactive"),
    "Location.mode": ("instance", "kind"),
    "AuditEvent.action": ("C", "R", "U", "D", "E"),
    "AuditEvent.outcome": ("0", "4", "8", "12"),
    "Condition.clinicalStatus.coding.code": (
        "active",
        "recurrence",
        "relapse",
        "inactive",
        "remission",
        "resolved",
    ),
    "Condition.verificationStatus.coding.code": (
        "unconfirmed",
        "provisional",
        "differential",
        "confirmed",
        "refuted",
        "entered-in-error",
    ),
    "AllergyIntolerance.clinicalStatus.coding.code": ("active", "inactive", "resolved"),
    "AllergyIntolerance.verificationStatus.coding.code": (
        "unconfirmed",
        "confirmed",
        "refuted",
        "entered-in-error",
    ),
}

# Data type element -> allowed codes, keyed by the field names that always hold that type.
_DATATYPE_CODES: dict[str, dict[str, tuple[str, ...]]] = {
    "identifier": {"use": ("usual", "official", "temp", "secondary", "old")},
    "telecom": {
        "system": ("phone", "fax", "email", "pager", "url", "sms", "other"),
        "use": ("home", "work", "temp", "old", "mobile"),
    },
    "address": {
        "use": ("home", "work", "temp", "old", "billing"),
        "type": ("postal", "physical", "both"),
    },
}
_HUMAN_NAME_USE = ("usual", "official", "temp", "nickname", "anonymous", "old", "maiden")
_COMPARATORS = ("<", "<=", ">=", ">")
_NARRATIVE_STATUS = ("generated", "extensions", "additional", "empty")


def parse_json(body: bytes) -> Any:
    """JSON from a request body; malformed or too deeply nested input is a 400."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise invalid(f"malformed JSON: {str(error)[:200]}") from error
    check_depth(document)
    return document


def check_depth(document: Any) -> None:
    """Refuse documents nested deeper than any FHIR resource needs."""
    # level by level: no (node, depth) pair per node, and scalars cost one isinstance each
    level = [document]
    for _ in range(MAX_DEPTH):
        below: list[Any] = []
        for node in level:
            if isinstance(node, dict):
                below.extend(node.values())
            elif isinstance(node, list):
                below.extend(node)
        if not below:
            return
        level = below
    if any(isinstance(node, (dict, list)) and node for node in level):
        raise invalid(f"document nested deeper than {MAX_DEPTH} levels")


def _check_codes(node: Any, path: str, problems: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _check_codes(item, path, problems)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        child_path = f"{path}.{key}"
        allowed = _RESOURCE_CODES.get(child_path)
        values = value if isinstance(value, list) else [value]
        bare = key[1:]
        if key.startswith("_") and f"{path}.{bare}" in _RESOURCE_CODES and bare not in node:
            # a required code given only as extensions (no value) does not satisfy the binding
            problems.append(f"{path}.{key[1:]}: a code is required from the value set")
        if allowed is not None:
            for item in values:
                if isinstance(item, str) and item not in allowed:
                    problems.append(f"{child_path}: '{item}' is not in the required value set")
        rules = _DATATYPE_CODES.get(key)
        if key == "name" and path.split(".")[-1] in ("Patient", "Practitioner", "contact"):
            rules = {"use": _HUMAN_NAME_USE}
        for item in values:
            if rules and isinstance(item, dict):
                for field, codes in rules.items():
                    code = item.get(field)
                    if isinstance(code, str) and code not in codes:
                        problems.append(f"{child_path}.{field}: '{code}' is not a valid code")
            comparator = item.get("comparator") if isinstance(item, dict) else None
            if isinstance(comparator, str) and comparator not in _COMPARATORS:
                problems.append(f"{child_path}.comparator: invalid '{comparator}'")
        if key in ("contained", "resource") and path.count(".") == 0:
            continue  # contained resources are checked by fhir.resources only
        if isinstance(value, (dict, list)):
            _check_codes(value, child_path, problems)


def _check_empty(node: Any, path: str) -> None:
    # ele-1: every element has a value or children; JSON null is never allowed on the wire.
    if node is None:
        raise invalid(f"{path}: null is not allowed", path)
    if isinstance(node, dict):
        if not node:
            raise invalid(f"{path}: empty object (ele-1)", path)
        for key, value in node.items():
            _check_empty(value, f"{path}.{key}")
    elif isinstance(node, list):
        if not node:
            raise invalid(f"{path}: empty array", path)
        for index, value in enumerate(node):
            if value is None and not path.rsplit(".", 1)[-1].startswith("_"):
                raise invalid(f"{path}[{index}]: null is not allowed", path)
            if value is not None:
                _check_empty(value, f"{path}[{index}]")
    elif isinstance(node, str) and node.strip() == "" and not path.endswith(".div"):
        raise invalid(f"{path}: empty string", path)


def validate_resource(document: Any, expected_type: str | None = None) -> dict[str, Any]:
    """Check a resource for storage; returns it unchanged or raises a 400 StoreError."""
    if not isinstance(document, dict):
        raise invalid("the body is not a JSON object")
    resource_type = document.get("resourceType")
    if not isinstance(resource_type, str):
        raise invalid("resourceType is missing", "resourceType")
    if expected_type is not None and resource_type != expected_type:
        raise invalid(f"resourceType {resource_type} does not match the URL ({expected_type})")
    if resource_type not in STORED_TYPES:
        raise StoreError(404, f"resource type {resource_type} is not stored here", "not-supported")
    resource_id = document.get("id")
    if resource_id is not None and (
        not isinstance(resource_id, str) or not ID_PATTERN.match(resource_id)
    ):
        raise invalid(f"invalid id {resource_id!r}", "id")
    _check_empty(document, resource_type)
    try:
        get_fhir_model_class(resource_type).model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise invalid(
            f"{resource_type}.{where}: {first['msg']} ({error.error_count()} error(s))",
            f"{resource_type}.{where}",
        ) from error
    except (ValueError, TypeError, KeyError) as error:
        raise invalid(f"{resource_type}: {str(error)[:300]}") from error
    problems = rule_problems(document)
    _check_codes(document, resource_type, problems)
    text = document.get("text")
    if isinstance(text, dict) and text.get("status") not in _NARRATIVE_STATUS:
        problems.append(f"{resource_type}.text.status: invalid '{text.get('status')}'")
    if problems:
        raise invalid("; ".join(problems[:5]))
    return document
