"""Search index rows pulled from a resource's JSON (pure)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from integrations.fhir_store.dates import DateFormatError, parse_range
from integrations.fhir_store.params import (
    DATED_BY,
    SEARCH_PARAMS,
    ParamKind,
    SearchParam,
    patient_param,
)

MIN_DATE = datetime(1, 1, 1)
MAX_DATE = datetime(9999, 12, 31)


@dataclass(frozen=True)
class IndexRow:
    """One searchable value of one parameter of a resource.

    `text` is what a row is matched by besides its value: a string's exact text (its
    `value` is the normalized text), a token's display, a composite's second part."""

    param: str
    system: str | None = None
    value: str | None = None
    low: datetime | None = None
    high: datetime | None = None
    number_low: float | None = None
    number_high: float | None = None
    text: str | None = None


_FILTER = re.compile(r"^(\w+)\[(\w+)=([^\]]*)\]$")
_TEXT_MAX = 512
# ranges without one of their ends reach as far as a float does
NUMBER_MIN, NUMBER_MAX = -1e300, 1e300


def normalize_text(text: str) -> str:
    """TEXT as string searches compare it: accents removed, case folded (R4 3.1.1.5.9)."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.casefold()[:_TEXT_MAX]


def walk(node: Any, path: str) -> Iterator[Any]:
    """Every value at a dotted path, flattening lists on the way; `name[key=value]` keeps
    the elements whose KEY is VALUE; the empty path is NODE itself."""
    values: list[Any] = [node]
    for key in path.split(".") if path else ():
        match = _FILTER.match(key)
        name = match.group(1) if match else key
        nxt: list[Any] = []
        for value in values:
            if isinstance(value, dict) and name in value:
                child = value[name]
                nxt.extend(child if isinstance(child, list) else [child])
        if match:
            nxt = [
                v for v in nxt if isinstance(v, dict) and v.get(match.group(2)) == match.group(3)
            ]
        values = nxt
    yield from values


def _display(text: Any) -> str | None:
    return normalize_text(text) if isinstance(text, str) else None


def _tokens(
    value: Any, text: str | None = None
) -> Iterator[tuple[str | None, str | None, str | None]]:
    """(system, code, normalized display) of a token value; a concept with text only
    gives a row without a code (`:text` finds it)."""
    if isinstance(value, bool):
        yield None, "true" if value else "false", None
    elif isinstance(value, str):
        yield None, value[:_TEXT_MAX], None
    elif isinstance(value, dict):
        if "coding" in value or ("text" in value and "value" not in value):
            own = _display(value.get("text"))
            codings = value.get("coding") or []
            for coding in codings:
                yield from _tokens(coding, own)
            if not codings and own:
                yield None, None, own
        elif isinstance(value.get("code"), str):
            yield (
                value.get("system"),
                value["code"][:_TEXT_MAX],
                _display(value.get("display")) or text,
            )
        elif isinstance(value.get("value"), str):
            yield value.get("system"), value["value"][:_TEXT_MAX], None


def _strings(value: Any) -> Iterator[str]:
    """Every string of a string-searched value (a HumanName's or Address's parts too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in ("use", "period", "extension", "id", "type"):
                yield from _strings(item)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _numbers(value: Any) -> Iterator[tuple[float, float, str | None, str | None]]:
    """(low, high, unit system, unit code) of a number, Quantity or Range."""
    if (number := _number(value)) is not None:
        yield number, number, None, None
    elif isinstance(value, dict) and (number := _number(value.get("value"))) is not None:
        unit = value.get("code") or value.get("unit")
        yield number, number, value.get("system"), unit if isinstance(unit, str) else None
    elif isinstance(value, dict) and ("low" in value or "high" in value):
        low, high = value.get("low", {}), value.get("high", {})
        start = _number(low.get("value")) if isinstance(low, dict) else None
        end = _number(high.get("value")) if isinstance(high, dict) else None
        either = low if start is not None else high
        if (start is None and end is None) or not isinstance(either, dict):
            return
        unit = either.get("code") or either.get("unit")
        yield (
            NUMBER_MIN if start is None else start,
            NUMBER_MAX if end is None else end,
            either.get("system"),
            unit if isinstance(unit, str) else None,
        )


def normalize_reference(reference: str) -> str:
    """`Type/id` from a relative or absolute literal reference (history suffix dropped)."""
    parts = reference.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) >= 2:
        return f"{parts[-2]}/{parts[-1]}"
    return reference


def rewrite_references(node: Any, mapping: dict[str, str]) -> Any:
    """A copy of NODE whose `reference` values found in MAPPING are replaced by theirs."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and value in mapping:
                out[key] = mapping[value]
            else:
                out[key] = rewrite_references(value, mapping)
        return out
    if isinstance(node, list):
        return [rewrite_references(item, mapping) for item in node]
    return node


