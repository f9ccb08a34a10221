"""One write transaction: the clock it holds, the rows it queues, and the writes done in it
(create, update, delete and their conditional forms), async I/O.

A writer first locks its `fhir_clock` row (`lock`) and takes sequence numbers and unique,
increasing instants from it; rows are queued and written in batches (`flush`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import (
    delete,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.fhir_store.access import Access, check_writable
from integrations.fhir_store.dates import format_instant
from integrations.fhir_store.inserts import insert_many, insert_rows
from integrations.fhir_store.latest import (
    LatestKey,
    keep_newest,
    latest_candidates,
    merge_latest,
    recompute_latest,
)
from integrations.fhir_store.outcome import StoreError, invalid, not_found
from integrations.fhir_store.query import build_plan
from integrations.fhir_store.records import (
    SEARCH_COLUMNS,
    NewResource,
    SearchRow,
    Stored,
    WriteResult,
    check_type,
    dump_json,
    prepare_create,
    search_rows,
    utcnow,
    with_meta,
)
from integrations.fhir_store.sql import (
    R,
    S,
    current_row,
    current_versions,
    plan_conditions,
    to_stored,
)
from integrations.fhir_store.subscription_rules import SUBSCRIPTION, accept_subscription
from integrations.fhir_store.tables import FhirClockRow

# A patch: the new content of a resource from its current content (raises a StoreError).
Change = Callable[[dict[str, Any]], dict[str, Any]]

# The rows of fhir_clock: clinical writes (the change feed) and the store's own AuditEvents.
CLINICAL_CLOCK = 1
AUDIT_CLOCK = 2
# Audit sequence numbers start here (fhir_0007), far above any clinical one.
AUDIT_SEQ_BASE = 1 << 62


class Writer:
    """One write transaction: holds the clock lock and batches inserts."""

    def __init__(self, session: AsyncSession, clock: int = CLINICAL_CLOCK) -> None:
        self.session = session
        self.clock = clock
        self.seq = 0
        self.ts = datetime(1970, 1, 1)
        self.written = 0  # versions written in this transaction (ticks of the clock)
        self.resources: list[dict[str, Any]] = []
        self.versions: list[dict[str, Any]] = []
        self.index: list[SearchRow] = []
        # Observations written since the last flush: the newest per key, and the ids whose
        # old index rows were removed (updated or deleted) and may have been "latest".
        self.latest: dict[LatestKey, tuple[datetime, str]] = {}
        self.unlatest: set[str] = set()

    async def lock(self) -> None:
        # The UPDATE is the transaction's first statement: it takes the write lock (SQLite)
        # or the row lock (PostgreSQL) that every writer waits for, in commit order.
        await self.session.execute(
            update(FhirClockRow).where(FhirClockRow.id == self.clock).values(seq=FhirClockRow.seq)
        )
        row = (
            await self.session.execute(
                select(FhirClockRow.seq, FhirClockRow.ts).where(FhirClockRow.id == self.clock)
            )
        ).one()
        self.seq, self.ts = int(row.seq), row.ts

    def tick(self) -> tuple[int, datetime]:
        """The next sequence number and a unique, increasing instant."""
        self.seq += 1
        self.written += 1
        self.ts = max(utcnow(), self.ts + timedelta(microseconds=1))
        return self.seq, self.ts

    def add_index(
        self,
        resource_type: str,
        resource_id: str,
        document: dict[str, Any],
        subscriber: str | None = None,
    ) -> str | None:
        """Queue the index rows of a resource; returns its compartment patient (for a
        Subscription, SUBSCRIBER's: see `_subscribed`)."""
        patient, rows = search_rows(resource_type, resource_id, document)
        if resource_type == SUBSCRIPTION:
            patient, rows = subscriber, [(*r[:3], subscriber, *r[4:]) for r in rows]
        self.index += rows
        keep_newest(self.latest, latest_candidates(rows))
        return patient

    def add_created(self, new: NewResource, document: dict[str, Any]) -> WriteResult:
        """Queue the first version of a prepared resource (DOCUMENT is what it was made of)."""
        seq, ts = self.tick()
        meta = {**new.meta, "versionId": "1", "lastUpdated": format_instant(ts)}
        self.index += new.index
        keep_newest(self.latest, latest_candidates(new.index))
        self.resources.append(
            {
                "res_type": new.resource_type,
                "res_id": new.resource_id,
                "version_id": 1,
                "last_updated": ts,
                "deleted": False,
                "patient": new.patient,
            }
        )
        self.versions.append(
            {
                "seq": seq,
                "res_type": new.resource_type,
                "res_id": new.resource_id,
                "version_id": 1,
                "last_updated": ts,
                "method": "POST",
                # the same text as dumping BODY with META last, without dumping BODY again
                "content": f'{new.head[:-1]},"meta":{dump_json(meta)}}}',
                "patient": new.patient,
            }
        )
        content = with_meta(document, new.resource_id, 1, ts)
        stored = Stored(new.resource_type, new.resource_id, 1, ts, content, "POST")
        return WriteResult(stored, True)

    def _add_version(
        self,
        seq: int,
        resource_type: str,
        resource_id: str,
        version: int,
        method: str,
        content: str | None,
        patient: str | None,
    ) -> None:
        """Queue a version row after the first (stamped with the writer's last instant)."""
        self.versions.append(
            {
                "seq": seq,
                "res_type": resource_type,
                "res_id": resource_id,
                "version_id": version,
                "last_updated": self.ts,
                "method": method,
                "content": content,
                "patient": patient,
            }
        )

    async def drop_index(self, resource_type: str, resource_id: str) -> None:
        """Remove the index rows of a resource's current version (update or delete)."""
        await self.session.execute(
            delete(S).where(S.res_type == resource_type, S.res_id == resource_id)
        )
        if resource_type == "Observation":
            self.unlatest.add(resource_id)

    async def flush(self) -> None:
        """Write the queued rows."""
        if self.resources:
            await insert_many(self.session, "fhir_resource", self.resources)
            self.resources = []
        if self.versions:
            await insert_many(self.session, "fhir_version", self.versions)
            self.versions = []
        if self.index:
            await insert_rows(self.session, "fhir_search", SEARCH_COLUMNS, self.index)
            self.index = []
        if self.unlatest:
            unlatest, self.unlatest = self.unlatest, set()
            await recompute_latest(self.session, unlatest, self.latest)
        if self.latest:
            pending, self.latest = self.latest, {}
            await merge_latest(self.session, pending)

    async def finish(self) -> None:
        """Flush and advance the clock."""
        await self.flush()
        await self.session.execute(
            update(FhirClockRow)
            .where(FhirClockRow.id == self.clock)
            .values(seq=self.seq, ts=self.ts)
        )

    async def conditional_delete(self, resource_type: str, query: str, *, access: Access) -> int:
        await self.flush()
        ids = await self.one_match(resource_type, query, access)
        for rid in ids:
            await self.delete(resource_type, rid, access=access)
        return len(ids)

    async def one_match(self, resource_type: str, query: str, access: Access) -> list[str]:
        """The id of the one resource ACCESS sees matching QUERY (none or one); 412 if several.

        Conditional creates, updates and deletes all ask this: what lies outside a caller's
        compartment, it can neither match nor learn of from a 412. Within it, the right to
        write the type is the scopes' to decide (as in `current_row`): a write-only token (a
        gateway's) still matches its own earlier uploads, or every retry would duplicate them.
        """
        plan = build_plan(resource_type, parse_qsl(query, keep_blank_values=True))
        if not plan.filters:
            raise invalid(f"condition {query!r} has no search criteria")
        in_compartment = Access(access.compartment)
        stmt = select(R.res_id).where(*plan_conditions(plan, in_compartment)).limit(2)
        ids = list((await self.session.execute(stmt)).scalars())
        if len(ids) > 1:
            raise StoreError(
                412, f"{resource_type}?{query} matches several resources", "multiple-matches"
            )
        return ids

    async def create(
        self,
        document: dict[str, Any],
        if_none_exist: str | None,
        resource_id: str | None = None,
        *,
        access: Access,
    ) -> WriteResult:
        resource_type = document["resourceType"]
        check_type(resource_type)
        check_writable(access, {k: v for k, v in document.items() if k != "id"})
        if if_none_exist:
            await self.flush()
            ids = await self.one_match(resource_type, if_none_exist, access)
            if ids:
                existing = await self._current(resource_type, ids[0])
                return WriteResult(existing, False)
        if resource_type == SUBSCRIPTION:
            document = accept_subscription(document, access)
            new = _subscribed(prepare_create(document, resource_id), access.compartment)
            return self.add_created(new, document)
        return self.add_created(prepare_create(document, resource_id), document)

    async def _current(self, resource_type: str, resource_id: str) -> Stored:
        stmt = current_versions(R.res_type == resource_type, R.res_id == resource_id)
        return to_stored((await self.session.execute(stmt)).one())

    async def update(
        self,
        resource_type: str,
        resource_id: str,
        document: dict[str, Any],
        if_match: int | None,
        *,
        access: Access,
    ) -> WriteResult:
        check_type(resource_type)
        if document.get("id") not in (None, resource_id):
            raise invalid(f"the body's id {document.get('id')!r} does not match the URL")
        check_writable(access, {**document, "id": resource_id})
        await self.flush()
        session = self.session
        row = await current_row(session, resource_type, resource_id, access)
        if row is not None and not row.visible:
            raise StoreError(403, "not this patient's resource", "forbidden")
        subscriber = access.compartment or (row.patient if row is not None else None)
        if resource_type == SUBSCRIPTION:
            document = accept_subscription(document, access)
        if row is None:
            if if_match is not None:
                raise StoreError(412, f"{resource_type}/{resource_id} does not exist", "conflict")
            new = _subscribed(prepare_create(document, resource_id), subscriber)
            result = self.add_created(new, document)
            self.versions[-1]["method"] = "PUT"
            return result
        current = int(row.version_id)
        if if_match is not None and (row.deleted or if_match != current):
            raise StoreError(412, f"version {if_match} is not current ({current})", "conflict")
        version = current + 1
        seq, ts = self.tick()
        content = with_meta(document, resource_id, version, ts)
        await self.drop_index(resource_type, resource_id)
        patient = self.add_index(resource_type, resource_id, content, subscriber)
        await session.execute(
            update(R)
            .where(R.res_type == resource_type, R.res_id == resource_id)
            .values(version_id=version, last_updated=ts, deleted=False, patient=patient)
        )
        self._add_version(
            seq, resource_type, resource_id, version, "PUT", dump_json(content), patient
        )
        return WriteResult(
            Stored(resource_type, resource_id, version, ts, content), bool(row.deleted)
        )

    async def conditional_update(
        self,
        resource_type: str,
        query: str,
        document: dict[str, Any],
        *,
        access: Access,
    ) -> WriteResult:
        await self.flush()
        ids = await self.one_match(resource_type, query, access)
        if ids:
            return await self.update(resource_type, ids[0], document, None, access=access)
        rid = document.get("id")
        if isinstance(rid, str):
            return await self.update(resource_type, rid, document, None, access=access)
        check_writable(access, document)
        if resource_type == SUBSCRIPTION:
            document = accept_subscription(document, access)
        result = self.add_created(
            _subscribed(prepare_create(document), access.compartment), document
        )
        self.versions[-1]["method"] = "PUT"
        return result

    async def delete(
        self, resource_type: str, resource_id: str, *, access: Access
    ) -> Stored | None:
        check_type(resource_type)
        await self.flush()
        session = self.session
        row = await current_row(session, resource_type, resource_id, access)
        if row is not None and not row.visible:
            raise not_found(resource_type, resource_id)
        if row is None or row.deleted:
            return None
        version = int(row.version_id) + 1
        seq, ts = self.tick()
        await self.drop_index(resource_type, resource_id)
        await session.execute(
            update(R)
            .where(R.res_type == resource_type, R.res_id == resource_id)
            .values(version_id=version, last_updated=ts, deleted=True)
        )
        # a deletion stays in the compartment it left
        self._add_version(seq, resource_type, resource_id, version, "DELETE", None, row.patient)
        return Stored(resource_type, resource_id, version, ts, None, "DELETE")

    async def patch(
        self,
        resource_type: str,
        resource_id: str,
        change: Change,
        if_match: int | None,
        *,
        access: Access,
    ) -> WriteResult:
        """Apply CHANGE to the current version ACCESS sees (404 if none, 410 if deleted;
        412 unless it is version IF_MATCH), and write its result as an update."""
        check_type(resource_type)
        await self.flush()
        row = await current_row(self.session, resource_type, resource_id, access)
        if row is None or not row.visible:
            raise not_found(resource_type, resource_id)
        if row.deleted:
            raise StoreError(410, f"{resource_type}/{resource_id} was deleted", "deleted")
        if if_match is not None and if_match != int(row.version_id):
            raise StoreError(
                412, f"version {if_match} is not current ({row.version_id})", "conflict"
            )
        current = await self._current(resource_type, resource_id)
        assert current.content is not None
        document = change(current.content)
        return await self.update(resource_type, resource_id, document, None, access=access)

    async def conditional_patch(
        self,
        resource_type: str,
        query: str,
        change: Change,
        if_match: int | None,
        *,
        access: Access,
    ) -> WriteResult:
        """Patch the one match of QUERY that ACCESS's compartment holds; 404 when none."""
        await self.flush()
        ids = await self.one_match(resource_type, query, access)
        if not ids:
            raise StoreError(404, f"{resource_type}?{query} matches nothing", "not-found")
        return await self.patch(resource_type, ids[0], change, if_match, access=access)


def _subscribed(new: NewResource, subscriber: str | None) -> NewResource:
    """NEW placed where it belongs: a Subscription in its subscriber's compartment (the
    patient whose token wrote it; none for a system client), so that only they see it and
    it is matched only against what they see (subscription_matcher.py)."""
    if new.resource_type != SUBSCRIPTION:
        return new
    rows = [(*r[:3], subscriber, *r[4:]) for r in new.index]
    return replace(new, patient=subscriber, index=rows)
