"""Following the FHIR store's change feed with the workers' shared queue (`WorkQueue`).

Each `poll_once()` of a `FeedFollower` does two things, and any number of followers may
run against one database:

1. If no other follower is reading the feed, it reads the next page of the system
   `_history` (oldest first, `scoring.feed`) from the shared position, and queues the
   patients whose vital Observations changed, moving the position in the same
   transaction (`WorkQueue.advance_feed`).
2. It claims a few queued patients and scores each one's windows touched by the change
   (`ScoringWorker.score_patient`), then marks them done. A claim lives for the queue's
   lease and is renewed while the batch lasts; a follower that dies leaves its claims to
   expire and be taken by another, whose idempotent writes duplicate nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from integrations.fhir.feed import read_feed
from scoring.feed import Changes, FeedPosition, collect
from scoring.windows import window_start
from scoring.work_queue import Claim, WorkQueue
from scoring.worker import ScoringWorker, Written

log = logging.getLogger(__name__)
Json = dict[str, Any]


class FeedFollower:
    """One worker of a pool sharing QUEUE: reads the feed in turn, scores what it claims."""

    def __init__(self, worker: ScoringWorker, queue: WorkQueue) -> None:
        self.worker = worker
        self.queue = queue
        self.config = worker.config

    async def _read(self, position: FeedPosition, changes: Changes) -> FeedPosition:
        new, moved = await read_feed(
            self.worker.client,
            position,
            page_size=self.config.page_size,
            overlap=self.config.feed_overlap,
        )
        collect(changes, new)
        return moved

    async def feed_once(self) -> int | None:
        """Queue the patients of the feed's next page; the new entries taken in, or None
        while another follower reads the feed."""
        lease = await self.queue.take_feed()
        if lease is None:
            return None
        changes = Changes()
        try:
            position = await self._read(lease.position, changes)
        except BaseException:
            await asyncio.shield(self.queue.release_feed(lease))
            raise
        if not await self.queue.advance_feed(lease, position, changes.patients):
            return 0  # the lease ran out meanwhile: the next reader reads this stretch
        return changes.entries

    async def _score(self, claim: Claim) -> Written:
        end = window_start(claim.high, self.config.width) + self.config.width
        return await self.worker.score_patient(claim.patient, claim.low, end)

    async def score_claimed(self) -> Written:
        """Claim a batch of queued patients and score them."""
        waiting = await self.queue.claim(self.config.claim_batch)
        total = Written()
        renewed = time.monotonic()
        while waiting:
            if time.monotonic() - renewed > self.queue.lease.total_seconds() / 3:
                held = await self.queue.renew(waiting[0].token)
                renewed = time.monotonic()
                waiting = [c for c in waiting if c.patient in held]  # others lost their lease
                if not waiting:
                    break
            claim = waiting.pop(0)
            try:
                done = await self._score(claim)
            except BaseException:
                for rest in (claim, *waiting):
                    await asyncio.shield(self.queue.release(rest))
                raise
            await self.queue.finish(claim)
            total.add(done)
        return total

    async def poll_once(self) -> Written:
        """Take in the feed's next page (if it is this follower's turn), score a batch."""
        await self.feed_once()
        return await self.score_claimed()

    async def follow(self) -> None:
        """Poll forever (a worker-host task); a failure is logged and retried."""
        while True:
            try:
                entries = await self.feed_once()
                done = await self.score_claimed()
            except Exception as error:  # the FHIR server or database may be away a while
                log.warning("scoring poll failed (%s); retrying", type(error).__name__)
                await asyncio.sleep(self.config.poll_interval_s)
                continue
            if done.assessments or done.flags:
                log.info(
                    "scored %d patients: %d assessments, %d flag changes",
                    len(done.patients),
                    done.assessments,
                    done.flags,
                )
            if not entries and not done.patients:
                await asyncio.sleep(self.config.poll_interval_s)
