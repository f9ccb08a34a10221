"""Bulk Data export jobs: NDJSON files of current resources, written in the background.

A job writes one `Type.ndjson` file per resource type that has resources to export, with
the stored JSON of each current version as one line, reading the database a page at a time
in id order. It exports what its caller's `Access` sees (a patient token: that patient's
compartment) and what was current at its `transactionTime` (changed at or before it; a
client's next export takes `_since=transactionTime`).

Jobs and their files live with the serving process (`Exports`, one per mounted store): a
restart forgets them, and with several processes the status URL must reach the one that
started the job. Files are removed when the job is cancelled (DELETE on its status URL) or
the store is cleaned up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import false, select

from integrations.fhir_store.access import Access
from integrations.fhir_store.outcome import StoreError
from integrations.fhir_store.records import utcnow
from integrations.fhir_store.sql import CURRENT_VERSION, R, V, visible
from integrations.fhir_store.store import FhirStore

log = logging.getLogger(__name__)

PAGE = 2000
MAX_JOBS_PER_CLIENT = 3


@dataclass
class ExportJob:
    """One export: what it was asked for, how far it got, and its files' line counts."""

    job_id: str
    client_id: str | None
    request: str
    transaction_time: datetime
    types: tuple[str, ...]
    since: datetime | None
    compartments_only: bool  # Patient/$export: Patients and resources in a compartment
    directory: Path
    counts: dict[str, int] = field(default_factory=dict)
    done: bool = False
    error: str | None = None
    task: asyncio.Task[None] | None = None

    @property
    def exported(self) -> int:
        """How many resources are written so far."""
        return sum(self.counts.values())


class Exports:
    """The export jobs of one mounted store, with their files under ROOT (a temporary
    directory made on first use when None)."""

    def __init__(self, root: Path | None = None) -> None:
        self._root = root
        self._made_root: Path | None = None
        self._jobs: dict[str, ExportJob] = {}

    def _directory(self, job_id: str) -> Path:
        if self._root is None:
            self._made_root = Path(tempfile.mkdtemp(prefix="carebot-export-"))
            self._root = self._made_root
        directory = self._root / job_id
        directory.mkdir(parents=True)
        return directory

    def start(
        self,
        store: FhirStore,
        access: Access,
        client_id: str | None,
        request: str,
        types: tuple[str, ...],
        since: datetime | None,
        compartments_only: bool,
    ) -> ExportJob:
        """Start exporting TYPES for CLIENT_ID's caller (429 with too many running)."""
        running = [j for j in self._jobs.values() if j.client_id == client_id and not j.done]
        if len(running) >= MAX_JOBS_PER_CLIENT:
            raise StoreError(429, "too many exports running for this client", "throttled")
        job_id = uuid.uuid4().hex
        job = ExportJob(
            job_id,
            client_id,
            request,
            utcnow(),
            types,
            since,
            compartments_only,
            self._directory(job_id),
        )
        self._jobs[job_id] = job
        job.task = asyncio.create_task(_run(job, store, access))
        return job

    def get(self, job_id: str, client_id: str | None) -> ExportJob:
        """The job, when CLIENT_ID started it (404 otherwise: others learn nothing of it)."""
        job = self._jobs.get(job_id)
        if job is None or job.client_id != client_id:
            raise StoreError(404, "no such export", "not-found")
        return job

    async def cancel(self, job_id: str, client_id: str | None) -> None:
        """Stop the job (if it runs) and remove it with its files."""
        job = self.get(job_id, client_id)
        del self._jobs[job_id]
        await _stop(job)
        await asyncio.to_thread(shutil.rmtree, job.directory, True)

    async def close(self) -> None:
        """Stop every job; remove the files of a temporary root."""
        jobs, self._jobs = list(self._jobs.values()), {}
        for job in jobs:
            await _stop(job)
        if self._made_root is not None:
            await asyncio.to_thread(shutil.rmtree, self._made_root, True)


async def _stop(job: ExportJob) -> None:
    if job.task is not None and not job.task.done():
        job.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await job.task


async def _run(job: ExportJob, store: FhirStore, access: Access) -> None:
    try:
        for rtype in job.types:
            await _export_type(job, store, access, rtype)
        job.done = True
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log.exception("export %s failed", job.job_id)
        job.error = type(error).__name__
        job.done = True


async def _export_type(job: ExportJob, store: FhirStore, access: Access, rtype: str) -> None:
    conditions = [
        R.res_type == rtype,
        R.deleted == false(),
        R.last_updated <= job.transaction_time,
        *visible(access, rtype),
    ]
    if job.since is not None:
        conditions.append(R.last_updated > job.since)
    if job.compartments_only and rtype != "Patient":
        conditions.append(R.patient.is_not(None))
    path = job.directory / f"{rtype}.ndjson"
    handle: IO[str] | None = None
    last = ""
    try:
        while True:
            stmt = (
                select(R.res_id, V.content)
                .join(V, CURRENT_VERSION)
                .where(*conditions, R.res_id > last)
                .order_by(R.res_id)
                .limit(PAGE)
            )
            async with store.sessionmaker() as session:
                rows = (await session.execute(stmt)).all()
            if not rows:
                return
            if handle is None:
                handle = await asyncio.to_thread(path.open, "w", encoding="utf-8")
            text = "".join(f"{row.content}\n" for row in rows)
            await asyncio.to_thread(handle.write, text)
            job.counts[rtype] = job.counts.get(rtype, 0) + len(rows)
            last = rows[-1].res_id
    finally:
        if handle is not None:
            await asyncio.to_thread(handle.close)
