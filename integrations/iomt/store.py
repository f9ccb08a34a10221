"""The connector's durable state: sources and tokens, template versions, the message intake
and the readings queue, and the status counts.

A message is committed before its sender hears 202 or its MQTT PUBACK; nothing is deleted.
Normalising moves a message to `normalised` (its readings queued), `unmatched` (no template
matched: kept and counted) or `failed` (a template or payload error, with the reason), all in
one transaction. Readings are claimed with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
several processes share the work), then marked `written` or `quarantined` (device not paired).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.iomt.device_templates import (
    DeviceTemplates,
    Measurement,
    NormalizationError,
    load_device_templates,
)
from integrations.iomt.fhir_templates import FhirTemplates, load_fhir_templates
from integrations.iomt.tables import IomtMessageRow, IomtReadingRow, IomtSourceRow, IomtTemplateRow

# Core tables for the bulk statements (no ORM bookkeeping on the hot path)
_MESSAGES = cast(Table, IomtMessageRow.__table__)
_READINGS = cast(Table, IomtReadingRow.__table__)
PENDING, NORMALISED, UNMATCHED, FAILED = "pending", "normalised", "unmatched", "failed"
WRITTEN, QUARANTINED = "written", "quarantined"
MAX_SOURCE_NAME = 128


def token_hash(token: str) -> str:
    """What is stored of a source's token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Templates:
    """The active, compiled template pair."""

    version: int
    device: DeviceTemplates
    fhir: FhirTemplates


@dataclass(frozen=True, slots=True)
class ClaimedReading:
    """A reading held by one worker until its lease ends."""

    id: int
    measurement: Measurement
    received_at: float


@dataclass(frozen=True, slots=True)
class Status:
    """What `carebot iomt status` shows."""

    messages: Mapping[str, int]
    readings: Mapping[str, int]
    reasons: Mapping[str, int] = field(default_factory=dict)
    template_version: int | None = None

    def to_json(self) -> dict[str, object]:
        """As JSON."""
        return {
            "template_version": self.template_version,
            "messages": dict(self.messages),
            "readings": dict(self.readings),
            "reasons": dict(self.reasons),
        }


