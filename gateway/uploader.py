"""Uploads the outbox to a FHIR server as transaction bundles of conditional creates.

Observations go as `POST Observation` with `ifNoneExist: identifier=<system>|<value>` (their
deterministic identifier), Devices as `PUT Device/<id>`, so re-sending a bundle whose answer
was lost (a killed gateway, a dropped connection) stores nothing twice. Transport errors,
429 and 5xx keep the batch and back off exponentially; a 4xx on a batch is narrowed down by
sending its entries one by one, and only an entry the server refuses on its own is set
aside as rejected (kept in the buffer and listed by status, never dropped).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.buffer import FrameBuffer, OutboxItem
from gateway.codes import OBSERVATION_IDENTIFIER_SYSTEM

log = logging.getLogger(__name__)


class BundlePoster(Protocol):
    """What the uploader needs of a FHIR client (`integrations.fhir.FhirClient` fits)."""

    async def post_bundle_json(self, bundle: Mapping[str, Any]) -> dict[str, Any]:
        """POST a transaction bundle; raises on an error status."""
        ...


class UploadFailed(Exception):
    """The batch could not be delivered now (server down, 5xx, 429, auth); try again later."""


@dataclass(frozen=True, slots=True)
class UploadResult:
    """What one upload pass did."""

    uploaded: int
    rejected: int
    latencies_s: tuple[float, ...]


def _entry(item: OutboxItem) -> dict[str, Any]:
    resource = json.loads(item.resource_json)
    if item.method == "PUT":
        return {
            "fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, item.identifier)}",
            "resource": resource,
            "request": {"method": "PUT", "url": item.identifier},
        }
    return {
        "fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, item.identifier)}",
        "resource": resource,
        "request": {
            "method": "POST",
            "url": item.resource_type,
            "ifNoneExist": f"identifier={OBSERVATION_IDENTIFIER_SYSTEM}|{item.identifier}",
        },
    }


def transaction_bundle(items: Sequence[OutboxItem]) -> dict[str, Any]:
    """The transaction Bundle JSON for outbox items (pure)."""
    return {"resourceType": "Bundle", "type": "transaction", "entry": [_entry(i) for i in items]}


def _status(error: Exception) -> int:
    status = getattr(error, "status", None)
    return status if isinstance(status, int) else 0


def _retryable(status: int) -> bool:
    return status == 0 or status in (401, 403, 408, 429) or status >= 500


class Uploader:
    """Moves the buffer's outbox into the FHIR store."""

    def __init__(self, buffer: FrameBuffer, poster: BundlePoster, batch_size: int = 200) -> None:
        self.buffer = buffer
        self.poster = poster
        self.batch_size = batch_size

    async def _post(self, items: Sequence[OutboxItem]) -> None:
        try:
            await self.poster.post_bundle_json(transaction_bundle(items))
        except Exception as error:  # the FHIR client's errors, httpx's, OSError
            status = _status(error)
            if _retryable(status):
                raise UploadFailed(f"{status or 'transport'}: {error}") from error
            raise

    async def upload_batch(self) -> UploadResult:
        """Send one batch; UploadFailed when the server cannot take it now."""
        items = self.buffer.pending(self.batch_size)
        if not items:
            return UploadResult(0, 0, ())
        try:
            await self._post(items)
        except UploadFailed as error:
            self.buffer.set_state("last_upload_error", str(error))
            raise
        except Exception as error:
            log.warning("batch of %d refused (%s); sending entries one by one", len(items), error)
            return await self._one_by_one(items)
        wall = self.buffer.mark_uploaded(items)
        self.buffer.set_state("last_upload_error", "")
        return UploadResult(len(items), 0, tuple(wall - i.frame_wall for i in items))

    async def _one_by_one(self, items: Sequence[OutboxItem]) -> UploadResult:
        uploaded: list[OutboxItem] = []
        rejected = 0
        for item in items:
            try:
                await self._post([item])
            except UploadFailed:
                break  # the server went away: keep the rest for later
            except Exception as error:
                self.buffer.mark_rejected(item.item, f"{_status(error)}: {error}")
                rejected += 1
                continue
            uploaded.append(item)
        wall = self.buffer.mark_uploaded(uploaded)
        return UploadResult(len(uploaded), rejected, tuple(wall - i.frame_wall for i in uploaded))
