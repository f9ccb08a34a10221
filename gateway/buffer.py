"""The gateway's durable local buffer (SQLite): frames, the upload outbox and paired devices.

A frame is committed here before the gateway acknowledges it; nothing is deleted until it is
in the FHIR store. SQLite runs in WAL mode; `synchronous=NORMAL` survives a killed process
(the fault test SIGKILLs the gateway), `durable=True` selects FULL to survive power loss too.
Calls are synchronous and short (one small transaction each); the gateway makes them from
its event loop on purpose, so a notification is stored before the next is looked at.

Tables: `frames` (every notification as received; `mapped` once turned into Observations),
`outbox` (Observations and Devices waiting for, or done with, upload), `devices` (pairings and
the live state `carebot gateway status` shows from another process).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway.codes import CharacteristicUuid
from gateway.frames import DeviceBinding, Frame, ObservationRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    uuid INTEGER NOT NULL,
    data BLOB NOT NULL,
    received_at TEXT NOT NULL,
    stored_wall REAL NOT NULL,
    mapped INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS frames_unmapped ON frames (mapped, device, seq);
-- A retransmitted indication (same device, characteristic, receipt time, bytes) is one frame.
CREATE UNIQUE INDEX IF NOT EXISTS frames_once ON frames (device, uuid, received_at, data);
CREATE TABLE IF NOT EXISTS outbox (
    item INTEGER PRIMARY KEY AUTOINCREMENT,
    identifier TEXT NOT NULL UNIQUE,
    resource_type TEXT NOT NULL,
    method TEXT NOT NULL,
    device TEXT NOT NULL,
    kind TEXT NOT NULL,
    resource TEXT NOT NULL,
    frame_wall REAL NOT NULL,
    created_wall REAL NOT NULL,
    uploaded_wall REAL,
    rejected TEXT,
    revision INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (uploaded_wall, rejected, item);
CREATE TABLE IF NOT EXISTS devices (
    address TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    manufacturer TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    serial TEXT NOT NULL DEFAULT '',
    patient_id TEXT,
    device_id TEXT NOT NULL,
    paired_at TEXT,
    connected INTEGER NOT NULL DEFAULT 0,
    last_seen TEXT,
    last_reading_at TEXT,
    last_reading TEXT
);
CREATE TABLE IF NOT EXISTS gateway_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One resource waiting for upload."""

    item: int
    identifier: str
    resource_type: str
    method: str
    resource_json: str
    frame_wall: float
    revision: int = 0  # bumped when a queued resource is replaced (a refreshed Device)


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A known device: identity, pairing and live state."""

    address: str
    name: str
    manufacturer: str
    model: str
    serial: str
    patient_id: str | None
    device_id: str
    connected: bool
    last_seen: str | None
    last_reading_at: str | None
    last_reading: str | None


@dataclass(frozen=True, slots=True)
class BufferCounts:
    """How much is waiting where."""

    unmapped_frames: int
    quarantined_frames: int
    outbox_pending: int
    outbox_rejected: int
    uploaded: int
    oldest_pending_wall: float | None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class FrameBuffer:
    """The SQLite file behind the gateway; one instance per process."""

    def __init__(self, path: Path | str, durable: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
        if "revision" not in columns:  # buffers written before the column existed
            self._db.execute("ALTER TABLE outbox ADD COLUMN revision INTEGER NOT NULL DEFAULT 0")

    def close(self) -> None:
        """Close the database file."""
        self._db.close()

    # ---- frames ---------------------------------------------------------------------
    def append(self, frame: Frame) -> bool:
        """Store a received frame (committed on return); False if it was already stored."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO frames (device, uuid, data, received_at, stored_wall)"
            " VALUES (?,?,?,?,?)",
            (frame.device, int(frame.uuid), frame.data, _iso(frame.received_at), time.time()),
        )
        return cursor.rowcount == 1

    def append_many(self, frames: Sequence[Frame]) -> None:
        """Store several frames in one transaction."""
        now = time.time()
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO frames (device, uuid, data, received_at, stored_wall)"
                " VALUES (?,?,?,?,?)",
                [(f.device, int(f.uuid), f.data, _iso(f.received_at), now) for f in frames],
            )

    def unmapped_frames(
        self, devices: Iterable[str], after_seq: int = 0
    ) -> list[tuple[Frame, float]]:
        """Frames of these devices not yet mapped (after `after_seq`), oldest first, with wall time."""
        wanted = list(devices)
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        rows = self._db.execute(
            "SELECT seq, device, uuid, data, received_at, stored_wall FROM frames"
            f" WHERE mapped = 0 AND seq > ? AND device IN ({marks}) ORDER BY seq",
            [after_seq, *wanted],
        ).fetchall()
        return [
            (
                Frame(
                    device,
                    CharacteristicUuid(uuid),
                    bytes(data),
                    datetime.fromisoformat(received_at),
                    seq,
                ),
                stored_wall,
            )
            for seq, device, uuid, data, received_at, stored_wall in rows
        ]

    def commit_mapping(
        self,
        mapped_seqs: Sequence[int],
        records: Sequence[tuple[str, ObservationRecord, float]],
        undecodable_seqs: Sequence[int] = (),
    ) -> list[str]:
        """Atomically queue Observations and mark their frames mapped; identifiers queued.

        `records` holds (device address, record, wall time the first frame was stored). An
        identifier already queued with a different body (a late frame for a closed minute)
        gets a `/late-N` suffix instead of being dropped.
        """
        queued: list[str] = []
        now = time.time()
        with self._transaction():
            for device, record, frame_wall in records:
                identifier = record.identifier
                resource = record.resource_json
                existing = self._db.execute(
                    "SELECT resource FROM outbox WHERE identifier = ?", (identifier,)
                ).fetchone()
                if existing is not None:
                    if existing[0] == resource:
                        continue
                    n = 1
                    while self._db.execute(
                        "SELECT 1 FROM outbox WHERE identifier = ?", (f"{identifier}/late-{n}",)
                    ).fetchone():
                        n += 1
                    new_identifier = f"{identifier}/late-{n}"
                    resource = resource.replace(
                        f'"value":"{identifier}"', f'"value":"{new_identifier}"', 1
                    )
                    identifier = new_identifier
                self._db.execute(
                    "INSERT INTO outbox (identifier, resource_type, method, device, kind, resource,"
                    " frame_wall, created_wall) VALUES (?,?,?,?,?,?,?,?)",
                    (
                        identifier,
                        "Observation",
                        "POST",
                        device,
                        record.kind,
                        resource,
                        frame_wall,
                        now,
                    ),
                )
                queued.append(identifier)
            self._db.executemany(
                "UPDATE frames SET mapped = 1 WHERE seq = ?", [(seq,) for seq in mapped_seqs]
            )
            # Kept, not deleted: a frame no decoder accepts stays for inspection (mapped = 2).
            self._db.executemany(
                "UPDATE frames SET mapped = 2 WHERE seq = ?", [(seq,) for seq in undecodable_seqs]
            )
        return queued

    # ---- outbox ---------------------------------------------------------------------
    def queue_resource(
        self, identifier: str, resource_type: str, device: str, resource_json: str
    ) -> None:
        """Queue a PUT of a resource with a client-chosen id (the FHIR Device on pairing)."""
        now = time.time()
        with self._transaction():
            self._db.execute(
                "INSERT INTO outbox (identifier, resource_type, method, device, kind, resource,"
                " frame_wall, created_wall) VALUES (?,?,?,?,?,?,?,?)"
                " ON CONFLICT (identifier) DO UPDATE SET resource = excluded.resource,"
                " uploaded_wall = NULL, rejected = NULL, created_wall = excluded.created_wall,"
                " revision = outbox.revision + 1",
                (
                    identifier,
                    resource_type,
                    "PUT",
                    device,
                    resource_type.lower(),
                    resource_json,
                    now,
                    now,
                ),
            )

    def pending(self, limit: int) -> list[OutboxItem]:
        """The oldest resources not yet uploaded (nor rejected)."""
        rows = self._db.execute(
            "SELECT item, identifier, resource_type, method, resource, frame_wall, revision"
            " FROM outbox"
            " WHERE uploaded_wall IS NULL AND rejected IS NULL ORDER BY item LIMIT ?",
            (limit,),
        ).fetchall()
        return [OutboxItem(*row) for row in rows]

    def mark_uploaded(self, items: Sequence[OutboxItem]) -> float:
        """Record a successful upload; returns the wall time used.

        An item replaced while its upload was in flight (a newer revision) stays pending.
        """
        now = time.time()
        with self._transaction():
            self._db.executemany(
                "UPDATE outbox SET uploaded_wall = ? WHERE item = ? AND revision = ?",
                [(now, i.item, i.revision) for i in items],
            )
        return now

    def mark_rejected(self, item: int, reason: str) -> None:
        """Keep a resource the server refused, with the reason (listed by status, never dropped)."""
        self._db.execute("UPDATE outbox SET rejected = ? WHERE item = ?", (reason[:2000], item))

    def undecodable(self) -> int:
        """How many stored frames no decoder accepted."""
        return int(self._db.execute("SELECT COUNT(*) FROM frames WHERE mapped = 2").fetchone()[0])

    def upload_latencies(self) -> list[float]:
        """Seconds from storing the first frame to the upload, per uploaded Observation."""
        rows = self._db.execute(
            "SELECT uploaded_wall - frame_wall FROM outbox"
            " WHERE uploaded_wall IS NOT NULL AND resource_type = 'Observation'"
        ).fetchall()
        return [float(r[0]) for r in rows]

    def prune(self, older_than_wall: float) -> tuple[int, int]:
        """Forget what is safely in the FHIR store and older than a wall time.

        Deletes uploaded outbox rows and mapped frames stored before the cutoff, but never
        past the oldest resource still waiting (its frames must stay); rejected resources and
        undecodable frames are kept. Returns (frames, outbox rows) deleted.
        """
        with self._transaction():
            oldest = self._db.execute(
                "SELECT MIN(created_wall) FROM outbox WHERE uploaded_wall IS NULL"
            ).fetchone()[0]
            cutoff = older_than_wall if oldest is None else min(older_than_wall, float(oldest))
            frames = self._db.execute(
                "DELETE FROM frames WHERE mapped = 1 AND stored_wall < ?", (cutoff,)
            ).rowcount
            rows = self._db.execute(
                "DELETE FROM outbox WHERE uploaded_wall IS NOT NULL AND uploaded_wall < ?"
                " AND rejected IS NULL",
                (cutoff,),
            ).rowcount
        return int(frames), int(rows)

    def rejected(self) -> list[tuple[str, str]]:
        """(identifier, reason) of every resource the server refused."""
        rows = self._db.execute(
            "SELECT identifier, rejected FROM outbox WHERE rejected IS NOT NULL ORDER BY item"
        ).fetchall()
        return [(str(a), str(b)) for a, b in rows]

    # ---- devices --------------------------------------------------------------------
    def upsert_device(
        self,
        address: str,
        device_id: str,
        name: str = "",
        manufacturer: str = "",
        model: str = "",
        serial: str = "",
    ) -> None:
        """Remember a device (keeps an existing pairing; fills identity fields it learns)."""
        self._db.execute(
            "INSERT INTO devices (address, device_id, name, manufacturer, model, serial)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT (address) DO UPDATE SET"
            " name = CASE WHEN excluded.name != '' THEN excluded.name ELSE devices.name END,"
            " manufacturer = CASE WHEN excluded.manufacturer != '' THEN excluded.manufacturer"
            " ELSE devices.manufacturer END,"
            " model = CASE WHEN excluded.model != '' THEN excluded.model ELSE devices.model END,"
            " serial = CASE WHEN excluded.serial != '' THEN excluded.serial ELSE devices.serial END",
            (address, device_id, name, manufacturer, model, serial),
        )

    def set_pairing(self, address: str, patient_id: str | None, at: datetime) -> None:
        """Bind a device to a patient (or unbind with None)."""
        self._db.execute(
            "UPDATE devices SET patient_id = ?, paired_at = ? WHERE address = ?",
            (patient_id, _iso(at) if patient_id else None, address),
        )

    def set_connected(self, address: str, connected: bool, at: datetime) -> None:
        """Record the live link state."""
        self._db.execute(
            "UPDATE devices SET connected = ?, last_seen = ? WHERE address = ?",
            (int(connected), _iso(at), address),
        )

    def set_last_reading(self, address: str, at: datetime, summary: str) -> None:
        """Record the latest reading of a device (for status)."""
        self._db.execute(
            "UPDATE devices SET last_reading_at = ?, last_reading = ?, last_seen = ?"
            " WHERE address = ?",
            (_iso(at), summary, _iso(at), address),
        )

    def devices(self) -> list[DeviceRow]:
        """Every known device."""
        rows = self._db.execute(
            "SELECT address, name, manufacturer, model, serial, patient_id, device_id, connected,"
            " last_seen, last_reading_at, last_reading FROM devices ORDER BY address"
        ).fetchall()
        return [
            DeviceRow(a, n, m, mo, s, p, d, bool(c), ls, lra, lr)
            for a, n, m, mo, s, p, d, c, ls, lra, lr in rows
        ]

    def bindings(self) -> dict[str, DeviceBinding]:
        """Paired devices by address."""
        return {
            row.address: DeviceBinding(row.address, row.patient_id, row.device_id)
            for row in self.devices()
            if row.patient_id
        }

    # ---- counts ---------------------------------------------------------------------
    def counts(self) -> BufferCounts:
        """Depths of each stage."""
        paired = [row.address for row in self.devices() if row.patient_id]
        unmapped = self._db.execute("SELECT COUNT(*) FROM frames WHERE mapped = 0").fetchone()[0]
        if paired:
            marks = ",".join("?" * len(paired))
            in_paired = self._db.execute(
                f"SELECT COUNT(*) FROM frames WHERE mapped = 0 AND device IN ({marks})", paired
            ).fetchone()[0]
        else:
            in_paired = 0
        pending, oldest = self._db.execute(
            "SELECT COUNT(*), MIN(created_wall) FROM outbox"
            " WHERE uploaded_wall IS NULL AND rejected IS NULL"
        ).fetchone()
        rejected = self._db.execute(
            "SELECT COUNT(*) FROM outbox WHERE rejected IS NOT NULL"
        ).fetchone()[0]
        uploaded = self._db.execute(
            "SELECT COUNT(*) FROM outbox WHERE uploaded_wall IS NOT NULL"
        ).fetchone()[0]
        return BufferCounts(
            int(unmapped),
            int(unmapped - in_paired),
            int(pending),
            int(rejected),
            int(uploaded),
            float(oldest) if oldest is not None else None,
        )

    def quarantine(self) -> list[tuple[str, int, str, str]]:
        """(device, frame count, first, last receipt time) of frames held for unpaired devices."""
        paired = set(self.bindings())
        rows = self._db.execute(
            "SELECT device, COUNT(*), MIN(received_at), MAX(received_at) FROM frames"
            " WHERE mapped = 0 GROUP BY device ORDER BY device"
        ).fetchall()
        return [(d, int(n), a, b) for d, n, a, b in rows if d not in paired]

    def set_state(self, key: str, value: str) -> None:
        """Keep a small piece of gateway state (last upload error, ...)."""
        self._db.execute(
            "INSERT INTO gateway_state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def state(self, key: str) -> str | None:
        """Read a piece of gateway state."""
        row = self._db.execute("SELECT value FROM gateway_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, tb: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
