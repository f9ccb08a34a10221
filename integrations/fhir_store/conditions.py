"""Search filters as SQL conditions over the index rows (pure).

A positive filter selects the resources with a matching row; `:not` and `:missing=true`
those without one. Chains and `_has` look only at resources the caller sees
(`matching_ids` restricts them with `visible`), so they are no oracle on others' data.
Every subquery is its own (`correlate(None)`): the same tables nest at several levels.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, literal, or_, select, true
from sqlalchemy.sql.elements import SQLCoreOperations

from integrations.fhir_store.access import Access
from integrations.fhir_store.extract import normalize_text
from integrations.fhir_store.params import SEARCH_PARAMS, ParamKind, SearchParam, patient_param
from integrations.fhir_store.query import (
    CompositeValue,
    DateValue,
    Filter,
    NumberValue,
    QuantityValue,
    TokenValue,
)
from integrations.fhir_store.records import utcnow
from integrations.fhir_store.tables import R, S
from integrations.fhir_store.visibility import visible


def token_condition(token: TokenValue) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if token.code is not None:
        conditions.append(S.value == token.code)
    if token.system is not None:
        conditions.append(S.system == token.system if token.system else S.system.is_(None))
    return and_(*conditions)


def _ranged(
    prefix: str, low: SQLCoreOperations[Any], high: SQLCoreOperations[Any], value: DateValue
) -> ColumnElement[bool]:
    """A row whose values span [LOW, HIGH) against the half-open date range VALUE (R4
    3.1.1.5.3: the comparisons of a range with a range)."""
    if prefix == "eq":
        return and_(low >= value.low, high <= value.high)
    if prefix == "ne":
        return or_(low < value.low, high > value.high)
    if prefix == "ge":
        return high > value.low
    if prefix == "gt":
        return high > value.high
    if prefix == "le":
        return low < value.high
    if prefix == "lt":
        return low < value.low
    if prefix == "sa":
        return low >= value.high
    if prefix == "eb":
        return high <= value.low
    # ap: within a tenth of the time from now to the value, either side
    gap = abs(utcnow() - value.low) / 10
    return and_(low < value.high + gap, high > value.low - gap)


def _date_condition(value: DateValue) -> ColumnElement[bool]:
    return _ranged(value.prefix, S.low, S.high, value)


def _lastupdated_condition(value: DateValue) -> ColumnElement[bool]:
    """`_lastUpdated` is an instant: it lies in a range or before or after it."""
    moment = R.last_updated
    prefix = value.prefix
    if prefix == "eq":
        return and_(moment >= value.low, moment < value.high)
    if prefix == "ne":
        return or_(moment < value.low, moment >= value.high)
    if prefix in ("ge",):
        return moment >= value.low
    if prefix in ("gt", "sa"):
        return moment >= value.high
    if prefix == "le":
        return moment < value.high
    if prefix in ("lt", "eb"):
        return moment < value.low
    gap = abs(utcnow() - value.low) / 10
    return and_(moment >= value.low - gap, moment < value.high + gap)


def number_condition(value: NumberValue) -> ColumnElement[bool]:
    """A row's number (or Range) against a prefixed search number (R4 3.1.1.5.4)."""
    low: SQLCoreOperations[Any] = S.number_low
    high: SQLCoreOperations[Any] = S.number_high
    prefix, v = value.prefix, value.value
    if prefix == "eq":
        return and_(low >= value.low, high < value.high)
    if prefix == "ne":
        return or_(low < value.low, high >= value.high)
    if prefix == "gt":
        return high > v
    if prefix == "lt":
        return low < v
    if prefix == "ge":
        return high >= v
    if prefix == "le":
        return low <= v
    if prefix == "sa":
        return low > v
    if prefix == "eb":
        return high < v
    margin = abs(v) / 10  # ap: within 10%
    return and_(low <= v + margin, high >= v - margin)


