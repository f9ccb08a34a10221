"""A transaction's conditional creates by identifier, resolved in one query (the gateway's
idempotent uploads: `ifNoneExist: identifier=system|value` on every entry).

Entry by entry, each conditional create costs a flush and a search under the write lock.
When every condition of a transaction is one `identifier=system|value` and no resource
refers to another entry by `urn:uuid:` (so no reference waits on what a condition
resolves to), all of them are looked up at once: one query per resource type over the
identifier index rows, restricted as any conditional write is (the caller's compartment,
current resources only). The answers match the one-by-one way: a match is returned (200),
several matches are a 412, and a second entry with the same identifier in the bundle
matches the first one's creation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import and_, false, select

from integrations.fhir_store.access import Access
from integrations.fhir_store.outcome import StoreError
from integrations.fhir_store.records import Stored
from integrations.fhir_store.sql import R, S, current_versions, to_stored, visible
from integrations.fhir_store.writer import Writer

# (resource type, identifier system, identifier value)
IdentifierKey = tuple[str, str, str]


def _mentions_urn(node: Any) -> bool:
    if isinstance(node, dict):
        reference = node.get("reference")
        if isinstance(reference, str) and reference.startswith("urn:"):
            return True
        return any(_mentions_urn(v) for v in node.values() if isinstance(v, (dict, list)))
    if isinstance(node, list):
        return any(_mentions_urn(v) for v in node)
    return False


def identifier_key(resource_type: str, condition: str) -> IdentifierKey | None:
    """The key of a condition that is exactly one `identifier=system|value`, else None."""
    params = parse_qsl(condition, keep_blank_values=True)
    if len(params) != 1 or params[0][0] != "identifier" or "," in params[0][1]:
        return None
    system, bar, value = params[0][1].partition("|")
    if not bar or not system or not value:
        return None
    return resource_type, system, value


def batched_conditions(
    entries: Sequence[tuple[int, str, str | None, dict[str, Any] | None]],
) -> dict[int, IdentifierKey] | None:
    """For ENTRIES (index, method, ifNoneExist, resource) the key of each conditional
    create, when all of them can be resolved at once (see the module); None otherwise."""
    keys: dict[int, IdentifierKey] = {}
    for index, method, condition, resource in entries:
        if method not in ("POST", "GET"):
            return None  # a delete or update before the creates could change their matches
        if resource is not None and _mentions_urn(resource):
            return None
        if method == "POST" and condition and resource is not None:
            key = identifier_key(str(resource.get("resourceType")), condition)
            if key is None:
                return None
            keys[index] = key
    return keys or None


async def find_matches(
    writer: Writer, keys: Sequence[IdentifierKey], access: Access
) -> dict[IdentifierKey, Stored]:
    """The one current resource ACCESS's compartment holds for each key that has one;
    412 when a key matches several."""
    by_type: dict[str, set[str]] = defaultdict(set)
    for rtype, _, value in keys:
        by_type[rtype].add(value)
    wanted = set(keys)
    in_compartment = Access(access.compartment)
    found: dict[IdentifierKey, set[str]] = defaultdict(set)
    for rtype, values in by_type.items():
        stmt = (
            select(S.system, S.value, S.res_id)
            .join(R, and_(R.res_type == S.res_type, R.res_id == S.res_id))
            .where(
                S.res_type == rtype,
                S.param == "identifier",
                S.value.in_(sorted(values)),
                R.deleted == false(),
                *visible(in_compartment, rtype),
            )
        )
        for row in (await writer.session.execute(stmt)).all():
            key = (rtype, row.system or "", row.value or "")
            if key in wanted:
                found[key].add(row.res_id)
    several = sorted(k for k, ids in found.items() if len(ids) > 1)
    if several:
        rtype, system, value = several[0]
        raise StoreError(
            412,
            f"{rtype}?identifier={system}|{value} matches several resources",
            "multiple-matches",
        )
    out: dict[IdentifierKey, Stored] = {}
    for rtype in by_type:
        ids = {next(iter(v)): k for k, v in found.items() if k[0] == rtype}
        if not ids:
            continue
        current = current_versions(R.res_type == rtype, R.res_id.in_(sorted(ids)))
        for version in (await writer.session.execute(current)).all():
            out[ids[version.res_id]] = to_stored(version)
    return out
