"""The PATCH interactions: `PATCH /Type/id` and conditional `PATCH /Type?criteria`.

The body (patch.py) is applied to the current version inside the write transaction, so
If-Match and the patch see the same version; the result must be a valid resource of the
same type and id (else 422), and is written as an update: a patient's token may not patch
a resource into naming another patient (access.check_writable).
"""

from __future__ import annotations

from typing import Any

from integrations.fhir_store.bundles import parse_if_match
from integrations.fhir_store.call import Call, Dispatched, read_json, stored_type, write_response
from integrations.fhir_store.outcome import StoreError, invalid
from integrations.fhir_store.patch import PATCH_TYPES, apply_patch, unprocessable
from integrations.fhir_store.scopes import Action
from integrations.fhir_store.validate import validate_resource
from integrations.fhir_store.writer import Change


def patch_change(resource_type: str, content_type: str, body: Any) -> Change:
    """The change a PATCH BODY makes: the patched document, checked as a resource."""

    def change(current: dict[str, Any]) -> dict[str, Any]:
        document = apply_patch(current, content_type, body)
        if document.get("resourceType") != resource_type:
            raise unprocessable("a patch may not change resourceType")
        if document.get("id") != current.get("id"):
            raise unprocessable("a patch may not change the id")
        try:
            return validate_resource(document, resource_type)
        except StoreError as error:
            if error.status != 400:
                raise
            raise StoreError(
                422,
                f"the patched resource is not valid: {error.diagnostics}",
                "processing",
                error.expression,
            ) from error

    return change


async def _change(call: Call, resource_type: str) -> Change:
    content_type = call.request.content_type
    body = await read_json(call, PATCH_TYPES)
    return patch_change(resource_type, content_type, body)


async def patch_instance(call: Call) -> Dispatched:
    """PATCH `/Type/id` (JSON Patch, FHIRPath Patch or merge patch), with If-Match."""
    rtype = stored_type(call)
    rid = call.request.match_info["id"]
    call.require(rtype, Action.UPDATE)
    change = await _change(call, rtype)
    if_match = parse_if_match(call.request.headers.get("If-Match"))
    result = await call.store.patch(rtype, rid, change, if_match, access=call.access)
    return write_response(call, result.stored, 200), Action.UPDATE, [result.stored.reference]


async def patch_conditional(call: Call) -> Dispatched:
    """PATCH `/Type?criteria`: the one match inside the caller's compartment (404 none,
    412 several)."""
    rtype = stored_type(call)
    call.require(rtype, Action.UPDATE)
    call.require(rtype, Action.SEARCH)
    query = call.request.query_string
    if not query:
        raise invalid("conditional patch needs search criteria")
    change = await _change(call, rtype)
    if_match = parse_if_match(call.request.headers.get("If-Match"))
    result = await call.store.conditional_patch(rtype, query, change, if_match, access=call.access)
    return write_response(call, result.stored, 200), Action.UPDATE, [result.stored.reference]
