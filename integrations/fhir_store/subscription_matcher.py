"""Which Subscriptions each change matches, read from the store's change feed.

The matcher follows the feed as every follower does (`integrations.fhir.feed` for where it
is, `FeedCursor` for the shared position under a lease). For each stretch it reads:

- the Subscription versions in it say which subscriptions are delivered to
  (`DeliveryQueue.mirror`);
- every other new version is matched against the subscriptions that follow its type, by
  the store's own search: `criteria&_id=<the changed ids>` run with the subscriber's
  `Access` (the compartment its Subscription lies in: a patient's subscription sees only
  that patient's resources, whatever its criteria say). Semantics are search's exactly.
  A match counts only if the resource is still at the version the feed names; a newer
  one comes later in the feed and is matched then. Deletions notify nothing (R4).

The matches are queued (`DeliveryQueue.enqueue`) in the transaction that moves the
position on, so a stretch is queued whole or read again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import false, func, select

from integrations.fhir.feed import FeedPosition, Json, take_new
from integrations.fhir_store.access import EVERYTHING, Access
from integrations.fhir_store.dates import format_instant, parse_instant
from integrations.fhir_store.outcome import StoreError
from integrations.fhir_store.records import Stored, utcnow
from integrations.fhir_store.sql import R, V, current_versions
from integrations.fhir_store.store import FhirStore
from integrations.fhir_store.subscription_queue import DeliveryQueue, Match
from integrations.fhir_store.subscription_rules import (
    SUBSCRIPTION,
    SubscriptionSpec,
    parse_subscription,
)
from integrations.persistence.feed_cursor import FeedCursor

FEED_NAME = "fhir-subscriptions"
PAGE = 500
_IDS_PER_SEARCH = 200


@dataclass(frozen=True)
class Subscribed:
    """A stored Subscription: its id, what it says, and whose it is (None: a system
    client's)."""

    subscription_id: str
    spec: SubscriptionSpec
    subscriber: str | None

    @property
    def access(self) -> Access:
        """What its notifications may tell of: what the subscriber sees."""
        return Access(self.subscriber)


def _entry(stored: Stored) -> Json:
    """A version as a history entry, for the feed's bookkeeping."""
    entry: Json = {
        "fullUrl": stored.reference,
        "response": {"etag": stored.etag, "lastModified": format_instant(stored.last_updated)},
    }
    if stored.content is not None:
        entry["resource"] = stored.content
    return entry


def _active(stored: Stored) -> bool | None:
    """Whether a Subscription version is delivered to; None for a deletion."""
    if stored.content is None:
        return None
    return stored.content.get("status") == "active"


def subscribed(subscription_id: str, content: str, subscriber: str | None) -> Subscribed | None:
    """A stored Subscription's content as served; None if it no longer parses."""
    try:
        spec = parse_subscription(json.loads(content))
    except StoreError:
        return None
    return Subscribed(subscription_id, spec, subscriber)


class SubscriptionMatcher:
    """Reads the feed in turn with other matchers on the database and queues matches."""

    def __init__(self, store: FhirStore, cursor: FeedCursor, queue: DeliveryQueue) -> None:
        self.store = store
        self.cursor = cursor
        self.queue = queue
        self.queued = 0
        """Notifications and subscription states the last stretch changed."""

    async def _first_subscription(self) -> datetime | None:
        """When the first Subscription ever stored was written (None: there is none).
        Nothing written before it can match: the feed is read from there at the earliest,
        so a bulk load with nobody subscribed is never read through."""
        stmt = select(func.min(V.last_updated)).where(V.res_type == SUBSCRIPTION)
        async with self.store.sessionmaker() as session:
            first: datetime | None = (await session.execute(stmt)).scalar_one()
        return first

    async def subscriptions(self, ids: Iterable[str] | None = None) -> list[Subscribed]:
        """The stored Subscriptions (those of IDS), as served."""
        conditions = [R.res_type == SUBSCRIPTION, R.deleted == false()]
        if ids is not None:
            conditions.append(R.res_id.in_(sorted(ids)))
        stmt = current_versions(*conditions).add_columns(R.patient)
        async with self.store.sessionmaker() as session:
            rows = (await session.execute(stmt)).all()
        found = [subscribed(r.res_id, r.content, r.patient) for r in rows]
        return [s for s in found if s is not None]

    async def match_once(self) -> int | None:
        """Queue the matches of the feed's next stretch; the new versions read, or None
        while another matcher reads the feed."""
        first = await self._first_subscription()
        if first is None:
            self.queued = 0
            return 0  # nobody subscribes: nothing to read, nothing to move
        start = FeedPosition(format_instant(first))
        lease = await self.cursor.take(start)
        if lease is None:
            return None
        try:
            position = lease.position
            if position.since is None or parse_instant(position.since) < first:
                position = start
            since = position.since
            versions, _ = await self.store.history(
                since=parse_instant(since) if since else None,
                count=PAGE,
                ascending=True,
                access=EVERYTHING,
            )
            entries = [_entry(v) for v in versions]
            new, position = take_new(entries, position, timedelta(0))
            taken = {id(e) for e in new}
            fresh = [v for v, e in zip(versions, entries, strict=True) if id(e) in taken]
            states, matches = await self._matches(fresh)
        except BaseException:
            await self.cursor.release(lease)
            raise

        async def queue(session: Any) -> None:
            await self.queue.mirror(session, states)
            await self.queue.enqueue(session, matches)

        if not await self.cursor.advance(lease, position, queue):
            return 0  # the lease ran out meanwhile: the next reader reads this stretch
        self.queued = len(matches) + len(states)
        return len(new)

    async def _matches(self, versions: list[Stored]) -> tuple[dict[str, bool | None], list[Match]]:
        states: dict[str, bool | None] = {}
        latest: dict[tuple[str, str], int] = {}
        for version in versions:  # oldest first: the last one of a resource wins
            if version.resource_type == SUBSCRIPTION:
                states[version.resource_id] = _active(version)
            if version.content is None:
                latest.pop((version.resource_type, version.resource_id), None)
            else:
                latest[(version.resource_type, version.resource_id)] = version.version_id
        if not latest:
            return states, []
        now = utcnow()
        followed = [s for s in await self.subscriptions() if s.spec.matches_at(now)]
        matches: list[Match] = []
        for sub in followed:
            rtype = sub.spec.criteria.resource_type
            ids = sorted(rid for t, rid in latest if t == rtype)
            for start in range(0, len(ids), _IDS_PER_SEARCH):
                chunk = ids[start : start + _IDS_PER_SEARCH]
                found = await self.store.search(
                    sub.spec.criteria.plan(chunk, len(chunk)), access=sub.access
                )
                matches += [
                    Match(sub.subscription_id, rtype, m.resource_id, m.version_id)
                    for m in found.matches
                    if latest.get((rtype, m.resource_id)) == m.version_id
                ]
        return states, matches