def _references(value: Any, canonical: bool = False) -> Iterator[str]:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        yield normalize_reference(value["reference"])
    elif canonical and isinstance(value, str):
        yield value[:_TEXT_MAX]  # a canonical URL (QuestionnaireResponse.questionnaire)


def _dates(value: Any) -> Iterator[tuple[datetime, datetime]]:
    try:
        if isinstance(value, str):
            yield parse_range(value)
        elif isinstance(value, dict) and ("start" in value or "end" in value):
            low = parse_range(value["start"])[0] if "start" in value else MIN_DATE
            high = parse_range(value["end"])[1] if "end" in value else MAX_DATE
            yield low, high
    except DateFormatError:
        return


def _value_rows(
    name: str, kind: ParamKind, value: Any, targets: tuple[str, ...]
) -> Iterator[IndexRow]:
    """The index rows of one value of a parameter of KIND."""
    if kind is ParamKind.TOKEN:
        for system, code, text in _tokens(value):
            yield IndexRow(name, system=system, value=code, text=text)
    elif kind is ParamKind.REFERENCE:
        for ref in _references(value, canonical=True):
            if not targets or ref.split("/")[0] in targets or "/" not in ref or "://" in ref:
                yield IndexRow(name, value=ref)
    elif kind is ParamKind.DATE:
        for low, high in _dates(value):
            yield IndexRow(name, low=low, high=high)
    elif kind is ParamKind.STRING:
        for text in _strings(value):
            yield IndexRow(name, value=normalize_text(text), text=text[:_TEXT_MAX])
    elif kind is ParamKind.URI:
        if isinstance(value, str):
            yield IndexRow(name, value=value[:_TEXT_MAX])
    elif kind in (ParamKind.NUMBER, ParamKind.QUANTITY):
        for start, end, system, unit in _numbers(value):
            row = IndexRow(name, number_low=start, number_high=end)
            yield replace(row, system=system, value=unit) if kind is ParamKind.QUANTITY else row


def _second_part(row: IndexRow) -> dict[str, Any]:
    """A composite's second component as the columns it takes in the composite's row."""
    if row.number_low is not None:
        unit = f"{row.system or ''}|{row.value}" if row.value else None
        return {"number_low": row.number_low, "number_high": row.number_high, "text": unit}
    if row.low is not None:
        return {"low": row.low, "high": row.high}
    if row.text is not None and row.param == "":
        return {"text": row.value}  # a string: its normalized text
    return {"text": f"{row.system or ''}|{row.value}" if row.value is not None else None}


def _composite_rows(resource: dict[str, Any], param: SearchParam) -> Iterator[IndexRow]:
    first, second = param.components
    for path in param.paths:
        for element in walk(resource, path):
            heads = [
                r
                for p in first.paths
                for v in walk(element, p)
                for r in _value_rows(param.name, first.kind, v, ())
            ]
            kind = second.kind
            tails = [
                r
                for p in second.paths
                for v in walk(element, p)
                for r in _value_rows("" if kind is ParamKind.STRING else param.name, kind, v, ())
            ]
            for head in heads:
                for tail in tails:
                    yield IndexRow(
                        param.name, system=head.system, value=head.value, **_second_part(tail)
                    )


def index_param(resource: dict[str, Any], param: SearchParam) -> Iterator[IndexRow]:
    """The index rows of one parameter."""
    if param.kind is ParamKind.COMPOSITE:
        yield from _composite_rows(resource, param)
        return
    for path in param.paths:
        if path.partition(".")[0].partition("[")[0] not in resource:
            continue  # most paths are absent from most resources: skip the walk
        for value in walk(resource, path):
            yield from _value_rows(param.name, param.kind, value, param.targets)


def index_resource(resource: dict[str, Any]) -> list[IndexRow]:
    """Every index row of a resource, duplicates removed; aliases have none of their own.

    In a type of DATED_BY every row without a date of its own carries the resource's.
    """
    params = SEARCH_PARAMS.get(resource["resourceType"], {})
    rows: dict[IndexRow, None] = {}
    for param in params.values():
        if param.stored_as:
            continue
        for row in index_param(resource, param):
            rows[row] = None
    dated_by = DATED_BY.get(resource["resourceType"])
    stamp = (
        next(index_param(resource, replace(params[dated_by], stored_as=())), None)
        if dated_by
        else None
    )
    if stamp is None:
        return list(rows)
    return [r if r.low is not None else replace(r, low=stamp.low, high=stamp.high) for r in rows]


def compartment_patient(resource: dict[str, Any]) -> str | None:
    """`Patient/id` of the patient whose compartment holds this resource, if any."""
    if resource["resourceType"] == "Patient":
        return f"Patient/{resource['id']}"
    param = patient_param(resource["resourceType"])
    if param is None:
        return None
    for row in index_param(resource, param):
        return row.value
    return None
