"""Searches and access translated to SQL conditions over the store's tables (pure).

Every read restricts its rows with `visible` (current resources) or `visible_versions`
(history, vread): the one place the caller's `Access` (access.py) becomes SQL.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    false,
    func,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.fhir_store.access import EVERYTHING, Access
from integrations.fhir_store.params import SEARCH_PARAMS, SearchParam, patient_param
from integrations.fhir_store.query import (
    DateValue,
    Filter,
    SearchPlan,
    TokenValue,
    build_plan,
    plan_patient,
)
from integrations.fhir_store.records import Stored
from integrations.fhir_store.tables import (
    FhirLatestRow,
    FhirResourceRow,
    FhirSearchRow,
    FhirVersionRow,
)

R = FhirResourceRow
V = FhirVersionRow
S = FhirSearchRow
L = FhirLatestRow
# joins a resource to the version row holding its current content
CURRENT_VERSION = and_(V.res_type == R.res_type, V.res_id == R.res_id, V.version_id == R.version_id)
# How index rows rank for "newest": by date (undated last), then by id.
NEWEST_FIRST = (S.low.desc().nulls_last(), S.res_id.desc())


def current_versions(
    *conditions: ColumnElement[bool],
) -> Select[str, str, int, datetime, bool, str | None]:
    """Current resources matching CONDITIONS, each with the version row of its content."""
    return (
        select(R.res_type, R.res_id, R.version_id, R.last_updated, R.deleted, V.content)
        .join(V, CURRENT_VERSION)
        .where(*conditions)
    )


def to_stored(row: Row[str, str, int, datetime, bool, str | None]) -> Stored:
    """The Stored form of a `current_versions` row."""
    return Stored(
        row.res_type, row.res_id, row.version_id, row.last_updated, json.loads(row.content)
    )


def token_condition(token: TokenValue) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if token.code is not None:
        conditions.append(S.value == token.code)
    if token.system is not None:
        conditions.append(S.system == token.system if token.system else S.system.is_(None))
    return and_(*conditions)


def _date_condition(value: DateValue) -> ColumnElement[bool]:
    low, high = S.low, S.high
    # Ranges are half-open [low, high); comparisons follow FHIR's period semantics.
    if value.prefix == "eq":
        return and_(low >= value.low, high <= value.high)
    if value.prefix == "ge":
        return high > value.low
    if value.prefix == "gt":
        return high > value.high
    if value.prefix == "le":
        return low < value.high
    return low < value.low


def _lastupdated_condition(value: DateValue) -> ColumnElement[bool]:
    if value.prefix == "eq":
        return and_(R.last_updated >= value.low, R.last_updated < value.high)
    if value.prefix == "ge":
        return R.last_updated >= value.low
    if value.prefix == "gt":
        return R.last_updated >= value.high
    if value.prefix == "le":
        return R.last_updated < value.high
    return R.last_updated < value.low


def param_condition(param: SearchParam) -> ColumnElement[bool]:
    names = param.indexed_as
    return S.param == names[0] if len(names) == 1 else S.param.in_(names)


def index_rows(
    resource_type: str, param: SearchParam, patient: str | None
) -> list[ColumnElement[bool]]:
    """Conditions selecting PARAM's index rows (of one patient when PATIENT is known)."""
    if patient is None:
        return [S.res_type == resource_type, param_condition(param)]
    # Within one patient the time-ordered patient index is the way in; `param || ''` keeps
    # SQLite (which has no statistics here) from preferring the index on (type, param, value),
    # which would visit every patient's rows of that code.
    names = param.indexed_as
    unindexed = S.param.concat("")
    return [
        S.patient == patient,
        S.res_type == resource_type,
        unindexed == names[0] if len(names) == 1 else unindexed.in_(names),
    ]


def _reference_condition(param: SearchParam, ref: str) -> ColumnElement[bool]:
    # a row without a value refers to its resource's patient (search_rows)
    if "/" not in ref:
        suffix = f"%/{ref}"
        return or_(S.value.like(suffix), and_(S.value.is_(None), S.patient.like(suffix)))
    if param.targets and ref.split("/")[0] not in param.targets:
        return false()
    if ref.startswith("Patient/"):
        return or_(S.value == ref, and_(S.value.is_(None), S.patient == ref))
    return S.value == ref


def _filter_condition(resource_type: str, flt: Filter, patient: str | None) -> ColumnElement[bool]:
    if flt.kind == "id":
        return R.res_id.in_(flt.ids)
    if flt.kind == "lastUpdated":
        return and_(*[_lastupdated_condition(v) for v in flt.dates])
    param = SEARCH_PARAMS[resource_type][flt.name]
    base = index_rows(resource_type, param, patient)
    if flt.kind == "token":
        match = or_(*[token_condition(t) for t in flt.tokens])
        return R.res_id.in_(select(S.res_id).where(*base, match))
    if flt.kind == "reference":
        options = [_reference_condition(param, ref) for ref in flt.references]
        return R.res_id.in_(select(S.res_id).where(*base, or_(*options)))
    conditions = [_date_condition(v) for v in flt.dates]
    return R.res_id.in_(select(S.res_id).where(*base, *_date_rows(param), and_(*conditions)))


def _date_rows(param: SearchParam) -> list[ColumnElement[bool]]:
    """What tells a date parameter's rows from others of the same name: a date row has no
    value; an aliased date is on rows that all carry it (DATED_BY)."""
    return [] if param.stored_as else [S.value.is_(None)]


