"""Alert delivery survives its dispatcher: 1,000 alerts (two channels each: inbox and mail)
detected on the change feed, then delivered by dispatcher processes
(`tests/alerts/dispatch_worker.py`). One killed with SIGKILL mid-delivery and started
again: every delivery made, none twice (one Communication per outbox key, one mail file
per alert). Two at once on PostgreSQL (SKIP LOCKED): none twice even on the wire, none
missing."""

from __future__ import annotations

import asyncio
import collections
import json
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.accounts import AccountRepository
from integrations.alerts.codes import DELIVERY_IDENTIFIER
from integrations.alerts.detector import FEED_NAME, AlertDetector, Recipients
from integrations.fhir.access import FhirAccess, FhirConfig, standalone_access
from integrations.fhir.client import FhirClient
from integrations.fhir.feed import next_link
from integrations.persistence.conversation_refs import ConversationRefStore
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.feed_cursor import FeedCursor
from integrations.persistence.migrate import migrate
from integrations.persistence.outbox import OutboxRow, OutboxStatus
from tests.alerts.dispatch_worker import SECRET
from tests.alerts.world import grace_and_alice, note

ALERTS = 1000
TIMEOUT_S = 600.0


@dataclass
class Store:
    url: str
    access: FhirAccess
    sessions: async_sessionmaker[AsyncSession]
    mail_dir: Path
    sends: Path


@pytest.fixture
async def store(database_url: str, tmp_path: Path) -> AsyncIterator[Store]:
    await migrate(database_url)
    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    async with standalone_access(FhirConfig(secret_key=SECRET), sessions) as access:
        yield Store(database_url, access, sessions, tmp_path / "mail", tmp_path / "sends.txt")
    await engine.dispose()


async def _seed(store: Store) -> int:
    """ALERTS notes for one care manager's patient, detected; the outbox items made."""
    fhir = store.access.system()
    accounts = AccountRepository(store.sessions)
    await grace_and_alice(fhir, accounts)
    for start in range(0, ALERTS, 250):
        entries = [
            {
                "resource": note("p1", f"note {i}"),
                "request": {"method": "POST", "url": "DocumentReference"},
            }
            for i in range(start, start + 250)
        ]
        await fhir.post_bundle_json(
            {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        )
    detector = AlertDetector(
        fhir,
        FeedCursor(store.sessions, FEED_NAME),
        Recipients(fhir, accounts, ConversationRefStore(store.sessions)),
    )
    while await detector.poll_once():
        pass
    return await _count(store)


async def _count(store: Store, status: OutboxStatus | None = None) -> int:
    query = select(func.count()).select_from(OutboxRow)
    if status is not None:
        query = query.where(OutboxRow.status == status.value)
    async with store.sessions() as session:
        return int((await session.execute(query)).scalar_one())


async def _start(store: Store) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.alerts.dispatch_worker",
        store.url, str(store.mail_dir), str(store.sends),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _delivered(process: asyncio.subprocess.Process) -> int:
    out, _ = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
    assert process.returncode == 0
    return int(json.loads(out.decode().strip().splitlines()[-1])["delivered"])


async def _communication_keys(fhir: FhirClient) -> collections.Counter[str]:
    keys: collections.Counter[str] = collections.Counter()
    _, page = await fhir.request_json("GET", "Communication", params=[("_count", "500")])
    while page is not None:
        for entry in page.get("entry") or []:
            for identifier in entry["resource"].get("identifier") or []:
                if identifier["system"] == DELIVERY_IDENTIFIER:
                    keys[identifier["value"]] += 1
        url = next_link(page)
        page = (await fhir.request_json("GET", url))[1] if url else None
    return keys


async def _assert_each_delivered_once(store: Store, items: int) -> list[str]:
    assert await _count(store, OutboxStatus.SENT) == items
    keys = await _communication_keys(store.access.system())
    assert len(keys) == items and set(keys.values()) == {1}
    assert len(list(store.mail_dir.glob("*.eml"))) == ALERTS
    assert not list(store.mail_dir.glob("*.part"))
    return store.sends.read_text().splitlines()


async def test_a_dispatcher_killed_mid_delivery_and_restarted_delivers_all_once(
    store: Store,
) -> None:
    items = await _seed(store)
    assert items == 2 * ALERTS
    first = await _start(store)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_S
    while await _count(store, OutboxStatus.SENT) < items // 3:
        assert first.returncode is None and loop.time() < deadline
        await asyncio.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    assert await first.wait() == -signal.SIGKILL
    assert await _count(store, OutboxStatus.SENT) < items
    await _delivered(await _start(store))
    sends = await _assert_each_delivered_once(store, items)
    assert len(set(sends)) == ALERTS  # every mail handed over; a resend of the few in
    assert len(sends) - ALERTS <= 20  # flight at the kill lands on the same file


async def test_two_dispatchers_on_postgresql_share_the_work_none_twice(store: Store) -> None:
    if not store.url.startswith("postgresql"):
        pytest.skip("SQLite runs one dispatcher (its single writer serialises claims)")
    items = await _seed(store)
    first, second = await _start(store), await _start(store)
    counts = await asyncio.gather(_delivered(first), _delivered(second))
    assert sum(counts) == items and min(counts) > 0  # both worked, together exactly once
    sends = await _assert_each_delivered_once(store, items)
    assert len(sends) == len(set(sends)) == ALERTS
