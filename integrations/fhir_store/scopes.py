"""SMART on FHIR scopes (v1 `read`/`write`/`*` and v2 `cruds` letters) and access checks (pure).

A v2 scope may carry a query restriction (`patient/Observation.rs?category=vital-signs`,
SMART App Launch 2.0 section 3.1.3): it reads and searches only the resources that match
that search; the store applies it on every read path (access.py `Access.restrictions`).
Scopes add up: an unrestricted scope for the same type lifts the restriction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl

from integrations.fhir_store.outcome import StoreError
from integrations.fhir_store.params import STORED_TYPES
from integrations.fhir_store.query import build_plan


class Action(StrEnum):
    """What an interaction does, as a SMART v2 permission letter."""

    CREATE = "c"
    READ = "r"
    UPDATE = "u"
    DELETE = "d"
    SEARCH = "s"


_SCOPE = re.compile(
    r"^(patient|user|system)/([A-Za-z]+|\*)\.(read|write|\*|c?r?u?d?s?)(?:\?([^\s?#]+))?$"
)
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
# Scopes that are not about resources (SMART App Launch 2.0 section 3.2, OpenID Connect).
CONTEXT_SCOPES = frozenset(
    {"openid", "fhirUser", "profile", "launch", "launch/patient", "offline_access", "online_access"}
)


class ScopeError(ValueError):
    """A scope string that is not a SMART resource scope."""


@dataclass(frozen=True)
class Scope:
    """One resource scope: context (patient, user, system), resource type or *, letters."""

    context: str
    resource_type: str
    letters: frozenset[str]
    restriction: str | None = None
    """The query a v2 scope restricts its reads and searches to (`category=vital-signs`)."""

    def covers(self, resource_type: str, action: Action) -> bool:
        """True when this scope allows ACTION on RESOURCE_TYPE."""
        return self.resource_type in ("*", resource_type) and action.value in self.letters


def parse_scope(text: str) -> Scope:
    """One scope from its SMART string form."""
    match = _SCOPE.match(text.strip())
    if match is None:
        raise ScopeError(f"not a SMART resource scope: {text!r}")
    context, resource_type, permission, query = match.groups()
    if not permission:
        raise ScopeError(f"a scope names at least one of c, r, u, d, s (in that order): {text!r}")
    letters = frozenset(_V1.get(permission, permission))
    if query is not None:
        _check_restriction(text, resource_type, letters, query)
    return Scope(context, resource_type, letters, query)


def _check_restriction(text: str, resource_type: str, letters: frozenset[str], query: str) -> None:
    if resource_type not in STORED_TYPES:
        raise ScopeError(f"a query-restricted scope names one stored resource type: {text!r}")
    if letters - {"r", "s"}:
        raise ScopeError(f"a query-restricted scope reads and searches only (.rs): {text!r}")
    params = parse_qsl(query, keep_blank_values=True)
    if not params or any(name.startswith("_") and name != "_id" for name, _ in params):
        raise ScopeError(f"a scope's query restricts by search parameters: {text!r}")
    try:
        build_plan(resource_type, params)
    except StoreError as error:
        raise ScopeError(f"{text!r}: {error.diagnostics}") from error


def scope_words(text: str) -> list[str]:
    """The words of a scope list: space-separated (SMART), or comma-separated v1 scopes."""
    words: list[str] = []
    for part in text.split():
        words.extend([part] if "?" in part else [w for w in part.split(",") if w])
    return words


def parse_scopes(text: str) -> tuple[Scope, ...]:
    """Resource scopes from a space-separated list (commas also separate unrestricted ones)."""
    return tuple(parse_scope(word) for word in scope_words(text))


def split_scopes(text: str) -> tuple[str, frozenset[str]]:
    """A requested scope list as its resource scopes (space-separated, checked) and its
    context scopes (`openid`, `launch/patient`, ...); ScopeError for anything else."""
    words = scope_words(text)
    context = frozenset(w for w in words if w in CONTEXT_SCOPES)
    resource = [w for w in words if w not in CONTEXT_SCOPES]
    for word in resource:
        parse_scope(word)
    return " ".join(resource), context


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
    outside: bool = False
    """True for an outside app's or backend service's SMART token: every access is audited."""

    @property
    def audited(self) -> bool:
        """True when each access through this grant leaves an AuditEvent."""
        return self.outside or self.person_bound

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