def visible(access: Access, resource_type: str) -> list[ColumnElement[bool]]:
    """What restricts current resources (fhir_resource rows) of RESOURCE_TYPE to those
    ACCESS sees: the one place every read of current resources goes through."""
    if not access.sees_type(resource_type):
        return [false()]
    queries = access.restricted(resource_type)
    if queries:
        # a v2 query-restricted scope (scopes.py): the resource matches one of its searches
        matching = [
            and_(*plan_conditions(build_plan(resource_type, parse_qsl(q)), EVERYTHING))
            for q in queries
        ]
        unrestricted = Access(access.compartment, access.types, access.staff)
        return [or_(*matching), *visible(unrestricted, resource_type)]
    if access.staff is not None:
        if resource_type == "Patient":
            return [R.res_id.in_(staff_patients(access.staff, S.res_id))]
        return [R.patient.in_(staff_patients(access.staff))]
    compartment = access.compartment
    if compartment is None:
        return []
    if resource_type == "Patient":
        return [R.res_id == compartment.partition("/")[2]]
    return [R.patient == compartment]


async def current_row(
    session: AsyncSession, resource_type: str, resource_id: str, access: Access
) -> Row[int, bool, str | None, bool] | None:
    """The version, deletion flag and patient of a resource, and whether it lies in ACCESS's
    compartment (a write's right to its type is the scopes' to decide: a write-only token
    replaces what it cannot read)."""
    in_compartment = visible(Access(access.compartment), resource_type)
    seen = and_(true(), *in_compartment).label("visible")
    stmt = select(R.version_id, R.deleted, R.patient, seen).where(
        R.res_type == resource_type, R.res_id == resource_id
    )
    return (await session.execute(stmt)).one_or_none()


def visible_versions(access: Access) -> list[ColumnElement[bool]]:
    """What restricts version rows to those ACCESS sees: each version lies in the
    compartment of the patient it named when it was written (history, vread)."""
    conditions: list[ColumnElement[bool]] = []
    if access.types is not None:
        conditions.append(V.res_type.in_(sorted(access.types)))
    if access.restrictions:
        # a query restriction is decided on current resources: past versions stay hidden
        conditions.append(V.res_type.not_in([rtype for rtype, _ in access.restrictions]))
    if access.compartment is not None:
        conditions.append(V.patient == access.compartment)
    if access.staff is not None:
        conditions.append(V.patient.in_(staff_patients(access.staff)))
    return conditions


def staff_patients(practitioner: str, column: Any = S.patient) -> Select[Any]:
    """The patients a staff member sees (COLUMN of their index rows: `Patient/id`, or the
    id alone with `S.res_id`): those whose current `generalPractitioner` names
    PRACTITIONER, and those whose active CareTeam lists PRACTITIONER as a participant. The one
    place a staff compartment is defined."""
    by_practitioner = select(column).where(
        S.res_type == "Patient", S.param == "general-practitioner", S.value == practitioner
    )
    # a CareTeam's index rows carry its patient (`Patient/id`); the id alone for S.res_id
    team_patient = S.patient if column is S.patient else func.substr(S.patient, len("Patient/") + 1)
    active_teams = select(S.res_id).where(
        S.res_type == "CareTeam", S.param == "status", S.value == "active"
    )
    by_team = select(team_patient).where(
        S.res_type == "CareTeam",
        S.param == "participant",
        S.value == practitioner,
        S.patient.is_not(None),
        S.res_id.in_(active_teams),
    )
    return select(union(by_practitioner, by_team).subquery().c[0])


def plan_conditions(plan: SearchPlan, access: Access) -> list[ColumnElement[bool]]:
    conditions = [R.res_type == plan.resource_type, R.deleted == false()]
    conditions += visible(access, plan.resource_type)
    compartment = access.compartment
    patient = compartment or plan_patient(plan)
    unled = all(flt.kind in ("id", "lastUpdated") for flt in plan.filters)
    if compartment is not None and plan.resource_type != "Patient" and unled:
        # no index filter leads into the compartment: the patient's index rows do
        # (every resource in it has them: its patient comes from one of them)
        in_it = (S.patient == compartment, S.res_type == plan.resource_type)
        conditions.append(R.res_id.in_(select(S.res_id).where(*in_it)))
    if plan.resource_type == "Patient":
        patient = None  # Patient index rows carry their own id as patient; fine, but simpler off
    filters = plan.filters
    if compartment is None and patient is not None:
        # the other index filters read only that patient's rows, so the filter naming the
        # patient (whose rows are all of theirs: the most numerous) adds nothing then
        others = [f for f in filters if not _names_patient(plan.resource_type, f, patient)]
        if any(f.kind in ("token", "reference", "date") for f in others):
            filters = others
    for flt in filters:
        conditions.append(_filter_condition(plan.resource_type, flt, patient))
    return conditions


def _names_patient(resource_type: str, flt: Filter, patient: str) -> bool:
    """True when FLT asks for exactly the resources in PATIENT's compartment."""
    param = patient_param(resource_type)
    if param is None or flt.references != (patient,):
        return False
    return flt.name == param.name or flt.name in param.stored_as


def order_by(plan: SearchPlan) -> list[Any]:
    keys: list[Any] = []
    for name, descending in plan.sort:
        if name == "_lastUpdated":
            column: Any = R.last_updated
        elif name == "_id":
            column = R.res_id
        else:
            param = SEARCH_PARAMS[plan.resource_type][name]
            column = (
                select(func.min(S.low))
                .where(
                    S.res_type == plan.resource_type,
                    S.res_id == R.res_id,
                    param_condition(param),
                    *_date_rows(param),
                )
                .scalar_subquery()
            )
        keys.append(column.desc() if descending else column)
    keys.extend([R.last_updated, R.res_id])
    return keys
