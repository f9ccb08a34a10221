"""What each caller sees, as SQL conditions (pure): the one place an `Access` (access.py)
becomes SQL. Every read of current resources restricts its rows with `visible`, every read
of versions (history, vread) with `visible_versions`. A SMART v2 query-restricted scope
(access.py `Access.restrictions`) is enforced here too, so every read path (search, read,
chains, `_has`, includes, $everything, $export) honours it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true, union
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.fhir_store.access import Access
from integrations.fhir_store.params import SHARED_TYPES
from integrations.fhir_store.tables import R, S, V


def visible(access: Access, resource_type: str) -> list[ColumnElement[bool]]:
    """What restricts current resources (fhir_resource rows) of RESOURCE_TYPE to those
    ACCESS sees: the one place every read of current resources goes through."""
    if not access.sees_type(resource_type):
        return [false()]
    queries = access.restricted(resource_type)
    if queries:
        # a v2 query-restricted scope (scopes.py): the resource matches one of its searches,
        # each evaluated as the unrestricted caller sees (chains and `_has` in it too)
        unrestricted = Access(access.compartment, access.types, access.staff)
        matching = [and_(*_restriction(resource_type, q, unrestricted)) for q in queries]
        return [or_(*matching), *visible(unrestricted, resource_type)]
    if resource_type in SHARED_TYPES:
        return []  # no patient's data: every reader of the type sees them
    return in_compartment(access, resource_type)


def _restriction(resource_type: str, query: str, access: Access) -> list[ColumnElement[bool]]:
    """The conditions of a restricting scope's QUERY on RESOURCE_TYPE, seen as ACCESS sees."""
    # conditions.py builds filters and itself restricts chains with `visible`: imported
    # here, at call time, to keep that one-way at import
    from integrations.fhir_store.conditions import filter_condition
    from integrations.fhir_store.query import build_plan

    plan = build_plan(resource_type, parse_qsl(query))
    return [filter_condition(resource_type, f, None, access) for f in plan.filters]


def in_compartment(access: Access, resource_type: str) -> list[ColumnElement[bool]]:
    """What restricts current resources of RESOURCE_TYPE to ACCESS's compartment (a
    patient's, or a staff member's patients'); a resource of no patient lies in none."""
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
    replaces what it cannot read; a shared type lies in no patient's compartment)."""
    compartment = in_compartment(Access(access.compartment), resource_type)
    seen = and_(true(), *compartment).label("visible")
    stmt = select(R.version_id, R.deleted, R.patient, seen).where(
        R.res_type == resource_type, R.res_id == resource_id
    )
    return (await session.execute(stmt)).one_or_none()


def visible_versions(access: Access) -> list[ColumnElement[bool]]:
    """What restricts version rows to those ACCESS sees: each version lies in the
    compartment of the patient it named when it was written (history, vread); versions of
    a shared type, in none, are seen by every reader of the type."""
    conditions: list[ColumnElement[bool]] = []
    if access.types is not None:
        conditions.append(V.res_type.in_(sorted(access.types)))
    if access.restrictions:
        # a query restriction is decided on current resources: past versions stay hidden
        conditions.append(V.res_type.not_in([rtype for rtype, _ in access.restrictions]))
    shared = V.res_type.in_(sorted(SHARED_TYPES))
    if access.compartment is not None:
        conditions.append(or_(V.patient == access.compartment, shared))
    if access.staff is not None:
        conditions.append(or_(V.patient.in_(staff_patients(access.staff)), shared))
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
    return select(union(by_practitioner, by_team).subquery().c[0]).correlate(None)
