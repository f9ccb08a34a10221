"""What the store hands out and takes in: stored versions, write results, prepared
resources, search pages, and the pure work done before a write (ids, meta, index rows)."""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from integrations.fhir_store.dates import format_instant
from integrations.fhir_store.extract import compartment_patient, index_resource
from integrations.fhir_store.outcome import StoreError
from integrations.fhir_store.params import REFERENCE_PARAMS, STORED_TYPES

EARLIEST = datetime(1, 1, 1)
# A fhir_search row: the values of SEARCH_COLUMNS
SearchRow = tuple[
    str,
    str,
    str,
    str | None,
    str | None,
    str | None,
    datetime | None,
    datetime | None,
    float | None,
    float | None,
    str | None,
]
SEARCH_COLUMNS = (
    "res_type",
    "res_id",
    "param",
    "patient",
    "system",
    "value",
    "low",
    "high",
    "number_low",
    "number_high",
    "text",
)


@dataclass(frozen=True)
class Stored:
    """One version of a resource as stored; content is None for a deletion."""

    resource_type: str
    resource_id: str
    version_id: int
    last_updated: datetime
    content: dict[str, Any] | None
    method: str = "PUT"

    @property
    def etag(self) -> str:
        """The weak ETag of this version."""
        return f'W/"{self.version_id}"'

    @property
    def reference(self) -> str:
        """`Type/id`."""
        return f"{self.resource_type}/{self.resource_id}"


@dataclass(frozen=True)
class WriteResult:
    """A write's outcome: the version now current and whether it was created (201)."""

    stored: Stored
    created: bool


@dataclass(frozen=True)
class NewResource:
    """A resource ready to be created: all but its version stamp, worked out before the
    write lock is taken (the lock serialises writers, so work done under it is costly)."""

    resource_type: str
    resource_id: str
    meta: dict[str, Any]  # the meta the client sent
    head: str  # the resource as JSON, with its id and without meta
    patient: str | None
    index: list[SearchRow]


def prepare_create(document: dict[str, Any], resource_id: str | None = None) -> NewResource:
    """DOCUMENT made ready for creation with RESOURCE_ID (a new id if None)."""
    resource_type = document["resourceType"]
    check_type(resource_type)
    rid = resource_id or new_id()
    body = {"resourceType": resource_type, "id": rid}
    body.update({k: v for k, v in document.items() if k not in ("resourceType", "id", "meta")})
    meta = dict(document.get("meta") or {})
    # meta's tags, profiles, security labels and source are searched too (`_tag`, ...)
    patient, rows = search_rows(resource_type, rid, {**body, "meta": meta} if meta else body)
    return NewResource(resource_type, rid, meta, dump_json(body), patient, rows)


@dataclass
class SearchResult:
    """A page of matches, the included resources and the total when known."""

    matches: list[Stored]
    included: list[Stored] = field(default_factory=list)
    total: int | None = None
    has_more: bool = False


def new_id() -> str:
    """A fresh logical id: a time-ordered UUID (version 7 layout, RFC 9562).

    Ids that grow with time keep every index keyed by id append-mostly, so a bulk load
    touches a few pages per table instead of a random page per row.
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def utcnow() -> datetime:
    """Now, naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def with_meta(
    document: dict[str, Any], resource_id: str, version: int, ts: datetime
) -> dict[str, Any]:
    """A copy of DOCUMENT with id, meta.versionId and meta.lastUpdated set."""
    meta = dict(document.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = format_instant(ts)
    out = {"resourceType": document["resourceType"], "id": resource_id}
    out.update({k: v for k, v in document.items() if k not in ("resourceType", "id", "meta")})
    out["meta"] = meta
    return out


def dump_json(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def search_rows(
    resource_type: str, resource_id: str, document: dict[str, Any]
) -> tuple[str | None, list[SearchRow]]:
    """The compartment patient of a resource and its `fhir_search` rows (pure).

    A reference to the resource's own patient is stored without its value (the row's
    `patient` holds it; see `_reference_condition`): stored, those values would spread the
    rows of a bulk load over `ix_fhir_search_value` at one place per patient.
    """
    patient = compartment_patient(document)
    references = REFERENCE_PARAMS.get(resource_type, frozenset())
    rows = [
        (
            resource_type,
            resource_id,
            r.param,
            patient,
            r.system,
            None if r.value == patient and r.param in references else r.value,
            r.low,
            r.high,
            r.number_low,
            r.number_high,
            r.text,
        )
        for r in index_resource(document)
    ]
    return patient, rows


def check_type(resource_type: str) -> None:
    if resource_type not in STORED_TYPES:
        raise StoreError(404, f"resource type {resource_type} is not stored here", "not-supported")
