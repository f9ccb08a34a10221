"""The CapabilityStatement: exactly what this server supports (pure)."""

from __future__ import annotations

from typing import Any

from integrations.codes import CAREBOT_BASE_URL
from integrations.fhir_store.params import SEARCH_PARAMS, STORED_TYPES, ParamKind, SearchParam
from integrations.fhir_store.smart_config import security
from integrations.fhir_store.subscription_rules import FHIR_JSON, REST_HOOK

_INTERACTIONS = (
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "create",
    "search-type",
    "history-instance",
    "history-type",
)
# The Subscription channel types served (R4 has no element for it: our own extension).
CHANNEL_EXTENSION = f"{CAREBOT_BASE_URL}/StructureDefinition/subscription-channel-type"
_SUBSCRIPTION_DOC = (
    f"R4 Subscriptions: channel {REST_HOOK} only; payload {FHIR_JSON} (the resource is PUT "
    "to [endpoint]/[type]/[id]) or none (an empty POST to the endpoint); criteria are "
    "searches of this server; retried with back-off, then status error"
)
_COMMON = ({"name": "_id", "type": "token"}, {"name": "_lastUpdated", "type": "date"})


def _operation(name: str, definition: str) -> dict[str, str]:
    return {"name": name, "definition": f"http://hl7.org/fhir/OperationDefinition/{definition}"}


def _export(name: str) -> dict[str, str]:
    # Bulk Data Access IG 2.0 (bulk.py)
    url = f"http://hl7.org/fhir/uv/bulkdata/OperationDefinition/{name}"
    return {"name": "export", "definition": url}


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


def capability_statement(
    base_url: str, instant: str, smart: tuple[str | None, str | None] = (None, None)
) -> dict[str, Any]:
    """The CapabilityStatement served at `/metadata`; SMART is (origin, OAuth path) of the
    service answering OAuth for the store (smart_config.py), if any."""
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
        operations = [_operation("validate", "Resource-validate")]
        if rtype == "Subscription":
            entry["documentation"] = _SUBSCRIPTION_DOC
            entry["extension"] = [{"url": CHANNEL_EXTENSION, "valueCode": REST_HOOK}]
        if rtype == "Observation":
            operations.append(_operation("lastn", "Observation-lastn"))
        if rtype == "Patient":
            operations.append(_operation("everything", "Patient-everything"))
            operations.append(_export("patient-export"))
        entry["operation"] = operations
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
                "operation": [_export("export")],
                "interaction": [
                    {"code": "transaction"},
                    {"code": "batch"},
                    {"code": "history-system"},
                ],
            }
        ],
    }
