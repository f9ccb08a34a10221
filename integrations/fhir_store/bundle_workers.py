"""Big bundles run whole in worker processes, beside the event loop.

A transaction of 1,000 vital signs costs about half a second of CPU: parsing, validation,
index rows and the database driver's own work. On the event loop all of it shares one core
(and one GIL with the driver's thread). In a worker process it runs on a core of its own,
through the worker's own connection to the same database. The database orders the writers
of several processes as it orders those of one (the clock row, store.py), so the change
feed keeps commit order, and a worker answers exactly as the event loop would: both run
`answer_bundle`. The workers also share a lock around their write transactions (the
store's write gate), so that one starts writing the moment another commits.

Workers start with the first big bundle (ordinary traffic never pays for them) and stop
when the app is cleaned up (app.py). Small bundles, every bundle while the workers start,
and every bundle of a database other processes cannot open (in-memory SQLite) run on the
event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.util
import os
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from integrations.fhir_store.bundles import answer_bundle
from integrations.fhir_store.outcome import StoreError
from integrations.fhir_store.scopes import Grant
from integrations.fhir_store.store import FhirStore
from integrations.fhir_store.validate import parse_json
from integrations.persistence.database import close_engine, create_engine, create_sessionmaker

log = logging.getLogger(__name__)

# Bodies smaller than this (about 60 vital signs) run on the event loop: shipping them to
# a worker costs more than it saves.
INLINE_BELOW = 40_000


@dataclass(frozen=True)
class Answer:
    """A worker's answer to a bundle: the response Bundle's JSON and the references it
    wrote, or the parts of the StoreError the bundle was refused with."""

    body: bytes = b""
    targets: tuple[str, ...] = ()
    refusal: tuple[int, str, str, str] | None = None

    def raise_refusal(self) -> None:
        """Raise the StoreError the bundle was refused with, if it was."""
        if self.refusal is not None:
            raise StoreError(*self.refusal)


def shared_database_url(engine: AsyncEngine) -> str | None:
    """ENGINE's URL when other processes can open the same database, else None."""
    url: URL = engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    return url.render_as_string(hide_password=False)


# ----- in a worker process --------------------------------------------------------------


@dataclass
class _Worker:
    loop: asyncio.AbstractEventLoop
    engine: AsyncEngine
    store: FhirStore


_worker: _Worker | None = None


def _start_worker(database_url: str, write_gate: AbstractContextManager[Any]) -> None:
    # the pool's initializer: one event loop, engine and store per worker, for its lifetime
    global _worker
    # a Ctrl-C reaches the whole process group: the server stops its workers itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    engine = create_engine(database_url)
    store = FhirStore(create_sessionmaker(engine), write_gate)
    _worker = _Worker(asyncio.new_event_loop(), engine, store)
    # closed before the process exits: the driver's threads would keep it alive otherwise
    multiprocessing.util.Finalize(_worker, _stop_worker, exitpriority=10)


def _stop_worker() -> None:
    if _worker is not None:
        _worker.loop.run_until_complete(close_engine(_worker.engine))
        _worker.loop.close()


def _exit_with_parent() -> None:
    # a parent killed without cleanup (SIGTERM, SIGKILL) must not leave the worker behind,
    # and a worker waiting for work never notices on its own (it holds both ends of its
    # call queue); the parent's sentinel becomes readable when the parent is gone
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_when_ready, args=(parent.sentinel,), daemon=True).start()


def _exit_when_ready(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(0)


def _warm() -> None:
    # in a fresh worker: connect before the first bundle comes
    assert _worker is not None
    _worker.loop.run_until_complete(_ping(_worker.engine))


async def _ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def answer_in_worker(body: bytes, grant: Grant | None, representation: bool) -> Answer:
    """Answer a bundle BODY (in a worker) as the event loop would."""
    assert _worker is not None, "not a bundle worker"
    return _worker.loop.run_until_complete(_answer(_worker.store, body, grant, representation))


async def _answer(
    store: FhirStore, body: bytes, grant: Grant | None, representation: bool
) -> Answer:
    try:
        bundle, targets = await answer_bundle(store, parse_json(body), grant, representation)
    except StoreError as error:
        return Answer(refusal=(error.status, error.diagnostics, error.code, error.expression))
    return Answer(json.dumps(bundle).encode(), tuple(targets))


# ----- in the server --------------------------------------------------------------------


class BundleWorkers:
    """Worker processes that answer big bundles against DATABASE_URL; started on first use."""

    def __init__(
        self,
        database_url: str | None,
        workers: int | None = None,
        inline_below: int = INLINE_BELOW,
    ) -> None:
        self.database_url = database_url
        self.workers = workers or max(2, os.cpu_count() or 1)
        self.inline_below = inline_below
        self._executor: ProcessPoolExecutor | None = None
        self._warming: list[Future[None]] = []
        self._failed = False  # the workers broke once: bundles run on the event loop from then on
        self._closed = False

    async def answer(self, body: bytes, grant: Grant | None, representation: bool) -> Answer | None:
        """A worker's answer to the bundle BODY; None when it is to be answered inline."""
        executor = self._ready() if len(body) >= self.inline_below else None
        if executor is None:
            return None
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(executor, answer_in_worker, body, grant, representation)
        except (BrokenProcessPool, OSError, RuntimeError) as error:
            self._broke(error)  # not sent: safe to answer inline
            return None
        try:
            return await future
        except BrokenProcessPool as error:
            # it may have been applied before the worker died: the client must look first
            self._broke(error)
            raise StoreError(
                500,
                "the worker applying this bundle stopped; whether it was applied is unknown",
                "exception",
            ) from error

    async def start(self) -> bool:
        """Start the workers now and wait until they take work; False if they cannot."""
        self._ready()
        warming = [asyncio.wrap_future(future) for future in self._warming]
        await asyncio.gather(*warming, return_exceptions=True)
        return self._ready() is not None

    async def close(self) -> None:
        """Stop the workers and wait for them to exit; later bundles run inline."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    def _ready(self) -> ProcessPoolExecutor | None:
        """The executor once its workers are warm (started on first call); else None."""
        if self.database_url is None or self._closed or self._failed:
            return None
        if self._executor is None:
            # spawn, not fork: the parent has threads (the driver's, the default executor)
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=_start_worker,
                initargs=(self.database_url, context.Lock()),  # the workers' write gate
            )
            try:
                # one call a worker, so that each of them starts (they start on demand)
                self._warming = [self._executor.submit(_warm) for _ in range(self.workers)]
            except (BrokenProcessPool, OSError) as error:
                self._broke(error)
                return None
        if not all(future.done() for future in self._warming):
            return None  # the first big bundles run inline while the workers start
        for future in self._warming:
            failure = future.exception()
            if failure is not None:
                self._broke(failure)
                return None
        return self._executor

    def _broke(self, error: BaseException) -> None:
        if not self._failed:
            self._failed = True
            log.error("bundle workers unusable; answering bundles inline from now on: %r", error)
