"""PATCH bodies applied to a resource (pure): JSON Patch, FHIRPath Patch and merge patch.

- `application/json-patch+json`: RFC 6902 (through the `jsonpatch` library).
- `application/fhir+json` with a Parameters body: FHIRPath Patch (fhirpath_patch.py).
- `application/merge-patch+json`, and `application/json` with an object body: RFC 7386
  merge patch (what fhirpy's `patch()` sends); `application/json` with an array body is
  taken as JSON Patch.

A malformed patch document is a 400; a patch that cannot be applied to this resource (a
path that is not there, a failed `test`) is a 422. Neither changes anything: the result is
a new document, validated by the caller before it is written.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from integrations.fhir_store.fhirpath_patch import apply_fhirpath_patch
from integrations.fhir_store.outcome import StoreError, invalid

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, "application/fhir+json", "application/json")


def unprocessable(diagnostics: str) -> StoreError:
    """422: a well-formed patch that cannot be applied, or whose result is not valid."""
    return StoreError(422, diagnostics, "processing")


def apply_patch(document: dict[str, Any], content_type: str, body: Any) -> dict[str, Any]:
    """DOCUMENT patched by BODY (sent as CONTENT_TYPE); DOCUMENT itself is left unchanged."""
    if content_type == JSON_PATCH or (
        content_type == "application/json" and isinstance(body, list)
    ):
        return apply_json_patch(document, body)
    if content_type == MERGE_PATCH or content_type == "application/json":
        if not isinstance(body, dict):
            raise invalid("a merge patch is a JSON object")
        patched = merge_patch(document, body)
        if not isinstance(patched, dict):
            raise unprocessable("the merge patch does not leave a resource")
        return patched
    if content_type == "application/fhir+json":
        if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
            raise invalid("a FHIRPath Patch is a Parameters resource")
        return apply_fhirpath_patch(document, body)
    raise StoreError(415, f"PATCH does not take {content_type!r}", "not-supported")


def apply_json_patch(document: dict[str, Any], operations: Any) -> dict[str, Any]:
    """DOCUMENT after the RFC 6902 OPERATIONS."""
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise invalid("a JSON Patch is an array of operation objects")
    if not operations:
        raise invalid("the JSON Patch has no operations")
    try:
        patch = jsonpatch.JsonPatch(operations)  # checks each operation's op and path
    except (jsonpatch.InvalidJsonPatch, jsonpointer.JsonPointerException, TypeError) as error:
        raise invalid(f"invalid JSON Patch: {error}") from error
    try:
        patched = patch.apply(copy.deepcopy(document))
    except jsonpatch.InvalidJsonPatch as error:  # a member only checked when applied
        raise invalid(f"invalid JSON Patch: {error}") from error
    except jsonpatch.JsonPatchTestFailed as error:
        raise unprocessable(f"JSON Patch test failed: {error}") from error
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as error:
        raise unprocessable(f"JSON Patch cannot be applied: {error}") from error
    except (TypeError, ValueError, IndexError, KeyError) as error:
        raise unprocessable(f"JSON Patch cannot be applied: {error}") from error
    if not isinstance(patched, dict):
        raise unprocessable("the JSON Patch does not leave a resource")
    return patched


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 section 2: TARGET with the merge PATCH applied (a new value)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out
