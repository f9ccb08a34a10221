"""`carebot fhir import`: load FHIR bundles or bulk NDJSON, resumable after an interruption.

A `.json` file holds one Bundle (transaction, or batch loaded as one transaction so its
`urn:uuid:` references resolve) or one resource; a `.ndjson` file holds one resource per
line, loaded in chunks (PUT when the resource has an id, POST otherwise). The progress of
each file is committed in the same database transaction as the data it counts, so an
interrupted import resumes exactly where it stopped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.fhir_store.access import EVERYTHING
from integrations.fhir_store.bundles import Entry, parse_bundle, run_transaction
from integrations.fhir_store.outcome import invalid
from integrations.fhir_store.scopes import Action
from integrations.fhir_store.store import FhirStore, utcnow
from integrations.fhir_store.tables import FhirImportRow

CHUNK = 500


@dataclass(frozen=True)
class ImportReport:
    """What one file import did."""

    path: str
    total: int
    loaded: int
    skipped: int


def file_key(path: Path) -> str:
    """The SHA-256 of a file's content: the same file resumes, a changed one starts over."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _allow(_resource_type: str, _action: Action) -> None:
    return None


def _resource_entry(index: int, resource: Any) -> dict[str, Any]:
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise invalid(f"line {index + 1} is not a FHIR resource")
    rtype = resource["resourceType"]
    if isinstance(resource.get("id"), str):
        return {
            "resource": resource,
            "request": {"method": "PUT", "url": f"{rtype}/{resource['id']}"},
        }
    return {"resource": resource, "request": {"method": "POST", "url": rtype}}


def _ndjson_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield line


def _progress(out: TextIO, name: str, done: int, total: int) -> None:
    width = 30
    filled = width * done // total if total else width
    percent = 100 * done // total if total else 100
    out.write(
        f"\r{name[:40]:40} [{'#' * filled}{'.' * (width - filled)}] {percent:3d}% {done}/{total}"
    )
    if done >= total:
        out.write("\n")
    out.flush()


class Importer:
    """Loads files into a store and records how far each got."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], out: TextIO = sys.stderr
    ) -> None:
        self.store = FhirStore(sessionmaker)
        self.sessionmaker = sessionmaker
        self.out = out

    async def _done(self, key: str, path: Path, total: int) -> int:
        async with self.sessionmaker() as session, session.begin():
            row = (
                await session.execute(
                    select(FhirImportRow.done).where(FhirImportRow.file_key == key)
                )
            ).scalar_one_or_none()
            if row is not None:
                return int(row)
            dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            await session.execute(
                insert(FhirImportRow)
                .values(
                    file_key=key,
                    path=str(path),
                    done=0,
                    total=total,
                    updated_at=utcnow(),
                )
                .on_conflict_do_nothing()
            )
        return 0

    def _mark(self, key: str, done: int) -> Callable[[AsyncSession], Any]:
        async def mark(session: AsyncSession) -> None:
            await session.execute(
                update(FhirImportRow)
                .where(FhirImportRow.file_key == key)
                .values(done=done, updated_at=utcnow())
            )

        return mark

    async def _load(self, raw_entries: list[dict[str, Any]], key: str, done: int) -> None:
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": raw_entries}
        _, entries = parse_bundle(bundle)
        await run_transaction(
            self.store, entries, _allow, also=self._mark(key, done), access=EVERYTHING
        )

    async def import_file(self, path: Path) -> ImportReport:
        """Load one file (or finish loading it)."""
        key = file_key(path)
        if path.suffix == ".ndjson":
            lines = list(_ndjson_lines(path))
            total = len(lines)
        else:
            document = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
            total = 1
        done = await self._done(key, path, total)
        start = done
        _progress(self.out, path.name, done, total)
        if path.suffix == ".ndjson":
            while done < total:
                chunk = lines[done : done + CHUNK]
                entries = [
                    _resource_entry(done + i, json.loads(line)) for i, line in enumerate(chunk)
                ]
                done += len(chunk)
                await self._load(entries, key, done)
                _progress(self.out, path.name, done, total)
        elif done < total:
            if document.get("resourceType") == "Bundle":
                raw = [
                    {k: v for k, v in e.items() if k != "response"}
                    for e in document.get("entry", [])
                ]
            else:
                raw = [_resource_entry(0, document)]
            await self._load(raw, key, 1)
            done = 1
            _progress(self.out, path.name, done, total)
        return ImportReport(str(path), total, done - start, start)


def entries_of(bundle: dict[str, Any]) -> list[Entry]:
    """The parsed entries of a bundle file, as a transaction (pure; for tests and tools)."""
    return parse_bundle({**bundle, "type": "transaction"})[1]