def _unit_condition(system: str | None, code: str | None, column: Any) -> list[ColumnElement[bool]]:
    """Unit conditions on a `system|code` text COLUMN (a composite's quantity part)."""
    if system is not None and code is not None:
        return [column == f"{system}|{code}"]
    if code is not None:
        return [column.like(f"%|{_escaped(code)}", escape="\\")]
    if system is not None:
        return [column.like(f"{_escaped(system)}|%", escape="\\")]
    return []


def _quantity_condition(value: QuantityValue) -> ColumnElement[bool]:
    conditions = [number_condition(value.number)]
    if value.code is not None:
        conditions.append(S.value == value.code)
    if value.system is not None:
        conditions.append(S.system == value.system)
    return and_(*conditions)


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _string_condition(flt: Filter, text: str) -> ColumnElement[bool]:
    if flt.modifier == "exact":
        return S.text == text
    if flt.modifier == "contains":
        return S.value.like(f"%{_escaped(text)}%", escape="\\")
    return S.value.like(f"{_escaped(text)}%", escape="\\")


def _composite_condition(param: SearchParam, value: CompositeValue) -> ColumnElement[bool]:
    first = value.first
    head = token_condition(first) if isinstance(first, TokenValue) else S.value == first
    second = value.second
    if isinstance(second, TokenValue):
        tail = _unit_condition(second.system or None, second.code, S.text)
        if second.system == "":
            tail = [S.text == f"|{second.code}"]
    elif isinstance(second, QuantityValue):
        tail = [
            number_condition(second.number),
            *_unit_condition(second.system, second.code, S.text),
        ]
    elif isinstance(second, DateValue):
        tail = [_date_condition(second)]
    else:
        tail = [S.text.like(f"{_escaped(normalize_text(second))}%", escape="\\")]
    return and_(head, *tail)


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


def referenced(refs: Any) -> ColumnElement[bool]:
    """Reference rows naming one of REFS (a row without a value names its patient)."""
    return or_(S.value.in_(refs), and_(S.value.is_(None), S.patient.in_(refs)))


def _reference_condition(param: SearchParam, ref: str) -> ColumnElement[bool]:
    # a row without a value refers to its resource's patient (search_rows)
    if "/" not in ref:
        suffix = f"%/{_escaped(ref)}"
        return or_(
            S.value.like(suffix, escape="\\"),
            and_(S.value.is_(None), S.patient.like(suffix, escape="\\")),
        )
    if "://" not in ref and param.targets and ref.split("/")[0] not in param.targets:
        return false()
    if ref.startswith("Patient/"):
        return or_(S.value == ref, and_(S.value.is_(None), S.patient == ref))
    return S.value == ref


def _presence(param: SearchParam) -> list[ColumnElement[bool]]:
    """What tells PARAM's rows from the others its index rows share a name with."""
    if param.kind is ParamKind.DATE:
        return date_rows(param)
    if param.kind is ParamKind.REFERENCE and param.stored_as and param.targets:
        ref = func.coalesce(S.value, S.patient)
        return [or_(*[ref.like(f"{t}/%") for t in param.targets])]
    return []


def _match(resource_type: str, param: SearchParam, flt: Filter) -> list[ColumnElement[bool]]:
    """The row conditions of a positive filter on PARAM."""
    kind = param.kind
    options: list[ColumnElement[bool]]
    if kind is ParamKind.TOKEN and flt.modifier == "text":
        options = [S.text.like(f"{_escaped(t)}%", escape="\\") for t in flt.strings]
    elif kind is ParamKind.TOKEN:
        options = [token_condition(t) for t in flt.tokens]
    elif kind is ParamKind.REFERENCE:
        options = [_reference_condition(param, ref) for ref in flt.references]
    elif kind is ParamKind.STRING:
        options = [_string_condition(flt, t) for t in flt.strings]
    elif kind is ParamKind.URI:
        below = flt.modifier == "below"
        options = [
            S.value.like(f"{_escaped(t)}%", escape="\\") if below else S.value == t
            for t in flt.strings
        ]
    elif kind is ParamKind.NUMBER:
        options = [number_condition(n) for n in flt.numbers]
    elif kind is ParamKind.QUANTITY:
        options = [_quantity_condition(q) for q in flt.quantities]
    elif kind is ParamKind.COMPOSITE:
        options = [_composite_condition(param, c) for c in flt.composites]
    else:
        return [*date_rows(param), and_(*[_date_condition(v) for v in flt.dates])]
    return [or_(*options)]


