"""SMART on FHIR scopes (v1 `read`/`write`/`*` and v2 `cruds` letters) and access checks (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from integrations.fhir_store.outcome import StoreError


class Action(StrEnum):
    """What an interaction does, as a SMART v2 permission letter."""

    CREATE = "c"
    READ = "r"
    UPDATE = "u"
    DELETE = "d"
    SEARCH = "s"


_SCOPE = re.compile(r"^(patient|user|system)/([A-Za-z]+|\*)\.(read|write|\*|[cruds]+)$")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}


class ScopeError(ValueError):
    """A scope string that is not a SMART resource scope."""


@dataclass(frozen=True)
class Scope:
    """One resource scope: context (patient, user, system), resource type or *, letters."""

    context: str
    resource_type: str
    letters: frozenset[str]

    def covers(self, resource_type: str, action: Action) -> bool:
        """True when this scope allows ACTION on RESOURCE_TYPE."""
        return self.resource_type in ("*", resource_type) and action.value in self.letters


def parse_scope(text: str) -> Scope:
    """One scope from its SMART string form."""
    match = _SCOPE.match(text.strip())
    if match is None:
        raise ScopeError(f"not a SMART resource scope: {text!r}")
    context, resource_type, permission = match.groups()
    letters = _V1.get(permission, permission)
    return Scope(context, resource_type, frozenset(letters))


def parse_scopes(text: str) -> tuple[Scope, ...]:
    """Scopes from a space- or comma-separated list."""
    return tuple(parse_scope(part) for part in re.split(r"[\s,]+", text.strip()) if part)


def checked_scopes(text: str, patient: str | None, person: str | None = None) -> tuple[Scope, ...]:
    """Scopes fit to grant: well formed, `patient/` ones bound to PATIENT, `user/` ones to
    PERSON (a signed-in account), and a patient given only for `patient/` scopes."""
    scopes = parse_scopes(text)
    if not scopes:
        raise ScopeError("no scopes given (e.g. 'system/*.read' or 'patient/*.read')")
    contexts = {s.context for s in scopes}
    if "patient" in contexts and not patient:
        raise ScopeError("patient/ scopes need a patient (--patient ID)")
    if patient and contexts != {"patient"}:
        raise ScopeError("a patient binds patient/ scopes only; use patient/ scopes with it")
    if "user" in contexts and not person:
        raise ScopeError("user/ scopes need a user: they belong to a signed-in person's tokens")
    return scopes


@dataclass(frozen=True)
class Grant:
    """What an authenticated client may do: its scopes and, for patient scopes, the patient;
    PERSON is the account a person-bound token acts for (named in AuditEvents); PRACTITIONER,
    for a staff member's token, the `Practitioner/id` whose patients it reads."""

    client_id: str
    client_name: str
    scopes: tuple[Scope, ...]
    patient: str | None = None
    person: str | None = None
    practitioner: str | None = None

    @property
    def person_bound(self) -> bool:
        """True for tokens that act for a person (patient/ or user/ scopes): access is audited."""
        return (
            self.patient is not None
            or self.person is not None
            or self.practitioner is not None
            or any(s.context != "system" for s in self.scopes)
        )

    def allows(self, resource_type: str, action: Action) -> bool:
        """True when some scope covers ACTION on RESOURCE_TYPE."""
        return any(scope.covers(resource_type, action) for scope in self.scopes)

    def allows_all_types(self, action: Action) -> bool:
        """True when a wildcard scope covers ACTION (system-level searches and history)."""
        return any(s.resource_type == "*" and s.covers("*", action) for s in self.scopes)


def require(grant: Grant | None, resource_type: str, action: Action) -> None:
    """403 unless GRANT's scopes cover ACTION on RESOURCE_TYPE (None: no token required)."""
    if grant is not None and not grant.allows(resource_type, action):
        raise StoreError(
            403, f"scope does not allow {action.name.lower()} on {resource_type}", "forbidden"
        )
