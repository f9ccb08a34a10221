"""Search requests parsed into a typed plan (pure): filters, sort, paging, includes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from integrations.fhir_store.dates import DateFormatError, parse_range
from integrations.fhir_store.extract import normalize_reference
from integrations.fhir_store.outcome import invalid
from integrations.fhir_store.params import (
    COMMON_PARAMS,
    RESULT_PARAMS,
    SEARCH_PARAMS,
    ParamKind,
    SearchParam,
)

DEFAULT_COUNT = 50
MAX_COUNT = 1000
_PREFIXES = ("eq", "ne", "ge", "le", "gt", "lt", "sa", "eb", "ap")


@dataclass(frozen=True)
class TokenValue:
    """`system|code`, `|code`, `system|` or `code`; system None means any, "" means none."""

    system: str | None
    code: str | None


@dataclass(frozen=True)
class DateValue:
    """A prefixed date: the comparison and the range the searched value covers."""

    prefix: str
    low: datetime
    high: datetime


@dataclass(frozen=True)
class Filter:
    """One parameter occurrence: its values are ORed; filters are ANDed."""

    name: str
    kind: str
    tokens: tuple[TokenValue, ...] = ()
    references: tuple[str, ...] = ()
    dates: tuple[DateValue, ...] = ()
    ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Include:
    """`_include=Type:param[:Target]`."""

    source_type: str
    param: str
    target: str | None


@dataclass
class SearchPlan:
    """A whole search: filters, sort keys (name, descending), paging and result shaping."""

    resource_type: str
    filters: list[Filter] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0
    summary_count: bool = False
    total_accurate: bool = False
    includes: list[Include] = field(default_factory=list)


def parse_token(text: str) -> TokenValue:
    """A token search value."""
    if "|" not in text:
        return TokenValue(None, text)
    system, code = text.split("|", 1)
    return TokenValue(system, code or None)


def parse_date_value(text: str) -> DateValue:
    """A date search value with its optional prefix."""
    prefix = "eq"
    if text[:2] in _PREFIXES and not text[:2].isdigit():
        prefix, text = text[:2], text[2:]
    if prefix not in ("eq", "ge", "le", "gt", "lt"):
        raise invalid(f"date prefix {prefix} is not supported")
    try:
        low, high = parse_range(text)
    except DateFormatError as error:
        raise invalid(str(error)) from error
    return DateValue(prefix, low, high)


def parse_reference(param: SearchParam, text: str) -> str:
    """A reference search value as `Type/id`, or a bare id when the type is open."""
    if "/" in text:
        return normalize_reference(text)
    if len(param.targets) == 1:
        return f"{param.targets[0]}/{text}"
    return text


def _split(text: str) -> list[str]:
    return [part for part in text.split(",") if part != ""]


def _filter(resource_type: str, name: str, raw: str) -> Filter:
    if ":" in name:
        raise invalid(f"search modifier in {name!r} is not supported")
    if name == "_id":
        return Filter(name, "id", ids=tuple(_split(raw)))
    if name == "_lastUpdated":
        return Filter(name, "lastUpdated", dates=tuple(parse_date_value(v) for v in _split(raw)))
    param = SEARCH_PARAMS[resource_type][name]
    values = _split(raw)
    if not values:
        raise invalid(f"parameter {name} has no value")
    if param.kind is ParamKind.TOKEN:
        return Filter(name, param.kind.value, tokens=tuple(parse_token(v) for v in values))
    if param.kind is ParamKind.REFERENCE:
        refs = tuple(parse_reference(param, v) for v in values)
        return Filter(name, param.kind.value, references=refs)
    return Filter(name, param.kind.value, dates=tuple(parse_date_value(v) for v in values))


def bounded_int(name: str, raw: str, low: int, high: int) -> int:
    """RAW as an integer from LOW to HIGH; anything else is a 400."""
    try:
        value = int(raw)
    except ValueError as error:
        raise invalid(f"{name} must be an integer") from error
    if not low <= value <= high:
        raise invalid(f"{name} must be between {low} and {high}")
    return value


def _sort(resource_type: str, raw: str) -> list[tuple[str, bool]]:
    keys: list[tuple[str, bool]] = []
    for part in _split(raw):
        descending = part.startswith("-")
        name = part.lstrip("-")
        param = SEARCH_PARAMS[resource_type].get(name)
        if name not in ("_id", "_lastUpdated") and (
            param is None or param.kind is not ParamKind.DATE
        ):
            raise invalid(f"cannot sort by {name}")
        keys.append((name, descending))
    return keys


def _include(resource_type: str, raw: str) -> Include:
    parts = raw.split(":")
    if len(parts) not in (2, 3) or parts[0] != resource_type:
        raise invalid(f"_include {raw!r} must be {resource_type}:param[:Target]")
    param = SEARCH_PARAMS[resource_type].get(parts[1])
    if param is None or param.kind is not ParamKind.REFERENCE:
        raise invalid(f"_include {raw!r} names no reference parameter")
    return Include(parts[0], parts[1], parts[2] if len(parts) == 3 else None)


def build_plan(
    resource_type: str, params: list[tuple[str, str]], lenient: bool = False
) -> SearchPlan:
    """The plan for a search of RESOURCE_TYPE; unknown parameters are a 400 unless lenient."""
    plan = SearchPlan(resource_type)
    known = SEARCH_PARAMS[resource_type]
    for name, raw in params:
        base = name.split(":")[0]
        if base in RESULT_PARAMS:
            if base == "_count":
                plan.count = bounded_int(name, raw, 0, MAX_COUNT)
            elif base == "_getpagesoffset":
                plan.offset = bounded_int(name, raw, 0, 10**9)
            elif base == "_sort":
                plan.sort = _sort(resource_type, raw)
            elif base == "_include":
                plan.includes.append(_include(resource_type, raw))
            elif base == "_summary":
                if raw == "count":
                    plan.summary_count = True
                elif raw != "false" and not lenient:
                    raise invalid(f"_summary={raw} is not supported")
            elif base == "_total":
                plan.total_accurate = raw == "accurate"
            elif not lenient and base not in ("_format",):
                raise invalid(f"{base} is not supported")
            continue
        if base in COMMON_PARAMS or base in known:
            plan.filters.append(_filter(resource_type, name, raw))
        elif not lenient:
            raise invalid(f"unknown search parameter {name!r} for {resource_type}")
    return plan


def plan_patient(plan: SearchPlan) -> str | None:
    """The one patient a plan is restricted to by a `patient`/`subject` filter, if any."""
    for flt in plan.filters:
        if flt.name in ("patient", "subject") and len(flt.references) == 1:
            ref = flt.references[0]
            if ref.startswith("Patient/"):
                return ref
    return None
