"""The connector's worker: normalise stored messages, resolve each device, group readings into
Observations and write them to the FHIR store; quarantined readings replay once paired.

Writes are `PUT Observation/<hashed id>` in transaction bundles, after merging with what the
store holds for the window, and only when the merged resource differs: a message sent twice,
or a batch retried after a crash, changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.observation import Observation

from integrations.fhir import FhirClient, FhirError, SearchQuery
from integrations.fhir.transactions import put_transaction
from integrations.iomt.identity import Resolver
from integrations.iomt.observations import GroupKey, Subject, build_observation, group, same_content
from integrations.iomt.store import ClaimedReading, IomtStore, Templates

log = logging.getLogger(__name__)

BUNDLE_SIZE = 100


@dataclass(frozen=True, slots=True)
class PassResult:
    """What one pass did."""

    messages: int
    readings: int
    observations_written: int


class IomtProcessor:
    """Moves messages through normalisation into Observations."""

    def __init__(
        self,
        store: IomtStore,
        fhir: FhirClient,
        resolver: Resolver,
        *,
        batch: int = 1000,
        replay_every_s: float = 2.0,
        idle_s: float = 0.05,
        linger_s: float = 0.5,
    ) -> None:
        self.store = store
        self.fhir = fhir
        self.resolver = resolver
        self.batch = batch
        self.replay_every_s = replay_every_s
        self.idle_s = idle_s
        self.linger_s = linger_s
        self._templates: Templates | None = None
        self._templates_checked = 0.0
        self._replayed = 0.0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New messages were stored: run a pass now."""
        self._wake.set()

    async def templates(self) -> Templates | None:
        """The active templates (re-read every second, so a load takes effect at once)."""
        if time.monotonic() - self._templates_checked > 1.0 or self._templates is None:
            self._templates = await self.store.active_templates()
            self._templates_checked = time.monotonic()
        return self._templates

    async def run_once(self) -> PassResult:
        """One pass: normalise, write, replay paired devices."""
        templates = await self.templates()
        if templates is None:
            return PassResult(0, 0, 0)
        messages = await self.store.normalise_pending(templates, self.batch)
        if time.monotonic() - self._replayed > self.replay_every_s:
            self._replayed = time.monotonic()
            await self.replay_paired()
        claimed = await self.store.claim_readings(self.batch)
        written = await self._write(claimed, templates) if claimed else 0
        return PassResult(messages, len(claimed), written)

    async def replay_paired(self) -> int:
        """Queue again the quarantined readings of devices that are now paired."""
        replayed = 0
        for device_id in await self.store.quarantined_devices():
            self.resolver.forget(device_id)
            probe = await self.store.probe_reading(device_id)
            if probe is not None and await self.resolver.resolve(probe) is not None:
                replayed += await self.store.replay(device_id)
        return replayed

    async def run(self) -> None:
        """Run passes until cancelled (the worker host's task)."""
        while True:
            try:
                result = await self.run_once()
            except (FhirError, OSError) as error:
                log.warning("iomt pass failed (%s); retrying", type(error).__name__)
                result = PassResult(0, 0, 0)
                await asyncio.sleep(1.0)
            if result.messages == 0 and result.readings == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_s)
            elif result.readings < self.batch:
                # let readings gather: one rewrite of a window's Observation serves them all
                await asyncio.sleep(self.linger_s)

    async def _subjects(self, claimed: Sequence[ClaimedReading]) -> dict[str, Subject | None]:
        firsts: dict[str, ClaimedReading] = {}
        for reading in claimed:
            firsts.setdefault(reading.measurement.device_id, reading)
        found = await asyncio.gather(
            *(self.resolver.resolve(r.measurement) for r in firsts.values())
        )
        return dict(zip(firsts, found, strict=True))

    async def _existing(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), BUNDLE_SIZE):
            chunk = ids[start : start + BUNDLE_SIZE]
            query = SearchQuery(Observation).param("_id", ",".join(chunk)).count(len(chunk))
            async for page in self.fhir.search_pages_json(query):
                for entry in page.get("entry") or []:
                    resource = entry.get("resource") or {}
                    if isinstance(resource.get("id"), str):
                        out[resource["id"]] = resource
        return out

    async def _write(self, claimed: Sequence[ClaimedReading], templates: Templates) -> int:
        try:
            subjects = await self._subjects(claimed)
            paired = [r for r in claimed if subjects[r.measurement.device_id] is not None]
            quarantined = [r.id for r in claimed if subjects[r.measurement.device_id] is None]
            groups = group(templates.fhir.by_type, (r.measurement for r in paired))
            existing = await self._existing([key.resource_id for key in groups])
            resources = [
                resource
                for key, measurements in groups.items()
                if (resource := self._build(key, measurements, templates, subjects, existing))
                is not None
            ]
            for start in range(0, len(resources), BUNDLE_SIZE):
                await self.fhir.post_bundle_json(
                    put_transaction(resources[start : start + BUNDLE_SIZE])
                )
        except BaseException:
            await self.store.release([r.id for r in claimed])
            raise
        await self.store.finish([r.id for r in paired], quarantined)
        return len(resources)

    @staticmethod
    def _build(
        key: GroupKey,
        measurements: Sequence[Any],
        templates: Templates,
        subjects: dict[str, Subject | None],
        existing: dict[str, dict[str, Any]],
    ) -> dict[str, Any] | None:
        subject = subjects[key.device_id]
        assert subject is not None
        stored = existing.get(key.resource_id)
        built = build_observation(
            templates.fhir.by_type[key.type_name], key, measurements, subject, stored
        )
        return None if stored is not None and same_content(stored, built) else built
