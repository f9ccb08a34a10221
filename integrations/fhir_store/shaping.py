"""`_summary` and `_elements`: the parts of a resource a search returns (pure).

R4 3.1.1.5.7 and 3.1.1.5.8: a shaped resource keeps its `resourceType`, `id` and `meta`,
and carries the SUBSETTED tag so no client takes it for the whole resource.
"""

from __future__ import annotations

from typing import Any

from integrations.fhir_store.params import SUMMARY_ELEMENTS

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
_ALWAYS = frozenset({"resourceType", "id", "meta"})
# `text` keeps the narrative and the elements a resource cannot be without
_TEXT = frozenset({"text", "status"})


def _keeps(key: str, names: frozenset[str]) -> bool:
    """True when KEY (`valueQuantity`) is one of NAMES, a choice element by its stem too."""
    if key in names:
        return True
    return any(n.endswith("[x]") and key.startswith(n[:-3]) for n in names)


def _subsetted(resource: dict[str, Any], keep: frozenset[str]) -> dict[str, Any]:
    out = {k: v for k, v in resource.items() if k in _ALWAYS or _keeps(k, keep)}
    meta = dict(out.get("meta", {}))
    tags = [t for t in meta.get("tag", []) if t.get("code") != "SUBSETTED"]
    meta["tag"] = [*tags, SUBSETTED]
    out["meta"] = meta
    return out


def shape(
    resource: dict[str, Any], summary: str | None, elements: tuple[str, ...]
) -> dict[str, Any]:
    """RESOURCE as `_summary` (true, text, data) and `_elements` ask for it."""
    if elements:
        return _subsetted(resource, frozenset(elements))
    if summary == "true":
        names = frozenset(SUMMARY_ELEMENTS.get(resource.get("resourceType", ""), ()))
        return _subsetted(resource, names)
    if summary == "text":
        return _subsetted(resource, _TEXT)
    if summary == "data":
        return _subsetted(resource, frozenset(k for k in resource if k != "text"))
    return resource