def _rows_of(
    resource_type: str, param: SearchParam, patient: str | None, *match: ColumnElement[bool]
) -> Select[Any]:
    return (
        select(S.res_id).where(*index_rows(resource_type, param, patient), *match).correlate(None)
    )


def filter_condition(
    resource_type: str, flt: Filter, patient: str | None, access: Access
) -> ColumnElement[bool]:
    if flt.kind == "id" and flt.missing is not None:
        return false() if flt.missing else true()
    if flt.kind == "id":
        return R.res_id.in_(flt.ids)
    if flt.kind == "lastUpdated":
        return and_(*[_lastupdated_condition(v) for v in flt.dates])
    if flt.kind == "has":
        return _has_condition(resource_type, flt, access)
    param = SEARCH_PARAMS[resource_type][flt.name]
    if flt.kind == "chain":
        return R.res_id.in_(_rows_of(resource_type, param, patient, _chain_rows(flt, access)))
    if flt.missing is not None:
        present = _rows_of(resource_type, param, patient, *_presence(param))
        return R.res_id.not_in(present) if flt.missing else R.res_id.in_(present)
    rows = _rows_of(resource_type, param, patient, *_match(resource_type, param, flt))
    # `:not`: every resource without a matching row, those without the element too
    return R.res_id.not_in(rows) if flt.modifier == "not" else R.res_id.in_(rows)


def matching_ids(resource_type: str, filters: list[Filter], access: Access) -> Select[Any]:
    """Ids of the current resources of RESOURCE_TYPE that ACCESS sees and FILTERS match:
    what a chain or `_has` may look at (never more than a search of its own would show)."""
    patient = access.compartment if patient_param(resource_type) is not None else None
    conditions = [
        R.res_type == resource_type,
        R.deleted == false(),
        *visible(access, resource_type),
    ]
    conditions += [filter_condition(resource_type, f, patient, access) for f in filters]
    return select(R.res_id).where(*conditions).correlate(None)


def _chain_rows(flt: Filter, access: Access) -> ColumnElement[bool]:
    """Reference rows naming a resource the chain's inner filter matches."""
    options = []
    for target, inner in flt.chain:
        ids = matching_ids(target, [inner], access).subquery()
        refs = select(literal(f"{target}/") + ids.c.res_id).correlate(None)
        options.append(referenced(refs))
    return or_(*options)


def _has_condition(resource_type: str, flt: Filter, access: Access) -> ColumnElement[bool]:
    """`_has:Source:param:...`: resources some visible SOURCE matching the inner filter
    refers to through its reference parameter."""
    assert flt.has is not None
    source, ref_name, inner = flt.has
    param = SEARCH_PARAMS[source][ref_name]
    ids = matching_ids(source, [inner], access)
    refs = (
        select(func.coalesce(S.value, S.patient).label("ref"))
        .where(S.res_type == source, param_condition(param), S.res_id.in_(ids))
        .correlate(None)
        .subquery()
    )
    prefix = f"{resource_type}/"
    local = select(func.substr(refs.c.ref, len(prefix) + 1)).where(
        refs.c.ref.like(f"{_escaped(prefix)}%", escape="\\")
    )
    return R.res_id.in_(local.correlate(None))


def date_rows(param: SearchParam) -> list[ColumnElement[bool]]:
    """What tells a date parameter's rows from others of the same name: a date row has no
    value; an aliased date is on rows that all carry it (DATED_BY)."""
    return [] if param.stored_as else [S.value.is_(None)]
