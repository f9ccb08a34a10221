"""The FHIR store on SQLAlchemy: versioned CRUD, search, history, $lastn (async I/O).

Every write transaction first locks the clinical `fhir_clock` row and takes its change-feed
sequence numbers and instants from it, so versions commit in sequence order and each
`meta.lastUpdated` is unique and increasing: `_history?_since=` never skips a change.
The same lock makes conditional creates and If-Match updates race-free.

The AuditEvents the store writes about its callers take the audit clock row instead
(`record_audit`): they never wait for clinical writers nor make them wait, and their
sequence numbers (from AUDIT_SEQ_BASE up) lie outside the change feed workers follow.

Every read takes an `Access` (access.py), and every read path restricts its rows with
`_visible` (current resources) or `_visible_versions` (history, vread) only.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import (
    ColumnElement,
    DateTime,
    and_,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.fhir_store.access import STORE_WRITTEN, Access, check_writable
from integrations.fhir_store.dates import format_instant
from integrations.fhir_store.extract import compartment_patient, index_resource
from integrations.fhir_store.outcome import StoreError, invalid, not_found
from integrations.fhir_store.params import (
    REFERENCE_PARAMS,
    SEARCH_PARAMS,
    STORED_TYPES,
    SearchParam,
    patient_param,
)
from integrations.fhir_store.query import (
    DateValue,
    Filter,
    SearchPlan,
    TokenValue,
    build_plan,
    parse_token,
    plan_patient,
)
from integrations.fhir_store.tables import (
    FhirClockRow,
    FhirLatestRow,
    FhirResourceRow,
    FhirSearchRow,
    FhirVersionRow,
)

R = FhirResourceRow
V = FhirVersionRow
S = FhirSearchRow
L = FhirLatestRow
# joins a resource to the version row holding its current content
_CURRENT_VERSION = and_(
    V.res_type == R.res_type, V.res_id == R.res_id, V.version_id == R.version_id
)
_TABLES = FhirResourceRow.metadata.tables
# The rows of fhir_clock: clinical writes (the change feed) and the store's own AuditEvents.
CLINICAL_CLOCK = 1
AUDIT_CLOCK = 2
# Audit sequence numbers start here (fhir_0007), far above any clinical one.
AUDIT_SEQ_BASE = 1 << 62
EARLIEST = datetime(1, 1, 1)
# (patient, system, code) of the fhir_latest table
LatestKey = tuple[str, str, str]
# A fhir_search row: the values of SEARCH_COLUMNS
SearchRow = tuple[
    str, str, str, str | None, str | None, str | None, datetime | None, datetime | None
]
SEARCH_COLUMNS = ("res_type", "res_id", "param", "patient", "system", "value", "low", "high")
# How index rows rank for "newest": by date (undated last), then by id.
_NEWEST_FIRST = (S.low.desc().nulls_last(), S.res_id.desc())


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
    _check_type(resource_type)
    rid = resource_id or new_id()
    body = {"resourceType": resource_type, "id": rid}
    body.update({k: v for k, v in document.items() if k not in ("resourceType", "id", "meta")})
    patient, rows = search_rows(resource_type, rid, body)
    meta = dict(document.get("meta") or {})
    return NewResource(resource_type, rid, meta, _dump(body), patient, rows)


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


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


class _Writer:
    """One write transaction: holds the clock lock and batches inserts."""

    def __init__(self, session: AsyncSession, clock: int = CLINICAL_CLOCK) -> None:
        self.session = session
        self.clock = clock
        self.seq = 0
        self.ts = datetime(1970, 1, 1)
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
        self.ts = max(utcnow(), self.ts + timedelta(microseconds=1))
        return self.seq, self.ts

    def add_index(
        self, resource_type: str, resource_id: str, document: dict[str, Any]
    ) -> str | None:
        """Queue the index rows of a resource; returns its compartment patient."""
        patient, rows = search_rows(resource_type, resource_id, document)
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
                "content": f'{new.head[:-1]},"meta":{_dump(meta)}}}',
                "patient": new.patient,
            }
        )
        content = with_meta(document, new.resource_id, 1, ts)
        stored = Stored(new.resource_type, new.resource_id, 1, ts, content, "POST")
        return WriteResult(stored, True)

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
            await self._recompute_latest()
        if self.latest:
            await self._merge_latest()

    async def _recompute_latest(self) -> None:
        # The keys whose newest Observation lost its rows are found again from the index.
        session = self.session
        keys = (
            await session.execute(
                delete(L).where(L.res_id.in_(self.unlatest)).returning(L.patient, L.system, L.code)
            )
        ).all()
        self.unlatest = set()
        code = SEARCH_PARAMS["Observation"]["code"]
        for patient, system, value in keys:
            row = (
                await session.execute(
                    select(S.res_id, S.low)
                    .where(
                        *_index_rows("Observation", code, patient),
                        _token_condition(TokenValue(system, value)),
                    )
                    .order_by(*_NEWEST_FIRST)
                    .limit(1)
                )
            ).one_or_none()
            if row is not None:
                rank = (row.low or EARLIEST, row.res_id)
                keep_newest(self.latest, [((patient, system, value), rank)])

    async def _merge_latest(self) -> None:
        # One upsert per key, kept only where the new reading ranks higher (date, then id).
        pending, self.latest = self.latest, {}
        rows = latest_rows(pending)
        dialect = self.session.get_bind().dialect.name
        table = _TABLES["fhir_latest"]  # Core, not ORM: no per-row bulk persistence work
        upsert = (sqlite_insert if dialect == "sqlite" else postgresql_insert)(table)
        new, old = upsert.excluded, table.c
        earliest = literal(EARLIEST, DateTime)
        connection = await self.session.connection()
        await connection.execute(
            upsert.on_conflict_do_update(
                index_elements=[old.patient, old.system, old.code],
                set_={"res_id": new.res_id, "low": new.low},
                where=tuple_(func.coalesce(new.low, earliest), new.res_id)
                > tuple_(func.coalesce(old.low, earliest), old.res_id),
            ),
            rows,
        )

    async def finish(self) -> None:
        """Flush and advance the clock."""
        await self.flush()
        await self.session.execute(
            update(FhirClockRow)
            .where(FhirClockRow.id == self.clock)
            .values(seq=self.seq, ts=self.ts)
        )


async def insert_many(session: AsyncSession, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert ROWS (dicts with the same keys, in the same order) into TABLE."""
    if session.get_bind().dialect.name != "sqlite":
        await session.execute(insert(_TABLES[table]), rows)
    else:
        await insert_rows(session, table, tuple(rows[0]), [tuple(row.values()) for row in rows])


