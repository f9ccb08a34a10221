"""Search requests parsed into a typed plan (pure): filters, sort, paging, includes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from integrations.fhir_store.dates import DateFormatError, parse_range
from integrations.fhir_store.extract import normalize_reference, normalize_text
from integrations.fhir_store.outcome import invalid
from integrations.fhir_store.params import (
    COMMON_PARAMS,
    RESULT_PARAMS,
    SEARCH_PARAMS,
    STORED_TYPES,
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
class NumberValue:
    """A prefixed number: the comparison, the value, and the range its precision implies."""

    prefix: str
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class QuantityValue:
    """`[prefix]number|system|code`; system and code None mean any unit."""

    number: NumberValue
    system: str | None
    code: str | None


@dataclass(frozen=True)
class CompositeValue:
    """`first$second` of a two-part composite parameter."""

    first: TokenValue | str
    second: TokenValue | QuantityValue | DateValue | str


@dataclass(frozen=True)
class Filter:
    """One parameter occurrence: its values are ORed; filters are ANDed.

    MODIFIER is the R4 modifier (`not`, `missing`, `exact`, `contains`, `text`, `below`,
    or a reference's target type). CHAIN holds, per target type, the filter the referenced
    resource must match; HAS is `_has:Type:param:...` (the type, its reference parameter,
    and the filter on it).
    """

    name: str
    kind: str
    tokens: tuple[TokenValue, ...] = ()
    references: tuple[str, ...] = ()
    dates: tuple[DateValue, ...] = ()
    ids: tuple[str, ...] = ()
    modifier: str | None = None
    strings: tuple[str, ...] = ()
    numbers: tuple[NumberValue, ...] = ()
    quantities: tuple[QuantityValue, ...] = ()
    composites: tuple[CompositeValue, ...] = ()
    missing: bool | None = None
    chain: tuple[tuple[str, Filter], ...] = ()
    has: tuple[str, str, Filter] | None = None

    @property
    def negated(self) -> bool:
        """True when the filter keeps resources for rows they do NOT have: such a filter
        never stands for another that names the patient (sql.py plan_conditions)."""
        return self.modifier == "not" or self.missing is True or self.kind == "has"


@dataclass(frozen=True)
class Include:
    """`_include=Type:param[:Target]` (or `_revinclude`); ITERATE follows included ones too."""

    source_type: str
    param: str
    target: str | None
    iterate: bool = False


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
    revincludes: list[Include] = field(default_factory=list)
    summary: str | None = None  # true, text, data (count is summary_count)
    elements: tuple[str, ...] = ()
    total_none: bool = False


def parse_token(text: str) -> TokenValue:
    """A token search value."""
    if "|" not in text:
        return TokenValue(None, text)
    system, code = text.split("|", 1)
    return TokenValue(system, code or None)


def _prefixed(text: str, allowed: tuple[str, ...] = _PREFIXES) -> tuple[str, str]:
    if text[:2] in _PREFIXES and not text[:2].isdigit():
        if text[:2] not in allowed:
            raise invalid(f"prefix {text[:2]} is not supported here")
        return text[:2], text[2:]
    return "eq", text


def parse_date_value(text: str) -> DateValue:
    """A date search value with its optional prefix."""
    prefix, text = _prefixed(text)
    try:
        low, high = parse_range(text)
    except DateFormatError as error:
        raise invalid(str(error)) from error
    return DateValue(prefix, low, high)


_NUMBER = re.compile(r"^[+-]?(\d+)(\.(\d+))?([eE][+-]?\d+)?$")


def parse_number(text: str) -> NumberValue:
    """A prefixed number; its range is half a unit of its last digit either side (R4 3.1.1.5.4)."""
    prefix, text = _prefixed(text)
    match = _NUMBER.match(text)
    if not match:
        raise invalid(f"{text!r} is not a number")
    value = float(text)
    decimals = len(match.group(3) or "")
    exponent = int(match.group(4)[1:]) if match.group(4) else 0
    half = 0.5 * 10.0 ** (exponent - decimals)
    return NumberValue(prefix, value, value - half, value + half)


def parse_quantity(text: str) -> QuantityValue:
    """`[prefix]number|system|code` or `[prefix]number||code` or a bare number."""
    number, _, unit = text.partition("|")
    system, _, code = unit.partition("|") if "|" in unit else ("", "", unit)
    return QuantityValue(parse_number(number), system or None, code or None)


def parse_reference(param: SearchParam, text: str, target: str | None = None) -> str:
    """A reference search value as `Type/id`, or a bare id when the type is open."""
    if "/" in text and "://" in text and param.targets and not _local(text, param):
        return text  # a canonical URL, or another server's: matched as it is
    if "/" in text:
        return normalize_reference(text)
    if target is not None:
        return f"{target}/{text}"
    if len(param.targets) == 1:
        return f"{param.targets[0]}/{text}"
    return text


def _local(text: str, param: SearchParam) -> bool:
    """True when the absolute URL TEXT names a resource of a type PARAM refers to."""
    parts = text.split("/_history/")[0].rstrip("/").split("/")
    return len(parts) >= 2 and parts[-2] in param.targets


def _split(text: str) -> list[str]:
    # a `\,` is a comma inside a value (R4 3.1.1.5.5)
    parts = re.split(r"(?<!\\),", text)
    return [part.replace("\\,", ",") for part in parts if part != ""]


_MODIFIERS: dict[ParamKind, frozenset[str]] = {
    ParamKind.TOKEN: frozenset({"not", "text"}),
    ParamKind.STRING: frozenset({"exact", "contains"}),
    ParamKind.URI: frozenset({"below"}),
}
MAX_CHAIN = 2  # `subject.organization.name`: two references followed


def _values(name: str, raw: str) -> list[str]:
    values = _split(raw)
    if not values:
        raise invalid(f"parameter {name} has no value")
    return values


def _composite_part(kind: ParamKind, text: str) -> TokenValue | QuantityValue | DateValue | str:
    if kind is ParamKind.TOKEN:
        return parse_token(text)
    if kind is ParamKind.QUANTITY or kind is ParamKind.NUMBER:
        return parse_quantity(text)
    if kind is ParamKind.DATE:
        return parse_date_value(text)
    return text


def _composite(param: SearchParam, text: str) -> CompositeValue:
    first, sep, second = text.partition("$")
    if not sep or not first or not second:
        raise invalid(f"{param.name} takes two values joined by $")
    head = _composite_part(param.components[0].kind, first)
    if not isinstance(head, TokenValue | str):
        raise invalid(f"{param.name} starts with a {param.components[0].kind.value}")
    return CompositeValue(head, _composite_part(param.components[1].kind, second))


def _targets(param: SearchParam, modifier: str | None) -> tuple[str, ...]:
    if modifier is not None:
        if modifier not in STORED_TYPES or (param.targets and modifier not in param.targets):
            raise invalid(f"{param.name} does not refer to {modifier}")
        return (modifier,)
    return tuple(t for t in param.targets if t in STORED_TYPES)


def _chained(resource_type: str, name: str, raw: str, depth: int) -> Filter:
    head, _, rest = name.partition(".")
    base, _, modifier = head.partition(":")
    param = SEARCH_PARAMS[resource_type].get(base)
    if param is None or param.kind is not ParamKind.REFERENCE:
        raise invalid(f"cannot chain through {head!r} of {resource_type}")
    if depth >= MAX_CHAIN:
        raise invalid(f"chains follow at most {MAX_CHAIN} references")
    chain = []
    for target in _targets(param, modifier or None):
        inner = rest.partition(".")[0].partition(":")[0]
        if inner in SEARCH_PARAMS[target] or inner in COMMON_PARAMS:
            chain.append((target, _filter(target, rest, raw, depth + 1)))
    if not chain:
        raise invalid(f"no type {base} refers to has a parameter {rest!r}")
    return Filter(base, "chain", chain=tuple(chain))


def _has(resource_type: str, name: str, raw: str, depth: int) -> Filter:
    parts = name.split(":", 3)
    if len(parts) != 4 or parts[1] not in STORED_TYPES:
        raise invalid(f"{name!r} must be _has:Type:reference:parameter")
    source, ref_name, inner = parts[1], parts[2], parts[3]
    ref = SEARCH_PARAMS[source].get(ref_name)
    if ref is None or ref.kind is not ParamKind.REFERENCE:
        raise invalid(f"{source} has no reference parameter {ref_name!r}")
    if ref.targets and resource_type not in ref.targets:
        raise invalid(f"{source}.{ref_name} does not refer to {resource_type}")
    if depth >= MAX_CHAIN:
        raise invalid(f"_has nests at most {MAX_CHAIN} deep")
    return Filter("_has", "has", has=(source, ref_name, _filter(source, inner, raw, depth + 1)))


def _filter(resource_type: str, name: str, raw: str, depth: int = 0) -> Filter:
    if name.startswith("_has:"):
        return _has(resource_type, name, raw, depth)
    if "." in name.partition(":")[2] or "." in name.partition(":")[0]:
        return _chained(resource_type, name, raw, depth)
    base, _, modifier = name.partition(":")
    if base in COMMON_PARAMS and modifier == "missing":
        if raw not in ("true", "false"):
            raise invalid(f"{name} takes true or false")
        return Filter(base, "id", modifier="missing", missing=raw == "true")  # always there
    if base == "_id" and not modifier:
        return Filter(name, "id", ids=tuple(_split(raw)))
    if base == "_lastUpdated" and not modifier:
        return Filter(name, "lastUpdated", dates=tuple(parse_date_value(v) for v in _split(raw)))
    param = SEARCH_PARAMS[resource_type].get(base)
    if param is None:
        raise invalid(f"unknown search parameter {base!r} for {resource_type}")
    if modifier == "missing":
        if raw not in ("true", "false"):
            raise invalid(f"{name} takes true or false")
        return Filter(base, param.kind.value, modifier="missing", missing=raw == "true")
    kind = param.kind
    if kind is ParamKind.REFERENCE:
        target = _targets(param, modifier)[0] if modifier else None
        refs = tuple(parse_reference(param, v, target) for v in _values(name, raw))
        return Filter(base, kind.value, references=refs, modifier=modifier or None)
    if modifier and modifier not in _MODIFIERS.get(kind, frozenset()):
        raise invalid(f"modifier :{modifier} is not supported on {kind.value} parameter {base}")
    values = _values(name, raw)
    mod = modifier or None
    if kind is ParamKind.TOKEN:
        if mod == "text":
            return Filter(
                base, kind.value, strings=tuple(normalize_text(v) for v in values), modifier=mod
            )
        return Filter(base, kind.value, tokens=tuple(parse_token(v) for v in values), modifier=mod)
    if kind is ParamKind.STRING:
        texts = values if mod == "exact" else [normalize_text(v) for v in values]
        return Filter(base, kind.value, strings=tuple(texts), modifier=mod)
    if kind is ParamKind.URI:
        return Filter(base, kind.value, strings=tuple(values), modifier=mod)
    if kind is ParamKind.NUMBER:
        return Filter(base, kind.value, numbers=tuple(parse_number(v) for v in values))
    if kind is ParamKind.QUANTITY:
        return Filter(base, kind.value, quantities=tuple(parse_quantity(v) for v in values))
    if kind is ParamKind.COMPOSITE:
        return Filter(base, kind.value, composites=tuple(_composite(param, v) for v in values))
    return Filter(base, kind.value, dates=tuple(parse_date_value(v) for v in values))


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
        if name not in ("_id", "_lastUpdated") and (param is None or param.kind not in SORTABLE):
            raise invalid(f"cannot sort by {name}")
        keys.append((name, descending))
    return keys


SORTABLE = frozenset(
    {
        ParamKind.DATE,
        ParamKind.STRING,
        ParamKind.TOKEN,
        ParamKind.NUMBER,
        ParamKind.QUANTITY,
        ParamKind.URI,
    }
)


def _include(resource_type: str, name: str, raw: str, reverse: bool) -> Include:
    what = "_revinclude" if reverse else "_include"
    iterate = name.partition(":")[2] in ("iterate", "recurse")
    if name.partition(":")[2] and not iterate:
        raise invalid(f"{name} is not supported")
    parts = raw.split(":")
    if len(parts) not in (2, 3) or parts[0] not in STORED_TYPES:
        raise invalid(f"{what} {raw!r} must be Type:param[:Target]")
    if not reverse and not iterate and parts[0] != resource_type:
        raise invalid(f"_include {raw!r} must start with {resource_type}")
    param = SEARCH_PARAMS[parts[0]].get(parts[1])
    if param is None or param.kind is not ParamKind.REFERENCE:
        raise invalid(f"{what} {raw!r} names no reference parameter")
    target = parts[2] if len(parts) == 3 else None
    if target is not None and (
        target not in STORED_TYPES or (param.targets and target not in param.targets)
    ):
        raise invalid(f"{what} {raw!r}: {parts[1]} does not refer to {target}")
    return Include(parts[0], parts[1], target, iterate)


_SUMMARIES = ("true", "text", "data", "count", "false")


def _result(plan: SearchPlan, name: str, raw: str, lenient: bool) -> None:
    base = name.split(":")[0]
    resource_type = plan.resource_type
    if base == "_count":
        plan.count = bounded_int(name, raw, 0, MAX_COUNT)
    elif base == "_getpagesoffset":
        plan.offset = bounded_int(name, raw, 0, 10**9)
    elif base == "_sort":
        plan.sort = _sort(resource_type, raw)
    elif base == "_include":
        plan.includes.append(_include(resource_type, name, raw, reverse=False))
    elif base == "_revinclude":
        plan.revincludes.append(_include(resource_type, name, raw, reverse=True))
    elif base == "_summary":
        if raw not in _SUMMARIES:
            raise invalid(f"_summary={raw} is not one of {', '.join(_SUMMARIES)}")
        plan.summary_count = raw == "count"
        plan.summary = raw if raw in ("true", "text", "data") else None
    elif base == "_total":
        if raw not in ("none", "estimate", "accurate"):
            raise invalid("_total is none, estimate or accurate")
        plan.total_accurate = raw == "accurate"
        plan.total_none = raw == "none"
    elif base == "_elements":
        plan.elements = tuple(e.strip() for e in _split(raw) if e.strip())
    elif not lenient and base != "_format":
        raise invalid(f"{base} is not supported")


def build_plan(
    resource_type: str, params: list[tuple[str, str]], lenient: bool = False
) -> SearchPlan:
    """The plan for a search of RESOURCE_TYPE; unknown parameters are a 400 unless lenient
    (a known parameter with a bad value or modifier is a 400 either way)."""
    plan = SearchPlan(resource_type)
    known = SEARCH_PARAMS[resource_type]
    for name, raw in params:
        base = name.split(":")[0].split(".")[0]
        if base in RESULT_PARAMS:
            _result(plan, name, raw, lenient)
        elif base in COMMON_PARAMS or base in known or base == "_has":
            plan.filters.append(_filter(resource_type, name, raw))
        elif not lenient:
            raise invalid(f"unknown search parameter {name!r} for {resource_type}")
    return plan


def plan_patient(plan: SearchPlan) -> str | None:
    """The one patient a plan is restricted to by a plain `patient`/`subject` filter, if any."""
    for flt in plan.filters:
        if (
            flt.name in ("patient", "subject")
            and flt.kind == "reference"
            and flt.modifier in (None, "Patient")
            and len(flt.references) == 1
        ):
            ref = flt.references[0]
            if ref.startswith("Patient/"):
                return ref
    return None
