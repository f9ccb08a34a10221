"""The handoff store on SQLite and PostgreSQL: who sees a request, one taker, messages only
while open, hand back only by the taker."""

from __future__ import annotations

import asyncio

import pytest

from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.handoffs import HandoffStatus, HandoffStore, Sender
from integrations.persistence.migrate import migrate

GRACE, OTHER = "Practitioner/demo-practitioner-miller", "Practitioner/someone-else"


async def test_a_handoff_from_request_to_hand_back(database_url: str) -> None:
    await migrate(database_url)
    engine = create_engine(database_url)
    try:
        store = HandoffStore(create_sessionmaker(engine))
        mine = await store.open("Patient/a", "acct-a", "en", GRACE)
        assert await store.open("Patient/a", "acct-a", "en", GRACE) == mine  # one open each
        nobodys = await store.open("Patient/b", "acct-b", "fr", None)
        theirs = await store.open("Patient/c", "acct-c", "en", OTHER)
        # Grace sees her patient's request and the unassigned one, never another's
        assert {h.id for h in await store.visible_to(GRACE)} == {mine.id, nobodys.id}
        assert {h.id for h in await store.visible_to(None)} == {nobodys.id}
        assert await store.take(theirs.id, "acct-grace", "Grace Miller", GRACE) is None
        # two care managers at once: one takes it
        taken = await asyncio.gather(
            store.take(mine.id, "acct-grace", "Grace Miller", GRACE),
            store.take(mine.id, "acct-grace2", "Grace Two", GRACE),
        )
        (winner,) = [t for t in taken if t is not None]
        assert winner.status is HandoffStatus.TAKEN
        first = await store.add_message(mine.id, Sender.PATIENT, "  I feel dizzy  ")
        second = await store.add_message(mine.id, Sender.STAFF, "Since when?")
        assert first is not None and second is not None and first.text == "I feel dizzy"
        assert [m.text for m in await store.messages(mine.id)] == ["I feel dizzy", "Since when?"]
        assert [m.id for m in await store.messages(mine.id, after=first.id)] == [second.id]
        with pytest.raises(ValueError):
            await store.add_message(mine.id, Sender.PATIENT, " ")
        loser = "acct-grace2" if winner.taken_by == "acct-grace" else "acct-grace"
        assert await store.close(mine.id, loser) is None  # only the taker hands back
        closed = await store.close(mine.id, str(winner.taken_by))
        assert closed is not None and closed.status is HandoffStatus.CLOSED
        assert await store.add_message(mine.id, Sender.PATIENT, "hello?") is None
        assert len(await store.messages(mine.id)) == 2  # nothing changed
        assert mine.id not in {h.id for h in await store.visible_to(GRACE)}
        # the patient withdraws a waiting request
        await store.withdraw("acct-b")
        assert await store.visible_to(GRACE) == []
        again = await store.open("Patient/a", "acct-a", "en", GRACE)
        assert again.id != mine.id  # a new request after the last one closed
    finally:
        await engine.dispose()
