"""Searches and access translated to SQL conditions over the store's tables (pure).

Every read restricts its rows with `visible` (current resources) or `visible_versions`
(history, vread): the one place the caller's `Access` (access.py) becomes SQL.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, select
from sqlalchemy.engine import Row

from integrations.fhir_store.access import Access
from integrations.fhir_store.conditions import (
    date_rows,
    filter_condition,
    index_rows,
    param_condition,
    token_condition,
)
from integrations.fhir_store.params import SEARCH_PARAMS, ParamKind, patient_param
from integrations.fhir_store.query import Filter, SearchPlan, plan_patient
from integrations.fhir_store.records import Stored
from integrations.fhir_store.tables import L, R, S, V
from integrations.fhir_store.visibility import (
    current_row,
    in_compartment,
    staff_patients,
    visible,
    visible_versions,
)

__all__ = [
    "NEWEST_FIRST",
    "L",
    "R",
    "S",
    "V",
    "current_row",
    "current_versions",
    "in_compartment",
    "index_rows",
    "order_by",
    "param_condition",
    "plan_conditions",
    "staff_patients",
    "to_stored",
    "token_condition",
    "visible",
    "visible_versions",
]

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


def _leads(flt: Filter) -> bool:
    """True for a filter that reads only rows of the patient it is given (sql: index_rows
    with a patient): a positive match on index rows."""
    return flt.kind not in ("id", "lastUpdated", "has") and not flt.negated


def plan_conditions(plan: SearchPlan, access: Access) -> list[ColumnElement[bool]]:
    rtype = plan.resource_type
    conditions = [R.res_type == rtype, R.deleted == false(), *visible(access, rtype)]
    # only the rows of compartment types carry the patient (Patient rows carry their own id)
    compartmented = patient_param(rtype) is not None
    compartment = access.compartment if compartmented else None
    patient = (compartment or plan_patient(plan)) if compartmented else None
    if compartment is not None and not any(_leads(f) for f in plan.filters):
        # no index filter leads into the compartment: the patient's index rows do
        # (every resource in it has them: its patient comes from one of them)
        in_it = (S.patient == compartment, S.res_type == rtype)
        conditions.append(R.res_id.in_(select(S.res_id).where(*in_it).correlate(None)))
    filters = plan.filters
    if compartment is None and patient is not None:
        # the other positive index filters read only that patient's rows, so the filter
        # naming the patient (whose rows are all of theirs: the most numerous) adds nothing
        # then. A negated filter (`:not`, `:missing=true`, `_has`) reads rows it must NOT
        # find: it never stands for the patient's filter.
        others = [f for f in filters if not _names_patient(rtype, f, patient)]
        if any(_leads(f) for f in others):
            filters = others
    for flt in filters:
        conditions.append(filter_condition(rtype, flt, patient, access))
    return conditions


def _names_patient(resource_type: str, flt: Filter, patient: str) -> bool:
    """True when FLT asks for exactly the resources in PATIENT's compartment."""
    param = patient_param(resource_type)
    if param is None or flt.kind != "reference" or flt.modifier not in (None, "Patient"):
        return False
    if flt.references != (patient,):
        return False
    return flt.name == param.name or flt.name in param.stored_as


_SORT_COLUMN = {
    ParamKind.DATE: S.low,
    ParamKind.NUMBER: S.number_low,
    ParamKind.QUANTITY: S.number_low,
}


def order_by(plan: SearchPlan) -> list[Any]:
    keys: list[Any] = []
    for name, descending in plan.sort:
        if name == "_lastUpdated":
            column: Any = R.last_updated
        elif name == "_id":
            column = R.res_id
        else:
            param = SEARCH_PARAMS[plan.resource_type][name]
            rows = date_rows(param) if param.kind is ParamKind.DATE else []
            value = _SORT_COLUMN.get(param.kind, S.value)
            column = (
                select(func.max(value) if descending else func.min(value))
                .where(
                    S.res_type == plan.resource_type,
                    S.res_id == R.res_id,
                    param_condition(param),
                    *rows,
                )
                .scalar_subquery()
            )
        keys.append(column.desc() if descending else column)
    keys.extend([R.last_updated, R.res_id])
    return keys