async def insert_rows(
    session: AsyncSession, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert ROWS (values of COLUMNS) into TABLE in one executemany.

    On SQLite the rows go to the driver as they are: SQLAlchemy's per-value processing of
    a Core insert costs more than SQLite's own work on a bulk load.
    """
    if session.get_bind().dialect.name != "sqlite":
        await session.execute(
            insert(_TABLES[table]), [dict(zip(columns, r, strict=True)) for r in rows]
        )
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    connection = await session.connection()
    await connection.exec_driver_sql(sql, rows)


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
        )
        for r in index_resource(document)
    ]
    return patient, rows


def latest_candidates(
    rows: Sequence[SearchRow],
) -> list[tuple[LatestKey, tuple[datetime, str]]]:
    """The `fhir_latest` keys an Observation's search rows compete for, with its rank (pure)."""
    return [
        ((patient, system or "", value), (low or EARLIEST, res_id))
        for res_type, res_id, param, patient, system, value, low, _ in rows
        if param == "code" and res_type == "Observation" and patient and value
    ]


def latest_rows(latest: dict[LatestKey, tuple[datetime, str]]) -> list[dict[str, Any]]:
    """`fhir_latest` rows of the keys and ranks in LATEST (pure)."""
    return [
        {"patient": p, "system": s, "code": c, "res_id": rid}
        | {"low": None if low == EARLIEST else low}
        for (p, s, c), (low, rid) in latest.items()
    ]


def keep_newest(
    latest: dict[LatestKey, tuple[datetime, str]],
    candidates: Sequence[tuple[LatestKey, tuple[datetime, str]]],
) -> None:
    """Keep in LATEST the higher-ranked (date, then id) of each key's candidates (pure)."""
    for key, rank in candidates:
        if key not in latest or rank > latest[key]:
            latest[key] = rank


def _token_condition(token: TokenValue) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if token.code is not None:
        conditions.append(S.value == token.code)
    if token.system is not None:
        conditions.append(S.system == token.system if token.system else S.system.is_(None))
    return and_(*conditions)


def _date_condition(value: DateValue) -> ColumnElement[bool]:
    low, high = S.low, S.high
    # Ranges are half-open [low, high); comparisons follow FHIR's period semantics.
    if value.prefix == "eq":
        return and_(low >= value.low, high <= value.high)
    if value.prefix == "ge":
        return high > value.low
    if value.prefix == "gt":
        return high > value.high
    if value.prefix == "le":
        return low < value.high
    return low < value.low


def _lastupdated_condition(value: DateValue) -> ColumnElement[bool]:
    if value.prefix == "eq":
        return and_(R.last_updated >= value.low, R.last_updated < value.high)
    if value.prefix == "ge":
        return R.last_updated >= value.low
    if value.prefix == "gt":
        return R.last_updated >= value.high
    if value.prefix == "le":
        return R.last_updated < value.high
    return R.last_updated < value.low


def _param_condition(param: SearchParam) -> ColumnElement[bool]:
    names = param.indexed_as
    return S.param == names[0] if len(names) == 1 else S.param.in_(names)


def _index_rows(
    resource_type: str, param: SearchParam, patient: str | None
) -> list[ColumnElement[bool]]:
    """Conditions selecting PARAM's index rows (of one patient when PATIENT is known)."""
    if patient is None:
        return [S.res_type == resource_type, _param_condition(param)]
    # Within one patient the time-ordered patient index is the way in; `param || ''` keeps
    # SQLite (which has no statistics here) from preferring the index on (type, param, value),
    # which would visit every patient's rows of that code.
    names = param.indexed_as
    unindexed = S.param.concat("")
    return [
        S.patient == patient,
        S.res_type == resource_type,
        unindexed == names[0] if len(names) == 1 else unindexed.in_(names),
    ]


def _reference_condition(param: SearchParam, ref: str) -> ColumnElement[bool]:
    # a row without a value refers to its resource's patient (search_rows)
    if "/" not in ref:
        suffix = f"%/{ref}"
        return or_(S.value.like(suffix), and_(S.value.is_(None), S.patient.like(suffix)))
    if param.targets and ref.split("/")[0] not in param.targets:
        return false()
    if ref.startswith("Patient/"):
        return or_(S.value == ref, and_(S.value.is_(None), S.patient == ref))
    return S.value == ref


def _filter_condition(resource_type: str, flt: Filter, patient: str | None) -> ColumnElement[bool]:
    if flt.kind == "id":
        return R.res_id.in_(flt.ids)
    if flt.kind == "lastUpdated":
        return and_(*[_lastupdated_condition(v) for v in flt.dates])
    param = SEARCH_PARAMS[resource_type][flt.name]
    base = _index_rows(resource_type, param, patient)
    if flt.kind == "token":
        match = or_(*[_token_condition(t) for t in flt.tokens])
        return R.res_id.in_(select(S.res_id).where(*base, match))
    if flt.kind == "reference":
        options = [_reference_condition(param, ref) for ref in flt.references]
        return R.res_id.in_(select(S.res_id).where(*base, or_(*options)))
    conditions = [_date_condition(v) for v in flt.dates]
    return R.res_id.in_(select(S.res_id).where(*base, *_date_rows(param), and_(*conditions)))


def _date_rows(param: SearchParam) -> list[ColumnElement[bool]]:
    """What tells a date parameter's rows from others of the same name: a date row has no
    value; an aliased date is on rows that all carry it (DATED_BY)."""
    return [] if param.stored_as else [S.value.is_(None)]


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
        self._written = 0
        self._next_analyze = 500
        self._since_checkpoint = 0

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[_Writer]:
        """A write transaction holding the clock; it commits when the block ends normally."""
        with self._write_gate:
            async with self.sessionmaker() as session, session.begin():
                writer = _Writer(session)
                await writer.lock()
                yield writer
                await writer.finish()

    async def note_bulk_write(self, count: int) -> None:
        """After bulk loads, refresh the planner statistics (at 500, 1000, 2000, ... writes).

        Fresh tables have none (PostgreSQL until autovacuum runs, SQLite ever), and the
        plans chosen without them scan whole tables: SQLite walks every Observation in
        `_lastUpdated` order instead of looking up the few a patient's index rows name.
        """
        self._written += count
        self._since_checkpoint += count
        async with self.sessionmaker() as session:
            dialect = session.get_bind().dialect.name
            if dialect == "sqlite" and self._since_checkpoint >= 100_000:
                # Back-to-back writers and readers starve SQLite's passive checkpoints, so
                # the WAL never restarts and grows without bound: reset it now and then.
                self._since_checkpoint = 0
                await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            if self._written < self._next_analyze:
                return
            self._next_analyze = self._written * 2
            if dialect == "sqlite":
                # sampled: about a thousand rows per index, so it takes milliseconds at any size
                await session.execute(text("PRAGMA analysis_limit=1000"))
                await session.execute(text("ANALYZE"))
            else:
                await session.execute(text("ANALYZE fhir_resource, fhir_version, fhir_search"))
            await session.commit()

    # ----- reads -------------------------------------------------------------------------
    async def read(self, resource_type: str, resource_id: str, *, access: Access) -> Stored:
        """The current version; 404 if unknown (or not ACCESS's to see), 410 if deleted."""
        _check_type(resource_type)
        async with self.sessionmaker() as session:
            row = (
                await session.execute(
                    select(R.version_id, R.last_updated, R.deleted, V.content)
                    .join(V, _CURRENT_VERSION)
                    .where(
                        R.res_type == resource_type,
                        R.res_id == resource_id,
                        *_visible(access, resource_type),
                    )
                )
            ).one_or_none()
        if row is None:
            raise not_found(resource_type, resource_id)
        if row.deleted:
            raise StoreError(410, f"{resource_type}/{resource_id} was deleted", "deleted")
        return Stored(
            resource_type, resource_id, row.version_id, row.last_updated, json.loads(row.content)
        )

    async def vread(
        self, resource_type: str, resource_id: str, version_id: int, *, access: Access
    ) -> Stored:
        """One version; 404 if unknown (or not ACCESS's), 410 if that version is a deletion."""
        _check_type(resource_type)
        async with self.sessionmaker() as session:
            row = (
                await session.execute(
                    select(V.last_updated, V.content, V.method).where(
                        V.res_type == resource_type,
                        V.res_id == resource_id,
                        V.version_id == version_id,
                        *_visible_versions(access),
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
            result = await self._create(writer, document, if_none_exist, access=access)
        return result

    async def record_audit(self, document: dict[str, Any]) -> Stored:
        """Store an AuditEvent the store wrote about a caller, on the audit clock: it waits
        for no clinical writer, makes none wait, and stays out of the change feed."""
        new = prepare_create(document)
        async with self.sessionmaker() as session, session.begin():
            writer = _Writer(session, AUDIT_CLOCK)
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
            result = await self._update(
                writer, resource_type, resource_id, document, if_match, access=access
            )
        return result

    async def conditional_update(
        self, resource_type: str, query: str, document: dict[str, Any], *, access: Access
    ) -> WriteResult:
        """Update the one match of QUERY that ACCESS sees, or create when none; 412 when
        several match."""
        async with self.writing() as writer:
            result = await self._conditional_update(
                writer, resource_type, query, document, access=access
            )
        return result

    async def delete(
        self, resource_type: str, resource_id: str, *, access: Access
    ) -> Stored | None:
        """Delete (idempotent); returns the deletion version, None if nothing was there;
        404 when ACCESS does not see it."""
        async with self.writing() as writer:
            result = await self._delete(writer, resource_type, resource_id, access=access)
        return result

    async def conditional_delete(self, resource_type: str, query: str, *, access: Access) -> int:
        """Delete the one match of QUERY that ACCESS sees (412 if several); returns how many
        were deleted."""
        async with self.writing() as writer:
            return await self._conditional_delete(writer, resource_type, query, access=access)

    async def _conditional_delete(
        self, writer: _Writer, resource_type: str, query: str, *, access: Access
    ) -> int:
        await writer.flush()
        ids = await self._one_match(writer.session, resource_type, query, access)
        for rid in ids:
            await self._delete(writer, resource_type, rid, access=access)
        return len(ids)

    async def _one_match(
        self, session: AsyncSession, resource_type: str, query: str, access: Access
    ) -> list[str]:
        """The id of the one resource ACCESS sees matching QUERY (none or one); 412 if several.

        Conditional creates, updates and deletes all ask this: what a caller cannot see,
        it can neither match nor learn of from a 412.
        """
        plan = build_plan(resource_type, parse_qsl(query, keep_blank_values=True))
        if not plan.filters:
            raise invalid(f"condition {query!r} has no search criteria")
        stmt = select(R.res_id).where(*_plan_conditions(plan, access)).limit(2)
        ids = list((await session.execute(stmt)).scalars())
        if len(ids) > 1:
            raise StoreError(
                412, f"{resource_type}?{query} matches several resources", "multiple-matches"
            )
        return ids

    async def _create(
        self,
        writer: _Writer,
        document: dict[str, Any],
        if_none_exist: str | None,
        resource_id: str | None = None,
        *,
        access: Access,
    ) -> WriteResult:
        resource_type = document["resourceType"]
        _check_type(resource_type)
        check_writable(access, {k: v for k, v in document.items() if k != "id"})
        if if_none_exist:
            await writer.flush()
            ids = await self._one_match(writer.session, resource_type, if_none_exist, access)
            if ids:
                existing = await self._current(writer.session, resource_type, ids[0])
                return WriteResult(existing, False)
        return writer.add_created(prepare_create(document, resource_id), document)

    async def _current(self, session: AsyncSession, resource_type: str, resource_id: str) -> Stored:
        row = (
            await session.execute(
                select(R.version_id, R.last_updated, V.content)
                .join(
                    V,
                    _CURRENT_VERSION,
                )
                .where(R.res_type == resource_type, R.res_id == resource_id)
            )
        ).one()
        return Stored(
            resource_type, resource_id, row.version_id, row.last_updated, json.loads(row.content)
        )

    async def _update(
        self,
        writer: _Writer,
        resource_type: str,
        resource_id: str,
        document: dict[str, Any],
        if_match: int | None,
        *,
        access: Access,
    ) -> WriteResult:
        _check_type(resource_type)
        if document.get("id") not in (None, resource_id):
            raise invalid(f"the body's id {document.get('id')!r} does not match the URL")
        check_writable(access, {**document, "id": resource_id})
        await writer.flush()
        session = writer.session
        row = await _current_row(session, resource_type, resource_id, access)
        if row is not None and not row.visible:
            raise StoreError(403, "not this patient's resource", "forbidden")
        if row is None:
            if if_match is not None:
                raise StoreError(412, f"{resource_type}/{resource_id} does not exist", "conflict")
            result = writer.add_created(prepare_create(document, resource_id), document)
            writer.versions[-1]["method"] = "PUT"
            return result
        current = int(row.version_id)
        if if_match is not None and (row.deleted or if_match != current):
            raise StoreError(412, f"version {if_match} is not current ({current})", "conflict")
        version = current + 1
        seq, ts = writer.tick()
        content = with_meta(document, resource_id, version, ts)
        await writer.drop_index(resource_type, resource_id)
        patient = writer.add_index(resource_type, resource_id, content)
        await session.execute(
            update(R)
            .where(R.res_type == resource_type, R.res_id == resource_id)
            .values(version_id=version, last_updated=ts, deleted=False, patient=patient)
        )
        writer.versions.append(
            {
                "seq": seq,
                "res_type": resource_type,
                "res_id": resource_id,
                "version_id": version,
                "last_updated": ts,
                "method": "PUT",
                "content": _dump(content),
                "patient": patient,
            }
        )
        return WriteResult(
            Stored(resource_type, resource_id, version, ts, content), bool(row.deleted)
        )

    async def _conditional_update(
        self,
        writer: _Writer,
        resource_type: str,
        query: str,
        document: dict[str, Any],
        *,
        access: Access,
    ) -> WriteResult:
        await writer.flush()
        ids = await self._one_match(writer.session, resource_type, query, access)
        if ids:
            return await self._update(writer, resource_type, ids[0], document, None, access=access)
        rid = document.get("id")
        if isinstance(rid, str):
            return await self._update(writer, resource_type, rid, document, None, access=access)
        check_writable(access, document)
        result = writer.add_created(prepare_create(document), document)
        writer.versions[-1]["method"] = "PUT"
        return result

    async def _delete(
        self, writer: _Writer, resource_type: str, resource_id: str, *, access: Access
    ) -> Stored | None:
        _check_type(resource_type)
        await writer.flush()
        session = writer.session
        row = await _current_row(session, resource_type, resource_id, access)
        if row is not None and not row.visible:
            raise not_found(resource_type, resource_id)
        if row is None or row.deleted:
            return None
        version = int(row.version_id) + 1
        seq, ts = writer.tick()
        await writer.drop_index(resource_type, resource_id)
        await session.execute(
            update(R)
            .where(R.res_type == resource_type, R.res_id == resource_id)
            .values(version_id=version, last_updated=ts, deleted=True)
        )
        writer.versions.append(
            {
                "seq": seq,
                "res_type": resource_type,
                "res_id": resource_id,
                "version_id": version,
                "last_updated": ts,
                "method": "DELETE",
                "content": None,
                "patient": row.patient,  # a deletion stays in the compartment it left
            }
        )
        return Stored(resource_type, resource_id, version, ts, None, "DELETE")

    # ----- search ------------------------------------------------------------------------
    async def search(self, plan: SearchPlan, *, access: Access) -> SearchResult:
        """The page of resources matching PLAN among those ACCESS sees, with its includes."""
        conditions = _plan_conditions(plan, access)
        async with self.sessionmaker() as session:
            total: int | None = None
            if plan.summary_count or plan.total_accurate:
                total = int(
                    (
                        await session.execute(
                            select(func.count()).select_from(R).where(*conditions)
                        )
                    ).scalar_one()
                )
            if plan.summary_count:
                return SearchResult([], total=total)
            stmt = (
                select(R.res_id, R.version_id, R.last_updated, V.content)
                .join(
                    V,
                    _CURRENT_VERSION,
                )
                .where(*conditions)
            )
            stmt = stmt.order_by(*_order(plan)).limit(plan.count + 1).offset(plan.offset)
            rows = (await session.execute(stmt)).all()
            has_more = len(rows) > plan.count
            matches = [
                Stored(
                    plan.resource_type,
                    r.res_id,
                    r.version_id,
                    r.last_updated,
                    json.loads(r.content),
                )
                for r in rows[: plan.count]
            ]
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
        if not plan.includes or not matches:
            return []
        ids = [m.resource_id for m in matches]
        refs: set[str] = set()
        for inc in plan.includes:
            values = (
                await session.execute(
                    select(func.coalesce(S.value, S.patient)).where(
                        S.res_type == plan.resource_type,
                        _param_condition(SEARCH_PARAMS[plan.resource_type][inc.param]),
                        S.res_id.in_(ids),
                    )
                )
            ).scalars()
            refs.update(
                v for v in values if v and (inc.target is None or v.startswith(inc.target + "/"))
            )
        seen = {m.reference for m in matches}
        out: list[Stored] = []
        for ref in sorted(refs - seen):
            rtype, _, rid = ref.partition("/")
            if rtype not in STORED_TYPES:
                continue
            row = (
                await session.execute(
                    select(R.version_id, R.last_updated, V.content)
                    .join(V, _CURRENT_VERSION)
                    .where(
                        R.res_type == rtype,
                        R.res_id == rid,
                        R.deleted == false(),
                        *_visible(access, rtype),
                    )
                )
            ).one_or_none()
            if row is not None:
                out.append(
                    Stored(rtype, rid, row.version_id, row.last_updated, json.loads(row.content))
                )
        return out

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
                ids, outside = await _latest_ids(session, patient, tokens, category)
                if outside:
                    ids |= await _ranked_ids(session, patient, outside, 1, category)
            else:
                ids = await _ranked_ids(session, patient, tokens, max_per_code, category)
            if not ids:
                return []
            stmt = (
                select(R.res_id, R.version_id, R.last_updated, V.content)
                .join(
                    V,
                    _CURRENT_VERSION,
                )
                .where(R.res_type == "Observation", R.res_id.in_(ids))
            )
            rows = (await session.execute(stmt)).all()
        return [
            Stored("Observation", r.res_id, r.version_id, r.last_updated, json.loads(r.content))
            for r in rows
        ]

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
        conditions = _visible_versions(access)
        if resource_type is not None:
            _check_type(resource_type)
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


def _latest_token(token: TokenValue) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if token.code is not None:
        conditions.append(L.code == token.code)
    if token.system is not None:
        conditions.append(L.system == token.system)
    return and_(*conditions)


async def _latest_ids(
    session: AsyncSession, patient: str, tokens: list[TokenValue], category: str | None
) -> tuple[set[str], list[TokenValue]]:
    """Ids of the newest Observation per code, and the codes whose newest is off CATEGORY."""
    stmt = select(L.system, L.code, L.res_id).where(L.patient == patient)
    if tokens:
        stmt = stmt.where(or_(*[_latest_token(t) for t in tokens]))
    latest = (await session.execute(stmt)).all()
    if category is None or not latest:
        return {r.res_id for r in latest}, []
    ids = {r.res_id for r in latest}
    inside = set(
        (
            await session.execute(
                select(S.res_id).where(
                    S.res_type == "Observation",
                    S.res_id.in_(ids),
                    S.param == "category",
                    _token_condition(parse_token(category)),
                )
            )
        ).scalars()
    )
    outside = [TokenValue(r.system, r.code) for r in latest if r.res_id not in inside]
    return inside, outside


async def _ranked_ids(
    session: AsyncSession,
    patient: str,
    tokens: list[TokenValue],
    max_per_code: int,
    category: str | None,
) -> set[str]:
    """Ids of the newest MAX_PER_CODE Observations per code, ranked from the index rows."""
    params = SEARCH_PARAMS["Observation"]
    conditions = _index_rows("Observation", params["code"], patient)
    if tokens:
        conditions.append(or_(*[_token_condition(t) for t in tokens]))
    if category:
        conditions.append(
            S.res_id.in_(
                select(S.res_id).where(
                    *_index_rows("Observation", params["category"], patient),
                    _token_condition(parse_token(category)),
                )
            )
        )
    ranked = (
        select(
            S.res_id,
            func.row_number()
            .over(
                partition_by=(S.system, S.value),
                order_by=_NEWEST_FIRST,
            )
            .label("rank"),
        )
        .where(*conditions)
        .subquery()
    )
    stmt = select(ranked.c.res_id).where(ranked.c.rank <= max_per_code)
    return set((await session.execute(stmt)).scalars())


def _check_type(resource_type: str) -> None:
    if resource_type not in STORED_TYPES:
        raise StoreError(404, f"resource type {resource_type} is not stored here", "not-supported")


def _visible(access: Access, resource_type: str) -> list[ColumnElement[bool]]:
    """What restricts current resources (fhir_resource rows) of RESOURCE_TYPE to those
    ACCESS sees: the one place every read of current resources goes through."""
    if not access.sees_type(resource_type):
        return [false()]
    compartment = access.compartment
    if compartment is None:
        return []
    if resource_type == "Patient":
        return [R.res_id == compartment.partition("/")[2]]
    return [R.patient == compartment]


async def _current_row(
    session: AsyncSession, resource_type: str, resource_id: str, access: Access
) -> Row[int, bool, str | None, bool] | None:
    """The version, deletion flag and patient of a resource, and whether it lies in ACCESS's
    compartment (a write's right to its type is the scopes' to decide: a write-only token
    replaces what it cannot read)."""
    in_compartment = _visible(Access(access.compartment), resource_type)
    visible = and_(true(), *in_compartment).label("visible")
    stmt = select(R.version_id, R.deleted, R.patient, visible).where(
        R.res_type == resource_type, R.res_id == resource_id
    )
    return (await session.execute(stmt)).one_or_none()


def _visible_versions(access: Access) -> list[ColumnElement[bool]]:
    """What restricts version rows to those ACCESS sees: each version lies in the
    compartment of the patient it named when it was written (history, vread)."""
    conditions: list[ColumnElement[bool]] = []
    if access.types is not None:
        conditions.append(V.res_type.in_(sorted(access.types)))
    if access.compartment is not None:
        conditions.append(V.patient == access.compartment)
    return conditions


def _plan_conditions(plan: SearchPlan, access: Access) -> list[ColumnElement[bool]]:
    conditions = [R.res_type == plan.resource_type, R.deleted == false()]
    conditions += _visible(access, plan.resource_type)
    compartment = access.compartment
    patient = compartment or plan_patient(plan)
    unled = all(flt.kind in ("id", "lastUpdated") for flt in plan.filters)
    if compartment is not None and plan.resource_type != "Patient" and unled:
        # no index filter leads into the compartment: the patient's index rows do
        # (every resource in it has them: its patient comes from one of them)
        in_it = (S.patient == compartment, S.res_type == plan.resource_type)
        conditions.append(R.res_id.in_(select(S.res_id).where(*in_it)))
    if plan.resource_type == "Patient":
        patient = None  # Patient index rows carry their own id as patient; fine, but simpler off
    filters = plan.filters
    if compartment is None and patient is not None:
        # the other index filters read only that patient's rows, so the filter naming the
        # patient (whose rows are all of theirs: the most numerous) adds nothing then
        others = [f for f in filters if not _names_patient(plan.resource_type, f, patient)]
        if any(f.kind in ("token", "reference", "date") for f in others):
            filters = others
    for flt in filters:
        conditions.append(_filter_condition(plan.resource_type, flt, patient))
    return conditions


def _names_patient(resource_type: str, flt: Filter, patient: str) -> bool:
    """True when FLT asks for exactly the resources in PATIENT's compartment."""
    param = patient_param(resource_type)
    if param is None or flt.references != (patient,):
        return False
    return flt.name == param.name or flt.name in param.stored_as


def _order(plan: SearchPlan) -> list[Any]:
    keys: list[Any] = []
    for name, descending in plan.sort:
        if name == "_lastUpdated":
            column: Any = R.last_updated
        elif name == "_id":
            column = R.res_id
        else:
            param = SEARCH_PARAMS[plan.resource_type][name]
            column = (
                select(func.min(S.low))
                .where(
                    S.res_type == plan.resource_type,
                    S.res_id == R.res_id,
                    _param_condition(param),
                    *_date_rows(param),
                )
                .scalar_subquery()
            )
        keys.append(column.desc() if descending else column)
    keys.extend([R.last_updated, R.res_id])
    return keys


def known_params(resource_type: str) -> list[str]:
    """Names of the search parameters of a type (for the CapabilityStatement)."""
    return sorted(SEARCH_PARAMS.get(resource_type, {}))
