"""The FHIR store on SQLAlchemy: versioned CRUD, search, history, $lastn (async I/O).

Every write transaction first locks the clinical `fhir_clock` row and takes its change-feed
sequence numbers and instants from it, so versions commit in sequence order and each
`meta.lastUpdated` is unique and increasing: `_history?_since=` never skips a change.
The same lock makes conditional creates and If-Match updates race-free.

The AuditEvents the store writes about its callers take the audit clock row instead
(`record_audit`): they never wait for clinical writers nor make them wait, and their
sequence numbers (from AUDIT_SEQ_BASE up) lie outside the change feed workers follow.

Every read takes an `Access` (access.py), and every read path restricts its rows with
`visible` (current resources) or `visible_versions` (history, vread) only.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import (
    false,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.fhir_store.access import STORE_WRITTEN, Access
from integrations.fhir_store.conditions import referenced
from integrations.fhir_store.latest import latest_ids, ranked_ids
from integrations.fhir_store.maintenance import Maintenance
from integrations.fhir_store.outcome import StoreError, not_found
from integrations.fhir_store.params import SEARCH_PARAMS, STORED_TYPES
from integrations.fhir_store.query import Include, SearchPlan, parse_token
from integrations.fhir_store.records import (
    NewResource,
    SearchResult,
    Stored,
    WriteResult,
    check_type,
    new_id,
    prepare_create,
    utcnow,
    with_meta,
)
from integrations.fhir_store.sql import (
    R,
    S,
    V,
    current_versions,
    order_by,
    param_condition,
    plan_conditions,
    to_stored,
    visible,
    visible_versions,
)
from integrations.fhir_store.writer import AUDIT_CLOCK, AUDIT_SEQ_BASE, Change, Writer

# how far `:iterate` follows, and how many resources a page includes at most
MAX_INCLUDE_DEPTH = 4
MAX_INCLUDED = 1000

__all__ = [
    "Change",
    "FhirStore",
    "NewResource",
    "SearchResult",
    "Stored",
    "WriteResult",
    "Writer",
    "known_params",
    "new_id",
    "prepare_create",
    "utcnow",
    "with_meta",
]


class FhirStore:
    """Versioned FHIR resources in the database behind SESSIONMAKER."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        write_gate: AbstractContextManager[Any] | None = None,
    ) -> None:
        """WRITE_GATE, if given, is held from before a write transaction begins until it ends.

        Bundle workers share one (a multiprocessing lock) so that the next writer starts
        the moment the last one commits, instead of waking from SQLite's busy-wait sleeps.
        It blocks the event loop while it waits: only a process whose loop has nothing
        else to do (a bundle worker) may have one.
        """
        self.sessionmaker = sessionmaker
        self._write_gate = write_gate or nullcontext()
        self._maintenance = Maintenance()
        self._write_listeners: list[Callable[[], None]] = []

    def on_write(self, listener: Callable[[], None]) -> None:
        """Call LISTENER after each write transaction of this process commits (followers of
        the change feed wake at once instead of at their next poll)."""
        self._write_listeners.append(listener)

    def written(self) -> None:
        """Tell the listeners that a write committed (also one done by another process on
        this process's behalf, as a bundle worker's)."""
        for listener in self._write_listeners:
            listener()

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[Writer]:
        """A write transaction holding the clock; it commits when the block ends normally."""
        with self._write_gate:
            async with self.sessionmaker() as session, session.begin():
                writer = Writer(session)
                await writer.lock()
                yield writer
                await writer.finish()
        self.written()
        # every committed write counts, single ones too: statistics follow the tables' growth
        await self._maintenance.note_writes(self.sessionmaker, writer.written)

    # ----- reads -------------------------------------------------------------------------
    async def read(self, resource_type: str, resource_id: str, *, access: Access) -> Stored:
        """The current version; 404 if unknown (or not ACCESS's to see), 410 if deleted."""
        check_type(resource_type)
        async with self.sessionmaker() as session:
            row = (
                await session.execute(
                    current_versions(
                        R.res_type == resource_type,
                        R.res_id == resource_id,
                        *visible(access, resource_type),
                    )
                )
            ).one_or_none()
        if row is None:
            raise not_found(resource_type, resource_id)
        if row.deleted:
            raise StoreError(410, f"{resource_type}/{resource_id} was deleted", "deleted")
        return to_stored(row)

    async def vread(
        self, resource_type: str, resource_id: str, version_id: int, *, access: Access
    ) -> Stored:
        """One version; 404 if unknown (or not ACCESS's), 410 if that version is a deletion."""
        check_type(resource_type)
        async with self.sessionmaker() as session:
            row = (
                await session.execute(
                    select(V.last_updated, V.content, V.method).where(
                        V.res_type == resource_type,
                        V.res_id == resource_id,
                        V.version_id == version_id,
                        *visible_versions(access),
                    )
                )
            ).one_or_none()
        if row is None:
            raise StoreError(
                404, f"{resource_type}/{resource_id}/_history/{version_id} not found", "not-found"
            )
        if row.content is None:
            raise StoreError(410, f"version {version_id} is a deletion", "deleted")
        return Stored(
            resource_type, resource_id, version_id, row.last_updated, json.loads(row.content)
        )

    # ----- writes ------------------------------------------------------------------------
    async def create(
        self, document: dict[str, Any], if_none_exist: str | None = None, *, access: Access
    ) -> WriteResult:
        """Create with a new id; with IF_NONE_EXIST, return the one match ACCESS sees instead
        (200)."""
        async with self.writing() as writer:
            result = await writer.create(document, if_none_exist, access=access)
        return result

    async def record_audit(self, document: dict[str, Any]) -> Stored:
        """Store an AuditEvent the store wrote about a caller, on the audit clock: it waits
        for no clinical writer, makes none wait, and stays out of the change feed."""
        new = prepare_create(document)
        async with self.sessionmaker() as session, session.begin():
            writer = Writer(session, AUDIT_CLOCK)
            await writer.lock()
            stored = writer.add_created(new, document).stored
            await writer.finish()
        return stored

    async def update(
        self,
        resource_type: str,
        resource_id: str,
        document: dict[str, Any],
        if_match: int | None = None,
        *,
        access: Access,
    ) -> WriteResult:
        """Update (or create with this id); IF_MATCH is the version the client last saw.
        ACCESS must see the resource being replaced and may write the new one."""
        async with self.writing() as writer:
            result = await writer.update(
                resource_type, resource_id, document, if_match, access=access
            )
        return result

    async def conditional_update(
        self, resource_type: str, query: str, document: dict[str, Any], *, access: Access
    ) -> WriteResult:
        """Update the one match of QUERY that ACCESS sees, or create when none; 412 when
        several match."""
        async with self.writing() as writer:
            result = await writer.conditional_update(resource_type, query, document, access=access)
        return result

    async def delete(
        self, resource_type: str, resource_id: str, *, access: Access
    ) -> Stored | None:
        """Delete (idempotent); returns the deletion version, None if nothing was there;
        404 when ACCESS does not see it."""
        async with self.writing() as writer:
            result = await writer.delete(resource_type, resource_id, access=access)
        return result

    async def conditional_delete(self, resource_type: str, query: str, *, access: Access) -> int:
        """Delete the one match of QUERY that ACCESS sees (412 if several); returns how many
        were deleted."""
        async with self.writing() as writer:
            return await writer.conditional_delete(resource_type, query, access=access)

    async def patch(
        self,
        resource_type: str,
        resource_id: str,
        change: Change,
        if_match: int | None = None,
        *,
        access: Access,
    ) -> WriteResult:
        """Patch a resource ACCESS sees: CHANGE makes its new content from the current one."""
        async with self.writing() as writer:
            return await writer.patch(resource_type, resource_id, change, if_match, access=access)

    async def conditional_patch(
        self,
        resource_type: str,
        query: str,
        change: Change,
        if_match: int | None = None,
        *,
        access: Access,
    ) -> WriteResult:
        """Patch the one match of QUERY that ACCESS sees; 404 when none, 412 when several."""
        async with self.writing() as writer:
            return await writer.conditional_patch(
                resource_type, query, change, if_match, access=access
            )

    # ----- search ------------------------------------------------------------------------
    async def search(self, plan: SearchPlan, *, access: Access) -> SearchResult:
        """The page of resources matching PLAN among those ACCESS sees, with its includes."""
        conditions = plan_conditions(plan, access)
        async with self.sessionmaker() as session:
            total: int | None = None
            if plan.summary_count or plan.total_accurate or plan.count == 0:
                total = int(
                    (
                        await session.execute(
                            select(func.count()).select_from(R).where(*conditions)
                        )
                    ).scalar_one()
                )
            if plan.summary_count:
                return SearchResult([], total=total)
            stmt = current_versions(*conditions).order_by(*order_by(plan))
            rows = (await session.execute(stmt.limit(plan.count + 1).offset(plan.offset))).all()
            has_more = len(rows) > plan.count
            matches = [to_stored(r) for r in rows[: plan.count]]
            if total is None and not has_more and (matches or not plan.offset):
                total = plan.offset + len(matches)
            elif total is None and not matches:
                # a page past the end: the real count, not the offset asked for
                count = select(func.count()).select_from(R).where(*conditions)
                total = int((await session.execute(count)).scalar_one())
            included = await self._includes(session, plan, matches, access)
        return SearchResult(matches, included, total, has_more)

    async def _includes(
        self,
        session: AsyncSession,
        plan: SearchPlan,
        matches: list[Stored],
        access: Access,
    ) -> list[Stored]:
        """`_include`d and `_revinclude`d resources of MATCHES (`:iterate` ones also of
        those they bring), each as ACCESS sees it: the same `visible` as a search."""
        if not matches or not (plan.includes or plan.revincludes):
            return []
        seen = {m.reference for m in matches}
        out: list[Stored] = []
        frontier = matches
        for depth in range(MAX_INCLUDE_DEPTH):
            found: list[Stored] = []
            for inc in plan.includes:
                if depth and not inc.iterate:
                    continue
                sources = [m for m in frontier if m.resource_type == inc.source_type]
                found += await self._forward(session, inc, sources, access)
            for inc in plan.revincludes:
                if depth and not inc.iterate:
                    continue
                found += await self._reverse(session, inc, frontier, access)
            frontier = []
            for stored in found:
                if stored.reference not in seen and len(out) < MAX_INCLUDED:
                    seen.add(stored.reference)
                    out.append(stored)
                    frontier.append(stored)
            if not frontier:
                break
        return out

    async def _forward(
        self, session: AsyncSession, inc: Include, sources: list[Stored], access: Access
    ) -> list[Stored]:
        if not sources:
            return []
        param = SEARCH_PARAMS[inc.source_type][inc.param]
        values = (
            await session.execute(
                select(func.coalesce(S.value, S.patient)).where(
                    S.res_type == inc.source_type,
                    param_condition(param),
                    S.res_id.in_([s.resource_id for s in sources]),
                )
            )
        ).scalars()
        refs: dict[str, set[str]] = {}
        for value in values:
            rtype, _, rid = (value or "").partition("/")
            wanted = inc.target is None or rtype == inc.target
            if (
                rtype in STORED_TYPES
                and rid
                and wanted
                and (rtype in param.targets or not param.targets)
            ):
                refs.setdefault(rtype, set()).add(rid)
        out: list[Stored] = []
        for rtype, ids in sorted(refs.items()):
            rows = await session.execute(
                current_versions(
                    R.res_type == rtype,
                    R.res_id.in_(sorted(ids)),
                    R.deleted == false(),
                    *visible(access, rtype),
                ).order_by(R.res_id)
            )
            out += [to_stored(r) for r in rows]
        return out

    async def _reverse(
        self, session: AsyncSession, inc: Include, targets: list[Stored], access: Access
    ) -> list[Stored]:
        refs = [t.reference for t in targets]
        if inc.target is not None:
            refs = [r for r in refs if r.startswith(f"{inc.target}/")]
        if not refs:
            return []
        param = SEARCH_PARAMS[inc.source_type][inc.param]
        naming = (
            select(S.res_id)
            .where(S.res_type == inc.source_type, param_condition(param), referenced(refs))
            .correlate(None)
        )
        rows = await session.execute(
            current_versions(
                R.res_type == inc.source_type,
                R.res_id.in_(naming),
                R.deleted == false(),
                *visible(access, inc.source_type),
            )
            .order_by(R.res_id)
            .limit(MAX_INCLUDED)
        )
        return [to_stored(r) for r in rows]

    async def lastn(
        self,
        patient: str,
        codes: Sequence[str] = (),
        max_per_code: int = 1,
        category: str | None = None,
        *,
        access: Access,
    ) -> list[Stored]:
        """The newest MAX_PER_CODE Observations of PATIENT per code (`Observation/$lastn`);
        none when ACCESS does not see PATIENT's Observations.

        The newest per code comes from `fhir_latest`; more per code, or a code whose newest
        Observation is outside CATEGORY, is ranked from the patient's index rows.
        """
        if not (access.sees_type("Observation") and access.sees_patient(patient)):
            return []
        tokens = [parse_token(c) for c in codes]
        async with self.sessionmaker() as session:
            if max_per_code == 1:
                ids, outside = await latest_ids(session, patient, tokens, category)
                if outside:
                    ids |= await ranked_ids(session, patient, outside, 1, category)
            else:
                ids = await ranked_ids(session, patient, tokens, max_per_code, category)
            if not ids:
                return []
            # a staff member's patients are the database's to say (sql.staff_patients)
            stmt = current_versions(
                R.res_type == "Observation", R.res_id.in_(ids), *visible(access, "Observation")
            )
            rows = (await session.execute(stmt)).all()
        return [to_stored(r) for r in rows]

    # ----- history -----------------------------------------------------------------------
    async def history(
        self,
        resource_type: str | None = None,
        resource_id: str | None = None,
        since: datetime | None = None,
        count: int = 50,
        offset: int = 0,
        ascending: bool = False,
        *,
        access: Access,
    ) -> tuple[list[Stored], bool]:
        """Versions ACCESS sees, newest first (or in commit order when ASCENDING); and
        whether more follow. Without RESOURCE_TYPE it is the change feed: the store's own
        AuditEvents are not in it."""
        conditions = visible_versions(access)
        if resource_type is not None:
            check_type(resource_type)
            conditions.append(V.res_type == resource_type)
        else:
            conditions.append(V.seq < AUDIT_SEQ_BASE)
            conditions.append(V.res_type.not_in(sorted(STORE_WRITTEN)))  # older audit rows
        if resource_id is not None:
            conditions.append(V.res_id == resource_id)
        if since is not None:
            conditions.append(V.last_updated >= since)
        stmt = select(V.res_type, V.res_id, V.version_id, V.last_updated, V.method, V.content)
        stmt = stmt.where(*conditions).order_by(V.seq if ascending else V.seq.desc())
        stmt = stmt.limit(count + 1).offset(offset)
        async with self.sessionmaker() as session:
            rows = (await session.execute(stmt)).all()
        if resource_id is not None and not rows and offset == 0:
            raise not_found(resource_type or "", resource_id)
        versions = [
            Stored(
                r.res_type,
                r.res_id,
                r.version_id,
                r.last_updated,
                json.loads(r.content) if r.content is not None else None,
                r.method,
            )
            for r in rows[:count]
        ]
        return versions, len(rows) > count


def known_params(resource_type: str) -> list[str]:
    """Names of the search parameters of a type (for the CapabilityStatement)."""
    return sorted(SEARCH_PARAMS.get(resource_type, {}))
