"""Delivering Subscription notifications: the dispatchers, and the engine that runs them
beside the matcher in the store's process (async I/O).

    engine = SubscriptionEngine(store, strategy, policy)   # create_fhir_app, once
    await engine.run()                                     # until cancelled

A dispatcher claims a subscription with notifications due (`DeliveryQueue.claim`) and
sends them oldest first (`subscription_rules.notification`): with a payload, the version
the change feed named, read again with the subscriber's `Access`. A 2xx answer takes the
notification off the queue; anything else (another status, no connection, no answer in
time) is a failure: the subscription is retried after the policy's back-off, and once the
policy gives up it is set to `error` with the reason in `Subscription.error` (in the same
transaction as its delivery state), its queue kept. Set `active` (or `requested`) again,
it resumes with the notification that failed.

The matcher wakes when this process's store commits a write and the dispatchers when the
matcher queued something; both also look every `policy.poll_s` (writes of other processes).
Logs name subscriptions by id and failures by kind: never an endpoint, a header or content.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import aiohttp
from aiohttp import web

from integrations.fhir_store.access import EVERYTHING
from integrations.fhir_store.outcome import StoreError
from integrations.fhir_store.store import FhirStore
from integrations.fhir_store.subscription_matcher import (
    FEED_NAME,
    Subscribed,
    SubscriptionMatcher,
)
from integrations.fhir_store.subscription_queue import DeliveryQueue, Held, Pending
from integrations.fhir_store.subscription_rules import (
    SUBSCRIPTION,
    DeliveryPolicy,
    Notification,
    error_text,
    notification,
)
from integrations.persistence.feed_cursor import ClaimStrategy, FeedCursor

log = logging.getLogger(__name__)
_BATCH = 50  # notifications one claim sends before letting others have a turn


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


class SubscriptionEngine:
    """The matcher and the dispatchers of one process."""

    def __init__(
        self,
        store: FhirStore,
        strategy: ClaimStrategy,
        policy: DeliveryPolicy,
        *,
        http: aiohttp.ClientSession | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.strategy = strategy
        self.queue = DeliveryQueue(store.sessionmaker, strategy, lease_s=policy.lease_s)
        lease = timedelta(seconds=policy.lease_s)
        cursor = FeedCursor(store.sessionmaker, FEED_NAME, lease=lease)
        self.matcher = SubscriptionMatcher(store, cursor, self.queue)
        self._http = http
        self._feed_wake = asyncio.Event()
        self._queue_wake = asyncio.Event()
        self._stopping = False
        store.on_write(self._feed_wake.set)

    @property
    def dispatchers(self) -> int:
        """Delivery loops of this process: one on SQLite."""
        return 1 if self.strategy is ClaimStrategy.SINGLE_WORKER else self.policy.dispatchers

    # ----- delivery --------------------------------------------------------------------------
    async def _send(self, http: aiohttp.ClientSession, note: Notification) -> str | None:
        """None when the endpoint took NOTE; else what went wrong (no secrets in it)."""
        timeout = aiohttp.ClientTimeout(total=self.policy.timeout_s)
        try:
            async with http.request(
                note.method,
                note.url,
                headers=note.headers,
                data=note.body,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"the endpoint answered {response.status}"
        except TimeoutError:
            return f"no answer within {self.policy.timeout_s:g} s"
        except aiohttp.ClientError as error:
            return f"the endpoint could not be reached ({type(error).__name__})"

    async def _body(self, sub: Subscribed, pending: Pending) -> bytes | None:
        """The version to send (read as the subscriber would), None without a payload; a
        version the subscriber no longer sees raises StoreError."""
        if sub.spec.channel.payload is None:
            return None
        stored = await self.store.vread(
            pending.resource_type, pending.resource_id, pending.version_id, access=sub.access
        )
        return json.dumps(stored.content, separators=(",", ":"), ensure_ascii=False).encode()

    async def _give_up(self, held: Held, error: str) -> None:
        """Set the Subscription to error with ERROR and stop delivering to it, together."""
        sub_id = held.subscription_id
        try:
            current = await self.store.read(SUBSCRIPTION, sub_id, access=EVERYTHING)
        except StoreError:
            current = None
        async with self.store.writing() as writer:
            if current is not None and current.content is not None:
                document = {**current.content, "status": "error", "error": error}
                await writer.update(
                    SUBSCRIPTION, sub_id, document, current.version_id, access=EVERYTHING
                )
            await self.queue.stop(writer.session, held, error)
        log.warning("subscription %s: delivery stopped, status error", sub_id)

    async def deliver_once(self, http: aiohttp.ClientSession) -> bool:
        """Claim one subscription and send what it has due; False when none was due."""
        held = await self.queue.claim()
        if held is None:
            return False
        try:
            await self._deliver(http, held)
        except BaseException:
            await asyncio.shield(self.queue.release(held))
            raise
        return True

    async def _deliver(self, http: aiohttp.ClientSession, held: Held) -> None:
        found = await self.matcher.subscriptions([held.subscription_id])
        if not found or found[0].spec.status != "active":
            await self.queue.pause(held, gone=not found)  # turned on again by the matcher
            return
        sub = found[0]
        for _ in range(_BATCH):
            pending = await self.queue.oldest(held)
            if pending is None:
                break
            try:
                body = await self._body(sub, pending)
            except StoreError:
                outcome = None  # nothing the subscriber may still be told: dropped
            else:
                note = notification(sub.spec.channel, pending.notification_id,
                                    pending.reference, body)  # fmt: skip
                outcome = await self._send(http, note)
            if outcome is None:
                if not await self.queue.delivered(held, pending):
                    return  # the lease passed on: another dispatcher has it
                held = Held(held.subscription_id, held.token, 0, None)
                continue
            await self._failed(held, outcome)
            return
        await self.queue.release(held)

    async def _failed(self, held: Held, outcome: str) -> None:
        now = self.queue.now_ms()
        failures = held.failures + 1
        since = held.failing_since if held.failing_since is not None else now
        failing_for = (now - since) / 1000
        log.info("subscription %s: delivery failed (%d in a row)", held.subscription_id, failures)
        if self.policy.gives_up(failures, failing_for):
            stopped = Held(held.subscription_id, held.token, failures, since)
            await self._give_up(stopped, error_text(failures, failing_for, outcome))
            return
        await self.queue.failed(held, self.policy.delay(failures), outcome)

    # ----- the loops -------------------------------------------------------------------------
    async def match_once(self) -> int | None:
        """One stretch of the feed matched (see SubscriptionMatcher.match_once)."""
        taken = await self.matcher.match_once()
        if self.matcher.queued:
            self._queue_wake.set()
        return taken

    def stop(self) -> None:
        """Let the loops finish what they are doing and end (`run` returns)."""
        self._stopping = True
        self._feed_wake.set()
        self._queue_wake.set()

    async def _follow(self) -> None:
        while not self._stopping:
            self._feed_wake.clear()
            try:
                taken = await self.match_once()
            except Exception as error:  # the database may be away a while
                log.warning("subscription matching failed (%s); retrying", type(error).__name__)
                taken = None
            if not taken:
                await _wait(self._feed_wake, self.policy.poll_s)

    async def _dispatch(self, http: aiohttp.ClientSession) -> None:
        while not self._stopping:
            self._queue_wake.clear()
            try:
                worked = await self.deliver_once(http)
            except Exception as error:
                log.warning("subscription delivery failed (%s); retrying", type(error).__name__)
                worked = False
            if not worked:
                await _wait(self._queue_wake, await self._until_due())

    async def _until_due(self) -> float:
        """Seconds until the next retry is due, at most a poll interval."""
        poll = self.policy.poll_s
        try:
            due = await self.queue.next_due_ms()
        except Exception:
            return poll
        if due is None:
            return poll
        return min(poll, max(0.005, (due - self.queue.now_ms()) / 1000))

    async def run(self) -> None:
        """Match and deliver until stopped (or cancelled)."""
        self._stopping = False
        if self._http is not None:
            await self._loops(self._http)
            return
        async with aiohttp.ClientSession() as http:
            await self._loops(http)

    async def _loops(self, http: aiohttp.ClientSession) -> None:
        await asyncio.gather(
            self._follow(), *(self._dispatch(http) for _ in range(self.dispatchers))
        )


_STOP_WAIT_S = 5.0


def delivery_ctx(engine: SubscriptionEngine) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx running ENGINE while an app runs (`carebot fhir`; the service runs it
    on its worker host). At the end a delivery under way finishes first, up to a few
    seconds: a task cancelled mid-query leaves its connection behind."""

    async def run_engine(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(engine.run(), name="fhir-subscriptions")
        try:
            yield
        finally:
            engine.stop()
            done, _ = await asyncio.wait([task], timeout=_STOP_WAIT_S)
            if not done:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return run_engine
