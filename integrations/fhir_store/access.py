"""Who may do what through the REST API, and what each caller may see (pure).

Two decisions live here and nowhere else:

- `authorize`: whether a caller may do an interaction on a resource type. Scopes decide,
  except that types the store writes itself (AuditEvent) are never written through the API,
  whatever the scope, and a person's token without a patient reads no AuditEvent.
- `check_writable`: a caller bound to a patient writes only resources of that patient's
  compartment that name no other patient (an Appointment listing someone else would put
  them where `actor=` finds it and `patient=` within their compartment does not).
- `access_for`: what a caller may see (`Access`): one patient's compartment, or a staff
  member's (the patients whose `generalPractitioner` names their Practitioner: sql.py
  `staff_patients`), and the types its scopes let it read. The store applies it on every read path (store.py `_visible`), so
  searches, conditional writes, `_include`, history, vread and bundle entries all see alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from integrations.fhir_store.extract import compartment_patient, normalize_reference
from integrations.fhir_store.outcome import StoreError
from integrations.fhir_store.params import STORED_TYPES
from integrations.fhir_store.scopes import Action, Grant, require

# Types only the store itself writes: its record of who accessed what.
STORE_WRITTEN: frozenset[str] = frozenset({"AuditEvent"})
_WRITES = frozenset({Action.CREATE, Action.UPDATE, Action.DELETE})


@dataclass(frozen=True)
class Access:
    """What one caller may read: one patient's compartment (None: every patient's), or the
    compartments of STAFF's patients (a `Practitioner/id`), and the resource types it may
    see (None: every type)."""

    compartment: str | None = None
    types: frozenset[str] | None = None
    staff: str | None = None
    restrictions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Per type, the queries of v2 scopes its reads are restricted to (any one matching);
    a type not listed is not restricted."""

    def restricted(self, resource_type: str) -> tuple[str, ...]:
        """The queries RESOURCE_TYPE's resources must match one of (none: unrestricted)."""
        for rtype, queries in self.restrictions:
            if rtype == resource_type:
                return queries
        return ()

    def sees_type(self, resource_type: str) -> bool:
        """True when resources of RESOURCE_TYPE may be shown to this caller."""
        return self.types is None or resource_type in self.types

    def sees_patient(self, patient: str | None) -> bool:
        """True when a resource of PATIENT's compartment (None: of none) may be shown; a
        staff member's patients are known to the database only, and each read asks it."""
        return self.compartment is None or patient == self.compartment


# The store's own view (no token required, maintenance, its own writes).
EVERYTHING = Access()


def _hidden(grant: Grant, resource_type: str) -> bool:
    # a person's token reads AuditEvents of its own patient only: without one, none
    return resource_type in STORE_WRITTEN and grant.person_bound and grant.patient is None


def _reads(grant: Grant, resource_type: str) -> bool:
    if _hidden(grant, resource_type):
        return False
    return grant.allows(resource_type, Action.READ) or grant.allows(resource_type, Action.SEARCH)


def _restrictions(grant: Grant, types: frozenset[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """For each readable type that only query-restricted scopes let GRANT read, their queries."""
    out: list[tuple[str, tuple[str, ...]]] = []
    reading = (Action.READ, Action.SEARCH)
    for rtype in sorted(types):
        covering = [s for s in grant.scopes if any(s.covers(rtype, a) for a in reading)]
        if covering and all(s.restriction is not None for s in covering):
            out.append((rtype, tuple(sorted({str(s.restriction) for s in covering}))))
    return tuple(out)


def access_for(grant: Grant | None) -> Access:
    """What GRANT's caller may see (None: a store that requires no token sees everything)."""
    if grant is None:
        return EVERYTHING
    types = frozenset(t for t in STORED_TYPES if _reads(grant, t))
    return Access(
        grant.patient,
        None if types == STORED_TYPES else types,
        grant.practitioner,
        _restrictions(grant, types),
    )


def authorize(grant: Grant | None, resource_type: str, action: Action) -> None:
    """403 unless GRANT's caller may do ACTION on RESOURCE_TYPE through the API."""
    if resource_type in STORE_WRITTEN and action in _WRITES:
        raise StoreError(403, f"{resource_type} is written by the store only", "forbidden")
    if grant is not None and _hidden(grant, resource_type):
        raise StoreError(403, f"{resource_type} is read through a patient's token", "forbidden")
    require(grant, resource_type, action)


def _patient_references(node: Any) -> Iterator[str]:
    """Every literal reference to a Patient anywhere in NODE, as `Patient/id`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                reference = normalize_reference(value)
                if reference.startswith("Patient/"):
                    yield reference
            else:
                yield from _patient_references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _patient_references(item)


def check_writable(access: Access, document: dict[str, Any]) -> None:
    """403 unless a caller with ACCESS may write DOCUMENT (with its id, if it has one)."""
    if access.staff is not None:
        raise StoreError(403, "a staff token only reads", "forbidden")
    compartment = access.compartment
    if compartment is None or document.get("resourceType") == "Subscription":
        return  # a Subscription is placed in its writer's compartment (writer.py)
    if compartment_patient({"id": "", **document}) != compartment or any(
        ref != compartment for ref in _patient_references(document)
    ):
        raise StoreError(403, "a patient token may only write that patient's data", "forbidden")
