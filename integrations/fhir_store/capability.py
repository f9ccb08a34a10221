"""The CapabilityStatement: exactly what this server supports (pure)."""

from __future__ import annotations

from typing import Any

from integrations.fhir_store.params import SEARCH_PARAMS, STORED_TYPES, ParamKind, SearchParam

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


_MODIFIERS = {
    ParamKind.TOKEN: ":missing, :not, :text",
    ParamKind.STRING: ":missing, :exact, :contains",
    ParamKind.REFERENCE: ":missing, :[type]; chained (two levels) and _has",
    ParamKind.URI: ":missing, :below",
}
_PREFIXED = (ParamKind.DATE, ParamKind.NUMBER, ParamKind.QUANTITY)


def _documentation(param: SearchParam) -> str:
    if param.kind in _PREFIXED:
        return "prefixes eq ne gt lt ge le sa eb ap; :missing"
    return _MODIFIERS.get(param.kind, ":missing")


def search_params(rtype: str) -> list[dict[str, str]]:
    """The searchParam entries of RTYPE: every parameter the store answers."""
    return [dict(p) for p in _COMMON] + [
        {
            "name": p.name,
            "definition": f"http://hl7.org/fhir/SearchParameter/{rtype}-{p.name}",
            "type": p.kind.value,
            "documentation": _documentation(p),
        }
        for p in sorted(SEARCH_PARAMS[rtype].values(), key=lambda p: p.name)
    ]


def rev_includes(rtype: str) -> list[str]:
    """`Source:param` of every reference parameter that may refer to RTYPE."""
    return sorted(
        f"{source}:{p.name}"
        for source, params in SEARCH_PARAMS.items()
        for p in params.values()
        if p.kind is ParamKind.REFERENCE and (not p.targets or rtype in p.targets)
    )


def capability_statement(base_url: str, instant: str) -> dict[str, Any]:
    """The CapabilityStatement served at `/metadata`."""
    resources = []
    for rtype in sorted(STORED_TYPES):
        params = search_params(rtype)
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
                if p.kind is ParamKind.REFERENCE
            ],
            "searchRevInclude": rev_includes(rtype),
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
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "description": "Bearer tokens of registered clients with SMART scopes",
                },
                "resource": resources,
                "interaction": [
                    {"code": "transaction"},
                    {"code": "batch"},
                    {"code": "history-system"},
                ],
            }
        ],
    }
