"""The resource types the store keeps and the search parameters of each (pure tables).

The parameters are R4's own (`r4_search_params.json`, generated from the published
definitions by definitions.py): nothing is hand-picked. Paths are dotted JSON paths; lists
are flattened on the way; `telecom[system=email]` keeps the elements whose `system` is
`email`. Reference parameters name the types they accept (`Appointment.patient` is a
participant actor that is a Patient). `patient` parameters also define the patient
compartment used by scopes.

A parameter whose paths are those of others of its kind is an alias: it has no index rows
of its own and searches theirs (`patient` is `subject` restricted to Patients; `combo-code`
is `code` or `component-code`). An Observation's `date` is on every row of it (DATED_BY).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from integrations.fhir_store.stored_types import SHARED_TYPES, STORED_TYPE_NAMES

__all__ = ["SHARED_TYPES", "ParamKind", "SearchParam"]


class ParamKind(StrEnum):
    """How a parameter's values are indexed and matched (R4 SearchParameter.type)."""

    TOKEN = "token"
    REFERENCE = "reference"
    DATE = "date"
    STRING = "string"
    NUMBER = "number"
    QUANTITY = "quantity"
    URI = "uri"
    COMPOSITE = "composite"


@dataclass(frozen=True)
class Component:
    """One part of a composite parameter: its kind and its paths from the composite's element."""

    kind: ParamKind
    paths: tuple[str, ...]


@dataclass(frozen=True)
class SearchParam:
    """One search parameter of one resource type."""

    name: str
    kind: ParamKind
    paths: tuple[str, ...]
    targets: tuple[str, ...] = ()
    # An alias has no index rows of its own: it searches the rows of these parameters.
    stored_as: tuple[str, ...] = ()
    components: tuple[Component, ...] = ()

    @property
    def indexed_as(self) -> tuple[str, ...]:
        """The parameter names whose index rows this parameter searches."""
        return self.stored_as or (self.name,)


DEFINITIONS = Path(__file__).with_name("r4_search_params.json")


def _param(row: dict[str, Any]) -> SearchParam:
    components = tuple(
        Component(ParamKind(c["kind"]), tuple(c["paths"])) for c in row.get("components", [])
    )
    return SearchParam(
        row["name"],
        ParamKind(row["kind"]),
        tuple(row["paths"]),
        tuple(row.get("targets", ())),
        (),
        components,
    )


def _covers(stored: SearchParam, alias: SearchParam) -> bool:
    """True when STORED's rows hold every value ALIAS would index from their common paths."""
    if stored.kind is not alias.kind or stored.components != alias.components:
        return False
    if not set(stored.paths) <= set(alias.paths):
        return False
    if alias.kind is ParamKind.REFERENCE and stored.targets:
        return bool(alias.targets) and set(alias.targets) <= set(stored.targets)
    return True


def with_aliases(params: list[SearchParam]) -> list[SearchParam]:
    """PARAMS with each one whose paths other stored parameters cover made their alias."""

    def breadth(p: SearchParam) -> tuple[int, int, str]:
        return (len(p.paths), -(len(p.targets) if p.targets else 10**6), p.name)

    stored: list[SearchParam] = []
    out: dict[str, SearchParam] = {}
    for param in sorted(params, key=breadth):
        covering = [s for s in stored if _covers(s, param)]
        union = {path for s in covering for path in s.paths}
        if covering and union == set(param.paths):
            out[param.name] = replace(param, stored_as=tuple(s.name for s in covering))
        else:
            stored.append(param)
            out[param.name] = param
    return [out[p.name] for p in params]


# Types whose every index row also carries the resource's own date (the low/high of this
# date parameter), so one patient's rows sit in time order and `code` rows answer "latest".
# The parameter itself has no rows of its own (it is an alias of a row every one has).
DATED_BY: dict[str, str] = {"Observation": "date"}
_DATED_ON = {"Observation": "status"}  # 1..1: one row per Observation


def _load() -> tuple[dict[str, dict[str, SearchParam]], dict[str, dict[str, str]], dict[str, Any]]:
    table = json.loads(DEFINITIONS.read_text())
    out: dict[str, dict[str, SearchParam]] = {}
    for rtype in STORED_TYPE_NAMES:
        params = with_aliases([_param(row) for row in table["types"][rtype]])
        if rtype in DATED_BY:
            params = [
                replace(p, stored_as=(_DATED_ON[rtype],)) if p.name == DATED_BY[rtype] else p
                for p in params
            ]
        out[rtype] = {p.name: p for p in params}
    return out, table["skipped"], table["summary"]


SEARCH_PARAMS, SKIPPED_PARAMS, SUMMARY_ELEMENTS = _load()
STORED_TYPES: frozenset[str] = frozenset(STORED_TYPE_NAMES)
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


def patient_param(resource_type: str) -> SearchParam | None:
    """The parameter that places a resource in a patient's compartment, if any."""
    if resource_type in SHARED_TYPES:
        return None
    return SEARCH_PARAMS.get(resource_type, {}).get("patient")
