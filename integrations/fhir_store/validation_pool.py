"""Validation of big bundles in worker processes, beside the event loop.

A transaction of 1,000 vital signs spends most of its CPU time in validate_resource. In a
worker process that time goes to another core, while the event loop parses the next
bundle and SQLite writes the previous one. The workers start on the first big bundle
(ordinary traffic never pays for them) and stop when the app is cleaned up (app.py).

Workers send back only a verdict per resource (None, or the parts of the StoreError that
inline validation raises), so a bundle gets the same answer wherever it was validated.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from integrations.fhir_store.outcome import StoreError
from integrations.fhir_store.params import STORED_TYPES
from integrations.fhir_store.validate import validate_resource

log = logging.getLogger(__name__)

# Fewer resources than this are validated on the event loop: shipping them costs more.
INLINE_BELOW = 64
# Resources a worker validates per call: big enough to amortise the call, small enough
# that several workers share a bundle.
CHUNK = 250

# A resource to validate, and the type its request URL names.
Resource = tuple[dict[str, Any], str]


@dataclass(frozen=True)
class Refusal:
    """What inline validation raised for a resource, as plain fields a worker can send."""

    status: int
    diagnostics: str
    code: str
    expression: str

    def error(self) -> StoreError:
        """The StoreError inline validation raises."""
        return StoreError(self.status, self.diagnostics, self.code, self.expression)


def judge_chunk(resources: list[Resource]) -> list[Refusal | None]:
    """Validate each resource (in a worker); None for each that passes."""
    verdicts: list[Refusal | None] = []
    for document, resource_type in resources:
        try:
            validate_resource(document, resource_type)
        except StoreError as error:
            verdicts.append(Refusal(error.status, error.diagnostics, error.code, error.expression))
        else:
            verdicts.append(None)
    return verdicts


def _exit_with_parent() -> None:
    # in each worker: a parent killed without cleanup (SIGTERM, SIGKILL) must not leave the
    # worker behind, and a worker waiting for work never notices on its own (it holds both
    # ends of its call queue); the parent's sentinel becomes readable when the parent is gone
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_when_ready, args=(parent.sentinel,), daemon=True).start()


def _exit_when_ready(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(0)


def _warm() -> None:
    # in a fresh worker: build the models of the stored types before the first chunk comes
    for resource_type in STORED_TYPES:
        get_fhir_model_class(resource_type)


@dataclass(frozen=True)
class Verdicts:
    """Verdicts on a bundle's resources by entry index; the ones no worker gave are found inline."""

    resources: Mapping[int, Resource]
    judged: Mapping[int, Refusal | None] = field(default_factory=dict)

    def check(self, index: int) -> None:
        """Raise what validate_resource raises for the resource of entry INDEX, if anything."""
        if index not in self.judged:
            validate_resource(*self.resources[index])
            return
        refusal = self.judged[index]
        if refusal is not None:
            raise refusal.error()

    def check_all(self) -> None:
        """Raise the error of the first entry (by index) whose resource is invalid."""
        for index in sorted(self.resources):
            self.check(index)


class ValidationPool:
    """Worker processes that validate the resources of big bundles; started on first use."""

    def __init__(
        self, workers: int | None = None, inline_below: int = INLINE_BELOW, chunk: int = CHUNK
    ) -> None:
        self.workers = workers or max(1, (os.cpu_count() or 1) - 1)
        self.inline_below = inline_below
        self.chunk = chunk
        self._executor: ProcessPoolExecutor | None = None
        self._warming: list[Future[None]] = []
        self._failed = False  # the workers broke once: validate inline from then on
        self._closed = False

    async def judge(self, resources: Mapping[int, Resource]) -> Verdicts:
        """Validate RESOURCES in the workers when there are enough of them to pay for it."""
        executor = self._ready() if len(resources) >= self.inline_below else None
        if executor is None:
            return Verdicts(resources)
        loop = asyncio.get_running_loop()
        items = list(resources.items())
        chunks = [items[start : start + self.chunk] for start in range(0, len(items), self.chunk)]
        futures: list[asyncio.Future[list[Refusal | None]]] = []
        try:
            for chunk in chunks:
                batch = [resource for _, resource in chunk]
                futures.append(loop.run_in_executor(executor, judge_chunk, batch))
        except (BrokenProcessPool, OSError) as error:
            self._broke(error)  # the chunks not sent are validated inline
        found = await asyncio.gather(*futures, return_exceptions=True)
        judged: dict[int, Refusal | None] = {}
        for chunk, result in zip(chunks, found, strict=False):
            if isinstance(result, BrokenProcessPool):
                self._broke(result)
            elif isinstance(result, asyncio.CancelledError):
                pass  # the pool is closing: validated inline on check
            elif isinstance(result, BaseException):
                # validated inline on check, which raises the same error if it was ours
                log.warning("a validation worker failed; validating inline", exc_info=result)
            else:
                judged.update(zip((index for index, _ in chunk), result, strict=True))
        return Verdicts(resources, judged)

    async def start(self) -> bool:
        """Start the workers now and wait until they take work; False if they cannot."""
        self._ready()
        warming = [asyncio.wrap_future(future) for future in self._warming]
        await asyncio.gather(*warming, return_exceptions=True)
        return self._ready() is not None

    async def close(self) -> None:
        """Stop the workers and wait for them to exit; later bundles validate inline."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    def _ready(self) -> ProcessPoolExecutor | None:
        """The executor once its workers are warm (started on first call); else None."""
        if self._closed or self._failed:
            return None
        if self._executor is None:
            # spawn, not fork: the parent has threads (aiosqlite, the default executor)
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_exit_with_parent
            )
            try:
                # one call a worker, so that each of them starts (they start on demand)
                self._warming = [self._executor.submit(_warm) for _ in range(self.workers)]
            except (BrokenProcessPool, OSError) as error:
                self._broke(error)
                return None
        if not all(future.done() for future in self._warming):
            return None  # the first big bundles validate inline while the workers start
        for future in self._warming:
            failure = future.exception()
            if failure is not None:
                self._broke(failure)
                return None
        return self._executor

    def _broke(self, error: BaseException) -> None:
        if not self._failed:
            self._failed = True
            log.error("validation workers unusable; validating inline from now on: %r", error)
