"""The change feed's followers share one table (`scoring_feed`), each under its own name:
scoring, the store's Subscriptions and the alert detector keep apart positions and leases."""

from __future__ import annotations

from integrations.alerts.detector import FEED_NAME as ALERTS_FEED
from integrations.fhir.feed import FeedPosition
from integrations.fhir_store.subscription_matcher import FEED_NAME as SUBSCRIPTIONS_FEED
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.feed_cursor import FeedCursor
from integrations.persistence.migrate import migrate
from scoring.work_queue import FEED_NAME as SCORING_FEED


async def test_each_follower_of_the_feed_keeps_its_own_position_and_lease(
    database_url: str,
) -> None:
    names = [SCORING_FEED, SUBSCRIPTIONS_FEED, ALERTS_FEED]
    assert len(set(names)) == len(names)
    await migrate(database_url)
    engine = create_engine(database_url)
    try:
        sessions = create_sessionmaker(engine)
        cursors = [FeedCursor(sessions, name) for name in names]
        for day, cursor in enumerate(cursors, start=1):
            lease = await cursor.take()
            assert lease is not None and lease.position == FeedPosition()
            moved = FeedPosition(f"2026-01-0{day}T00:00:00Z", frozenset({f"v{day}"}))
            assert await cursor.advance(lease, moved, None)
        held = await cursors[0].take()  # one follower reading holds back no other
        assert held is not None
        for day, cursor in enumerate(cursors[1:], start=2):
            lease = await cursor.take()
            assert lease is not None
            assert lease.position == FeedPosition(
                f"2026-01-0{day}T00:00:00Z", frozenset({f"v{day}"})
            )
            await cursor.release(lease)
        assert await cursors[0].take() is None
        assert held.position.since == "2026-01-01T00:00:00Z"
    finally:
        await engine.dispose()
