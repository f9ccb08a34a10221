"""AuditEvents for accesses by person-bound tokens (pure builder)."""

from __future__ import annotations

from typing import Any

from integrations.codes import CAREBOT_BASE_URL
from integrations.fhir_store.dates import format_instant
from integrations.fhir_store.scopes import Action, Grant
from integrations.fhir_store.store import utcnow

_ACTION_CODES = {
    Action.CREATE: "C",
    Action.READ: "R",
    Action.UPDATE: "U",
    Action.DELETE: "D",
    Action.SEARCH: "E",
}
ACCOUNT_SYSTEM = f"{CAREBOT_BASE_URL}/sid/account"
CLIENT_SYSTEM = "urn:carebot:fhir-client"
_INTERACTIONS = {
    Action.CREATE: "create",
    Action.READ: "read",
    Action.UPDATE: "update",
    Action.DELETE: "delete",
    Action.SEARCH: "search",
}


def _agents(grant: Grant) -> list[dict[str, Any]]:
    """The person the token acts for (the requestor), then the API client it went through."""
    client: dict[str, Any] = {
        "who": {
            "identifier": {"system": CLIENT_SYSTEM, "value": grant.client_id},
            "display": grant.client_name,
        },
        "requestor": grant.person is None,
    }
    if grant.person is None:
        return [client]
    who: dict[str, Any] = {"identifier": {"system": ACCOUNT_SYSTEM, "value": grant.person}}
    if grant.practitioner is not None:  # a staff member: the Practitioner they act as
        who["reference"] = grant.practitioner
    person = {
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                    "code": "humanuser",
                    "display": "human user",
                }
            ]
        },
        "who": who,
        "requestor": True,
    }
    return [person, client]


def audit_event(
    grant: Grant, action: Action, targets: list[str], status: int, query: str = ""
) -> dict[str, Any]:
    """An AuditEvent (FHIR R4) recording one REST interaction by GRANT's client."""
    outcome = "0" if status < 400 else ("4" if status < 500 else "8")
    # the caller's own patient first: it places the event in that patient's compartment
    # (extract.compartment_patient), whatever other patient's resource was attempted
    own = [grant.patient] if grant.patient else []
    entities: list[dict[str, Any]] = [
        {"what": {"reference": ref}} for ref in own + [t for t in targets[:50] if t not in own]
    ]
    if query:
        entities.append({"description": "search query", "name": query[:1000]})
    return {
        "resourceType": "AuditEvent",
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest",
            "display": "RESTful Operation",
        },
        "subtype": [
            {"system": "http://hl7.org/fhir/restful-interaction", "code": _INTERACTIONS[action]}
        ],
        "action": _ACTION_CODES[action],
        "recorded": format_instant(utcnow()),
        "outcome": outcome,
        "agent": _agents(grant),
        "source": {"observer": {"display": "carebot FHIR store"}},
        "entity": entities,
    }
