"""Search index rows pulled from a resource's JSON (pure)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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
    """One searchable value of one parameter of a resource."""

    param: str
    system: str | None = None
    value: str | None = None
    low: datetime | None = None
    high: datetime | None = None


def walk(node: Any, path: str) -> Iterator[Any]:
    """Every value at a dotted path, flattening lists on the way."""
    values: list[Any] = [node]
    for key in path.split("."):
        nxt: list[Any] = []
        for value in values:
            if isinstance(value, dict) and key in value:
                child = value[key]
                nxt.extend(child if isinstance(child, list) else [child])
        values = nxt
    yield from values


def _tokens(value: Any) -> Iterator[tuple[str | None, str]]:
    if isinstance(value, bool):
        yield None, "true" if value else "false"
    elif isinstance(value, str):
        yield None, value
    elif isinstance(value, dict):
        if "coding" in value:
            for coding in value["coding"]:
                yield from _tokens(coding)
        elif "code" in value and isinstance(value["code"], str):
            yield value.get("system"), value["code"]
        elif "value" in value and isinstance(value["value"], str):
            yield value.get("system"), value["value"]


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


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        yield normalize_reference(value["reference"])


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


def index_param(resource: dict[str, Any], param: SearchParam) -> Iterator[IndexRow]:
    """The index rows of one parameter."""
    for path in param.paths:
        if path.partition(".")[0] not in resource:
            continue  # most paths are absent from most resources: skip the walk
        for value in walk(resource, path):
            if param.kind is ParamKind.TOKEN:
                for system, code in _tokens(value):
                    yield IndexRow(param.name, system=system, value=code)
            elif param.kind is ParamKind.REFERENCE:
                for ref in _references(value):
                    if not param.targets or ref.split("/")[0] in param.targets:
                        yield IndexRow(param.name, value=ref)
            else:
                for low, high in _dates(value):
                    yield IndexRow(param.name, low=low, high=high)


def index_resource(resource: dict[str, Any]) -> list[IndexRow]:
    """Every index row of a resource, duplicates removed; aliases have none of their own.

    In a type of DATED_BY every row carries the resource's date range.
    """
    params = SEARCH_PARAMS.get(resource["resourceType"], {})
    rows: dict[IndexRow, None] = {}
    for param in params.values():
        if param.stored_as:
            continue
        for row in index_param(resource, param):
            rows[row] = None
    dated_by = DATED_BY.get(resource["resourceType"])
    stamp = next(index_param(resource, params[dated_by]), None) if dated_by else None
    if stamp is None:
        return list(rows)
    return [IndexRow(r.param, r.system, r.value, stamp.low, stamp.high) for r in rows]


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