class IomtStore:
    """The connector's tables through one sessionmaker."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._tokens: dict[str, str] = {}

    # ----- sources ----------------------------------------------------------------------
    async def add_source(self, name: str) -> str:
        """Register NAME; its bearer token (shown once, only its hash is kept)."""
        name = name.strip()
        if not name or len(name) > MAX_SOURCE_NAME:
            raise ValueError(f"a source name is 1 to {MAX_SOURCE_NAME} characters")
        token = "iomt_" + secrets.token_urlsafe(32)
        async with self.sessions.begin() as session:
            if await session.get(IomtSourceRow, name) is not None:
                raise ValueError(f"source {name!r} exists")
            session.add(
                IomtSourceRow(name=name, token_hash=token_hash(token), created_at=datetime.now(UTC))
            )
        return token

    async def sources(self) -> list[str]:
        """The registered sources' names."""
        async with self.sessions() as session:
            return list(
                (
                    await session.scalars(select(IomtSourceRow.name).order_by(IomtSourceRow.name))
                ).all()
            )

    async def remove_source(self, name: str) -> bool:
        """Unregister NAME (its token stops working); whether it existed."""
        async with self.sessions.begin() as session:
            result = await session.execute(delete(IomtSourceRow).where(IomtSourceRow.name == name))
        self._tokens.clear()
        return bool(getattr(result, "rowcount", 0))

    async def source_for_token(self, token: str) -> str | None:
        """The source a bearer token belongs to, or None."""
        digest = token_hash(token)
        cached = self._tokens.get(digest)
        if cached is not None:
            return cached
        async with self.sessions() as session:
            name = await session.scalar(
                select(IomtSourceRow.name).where(IomtSourceRow.token_hash == digest)
            )
        if name is not None:
            self._tokens[digest] = name
        return name

    # ----- templates --------------------------------------------------------------------
    async def load_templates(self, device_text: str, fhir_text: str) -> int:
        """Validate and store a template pair as the new active version (TemplateError: nothing
        changes)."""
        load_device_templates(device_text)
        load_fhir_templates(fhir_text)
        async with self.sessions.begin() as session:
            await session.execute(update(IomtTemplateRow).values(active=False))
            row = IomtTemplateRow(
                device_json=device_text,
                fhir_json=fhir_text,
                loaded_at=datetime.now(UTC),
                active=True,
            )
            session.add(row)
            await session.flush()
            return row.version

    async def active_texts(self) -> tuple[int, str, str] | None:
        """The active pair's version and texts, or None."""
        async with self.sessions() as session:
            row = await session.scalar(
                select(IomtTemplateRow).where(IomtTemplateRow.active.is_(True))
            )
        return None if row is None else (row.version, row.device_json, row.fhir_json)

    async def active_templates(self) -> Templates | None:
        """The active pair, compiled, or None."""
        async with self.sessions() as session:
            row = await session.scalar(
                select(IomtTemplateRow).where(IomtTemplateRow.active.is_(True))
            )
        if row is None:
            return None
        return Templates(
            row.version, load_device_templates(row.device_json), load_fhir_templates(row.fhir_json)
        )

    # ----- intake -----------------------------------------------------------------------
    async def receive(self, source: str, bodies: Sequence[str]) -> int:
        """Store messages durably (committed on return); how many."""
        if not bodies:
            return 0
        now = time.time()
        async with self.sessions.begin() as session:
            await session.execute(
                insert(_MESSAGES),
                [
                    {"source": source, "received_at": now, "body": b, "status": PENDING}
                    for b in bodies
                ],
            )
        return len(bodies)

    async def receive_failed(self, source: str, raw: str, reason: str) -> None:
        """Keep a message that cannot be read (a broker cannot be answered 400)."""
        async with self.sessions.begin() as session:
            session.add(
                IomtMessageRow(
                    source=source,
                    received_at=time.time(),
                    body=raw,
                    status=FAILED,
                    reason=reason[:500],
                )
            )

    async def normalise_pending(self, templates: Templates, limit: int = 500) -> int:
        """Normalise up to LIMIT pending messages; how many were taken."""
        async with self.sessions.begin() as session:
            rows = (
                await session.scalars(
                    select(IomtMessageRow)
                    .where(IomtMessageRow.status == PENDING)
                    .order_by(IomtMessageRow.seq)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            readings: list[dict[str, object]] = []
            for row in rows:
                row.template_version = templates.version
                try:
                    found = templates.device.normalize(json.loads(row.body))
                except (NormalizationError, ValueError, TypeError) as error:
                    row.status, row.reason = FAILED, _reason(error)
                    continue
                known = [m for m in found if m.type in templates.fhir.by_type]
                if not known:
                    row.status = UNMATCHED
                    row.reason = (
                        "no device template matched"
                        if not found
                        else (
                            "no FHIR template for type "
                            + ", ".join(sorted({m.type for m in found}))
                        )
                    )
                    continue
                row.status, row.reason = NORMALISED, None
                readings.extend(
                    {
                        "message_seq": row.seq,
                        "device_id": m.device_id[:256],
                        "type_name": m.type[:128],
                        "body": json.dumps(m.to_json(), separators=(",", ":")),
                        "received_at": row.received_at,
                        "status": PENDING,
                    }
                    for m in known
                )
            if readings:
                await session.execute(insert(_READINGS), readings)
            return len(rows)

    # ----- readings ---------------------------------------------------------------------
    async def claim_readings(
        self, limit: int = 1000, lease_s: float = 60.0
    ) -> list[ClaimedReading]:
        """Claim up to LIMIT pending readings (or ones whose lease ran out)."""
        now = time.time()
        token = uuid.uuid4().hex
        async with self.sessions.begin() as session:
            ids = (
                await session.scalars(
                    select(IomtReadingRow.id)
                    .where(
                        IomtReadingRow.status == PENDING,
                        or_(IomtReadingRow.lease_until.is_(None), IomtReadingRow.lease_until < now),
                    )
                    .order_by(IomtReadingRow.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not ids:
                return []
            await session.execute(
                update(_READINGS)
                .where(_READINGS.c.id.in_(ids))
                .values(claim_token=token, lease_until=now + lease_s)
            )
            rows = (
                await session.execute(
                    select(IomtReadingRow.id, IomtReadingRow.body, IomtReadingRow.received_at)
                    .where(_READINGS.c.id.in_(ids))
                    .order_by(IomtReadingRow.id)
                )
            ).all()
        return [ClaimedReading(i, Measurement.from_json(json.loads(b)), r) for i, b, r in rows]

    async def finish(
        self,
        written: Sequence[int],
        quarantined: Sequence[int] = (),
        failed: Mapping[int, str] | None = None,
    ) -> None:
        """Record what became of claimed readings."""
        now = time.time()
        async with self.sessions.begin() as session:
            for chunk in _chunks(written):
                await session.execute(
                    update(_READINGS)
                    .where(_READINGS.c.id.in_(chunk))
                    .values(
                        status=WRITTEN,
                        written_at=now,
                        lease_until=None,
                        claim_token=None,
                        reason=None,
                    )
                )
            for chunk in _chunks(quarantined):
                await session.execute(
                    update(_READINGS)
                    .where(_READINGS.c.id.in_(chunk))
                    .values(
                        status=QUARANTINED,
                        lease_until=None,
                        claim_token=None,
                        reason="device not paired",
                    )
                )
            for reading, reason in (failed or {}).items():
                await session.execute(
                    update(_READINGS)
                    .where(_READINGS.c.id == reading)
                    .values(status=FAILED, lease_until=None, claim_token=None, reason=reason[:500])
                )

    async def release(self, reading_ids: Sequence[int]) -> None:
        """Give claimed readings back (a transient error): they are taken again soon."""
        async with self.sessions.begin() as session:
            for chunk in _chunks(reading_ids):
                await session.execute(
                    update(_READINGS)
                    .where(_READINGS.c.id.in_(chunk))
                    .values(lease_until=None, claim_token=None)
                )

    async def quarantined_devices(self) -> list[str]:
        """Devices with readings waiting for pairing."""
        async with self.sessions() as session:
            return list(
                (
                    await session.scalars(
                        select(IomtReadingRow.device_id)
                        .where(IomtReadingRow.status == QUARANTINED)
                        .distinct()
                    )
                ).all()
            )

    async def probe_reading(self, device_id: str) -> Measurement | None:
        """One quarantined reading of DEVICE_ID (to ask the resolver whether it is paired now)."""
        async with self.sessions() as session:
            body = await session.scalar(
                select(IomtReadingRow.body)
                .where(_READINGS.c.device_id == device_id, _READINGS.c.status == QUARANTINED)
                .limit(1)
            )
        return None if body is None else Measurement.from_json(json.loads(body))

    async def replay(self, device_id: str) -> int:
        """Put a paired device's quarantined readings back in the queue; how many."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(_READINGS)
                .where(_READINGS.c.device_id == device_id, _READINGS.c.status == QUARANTINED)
                .values(status=PENDING, reason=None)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def status(self) -> Status:
        """Counts by state, and the reasons of the unmatched and failed."""
        async with self.sessions() as session:
            counted: list[dict[str, int]] = []
            for table in (IomtMessageRow, IomtReadingRow):
                rows = await session.execute(
                    select(table.status, func.count()).group_by(table.status)
                )
                counted.append({str(state): int(count) for state, count in rows.all()})
            reasons: dict[str, int] = {}
            for table in (IomtMessageRow, IomtReadingRow):
                rows = await session.execute(
                    select(table.reason, func.count())
                    .where(table.reason.is_not(None))
                    .group_by(table.reason)
                )
                for reason, count in rows.all():
                    reasons[str(reason)] = reasons.get(str(reason), 0) + int(count)
            version = await session.scalar(
                select(IomtTemplateRow.version).where(IomtTemplateRow.active.is_(True))
            )
        messages, readings = counted
        received = sum(messages.values())
        return Status({"received": received, **messages}, readings, reasons, version)


def _reason(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]


def _chunks(ids: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
