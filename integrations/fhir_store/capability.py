"""The CapabilityStatement: exactly what this server supports (pure)."""

from __future__ import annotations

from typing import Any

from integrations.fhir_store.params import SEARCH_PARAMS, STORED_TYPES
from integrations.fhir_store.smart_config import security

_INTERACTIONS = (
    "read",
    "vread",
    "update",
    "delete",
    "create",
    "search-type",
    "history-instance",
    "history-type",
)
_COMMON = ({"name": "_id", "type": "token"}, {"name": "_lastUpdated", "type": "date"})


def capability_statement(
    base_url: str, instant: str, smart: tuple[str | None, str | None] = (None, None)
) -> dict[str, Any]:
    """The CapabilityStatement served at `/metadata`; SMART is (origin, OAuth path) of the
    service answering OAuth for the store (smart_config.py), if any."""
    resources = []
    for rtype in sorted(STORED_TYPES):
        params = [dict(p) for p in _COMMON] + [
            {"name": p.name, "type": p.kind.value}
            for p in sorted(SEARCH_PARAMS[rtype].values(), key=lambda p: p.name)
        ]
        entry: dict[str, Any] = {
            "type": rtype,
            "interaction": [{"code": code} for code in _INTERACTIONS],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalUpdate": True,
            "conditionalDelete": "single",
            "searchInclude": [
                f"{rtype}:{p.name}"
                for p in SEARCH_PARAMS[rtype].values()
                if p.kind.value == "reference"
            ],
            "searchParam": params,
        }
        if rtype == "Observation":
            entry["operation"] = [
                {
                    "name": "lastn",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Observation-lastn",
                }
            ]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant,
        "kind": "instance",
        "software": {"name": "carebot FHIR store"},
        "implementation": {"description": "carebot embedded FHIR R4 store", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": security(*smart),
                "resource": resources,
                "interaction": [
                    {"code": "transaction"},
                    {"code": "batch"},
                    {"code": "history-system"},
                ],
            }
        ],
    }
