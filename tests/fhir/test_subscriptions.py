"""R4 rest-hook Subscriptions of the embedded store, against a real local receiver, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest
from sqlalchemy import select

from integrations.fhir.feed import FeedPosition
from integrations.fhir_store.subscription_matcher import FEED_NAME
from integrations.persistence.feed_cursor import FeedRow
from tests.fhir.helpers import vital_json
from tests.fhir.subscriptions import FAST, DeliveringStore, delivering_store, receiver, rest_hook

HEART_RATE = "8867-4"


async def _wait_status(store: DeliveringStore, sub_id: str, status: str) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while True:
        current = (await store.request("GET", f"Subscription/{sub_id}")).json()
        if current["status"] == status or time.monotonic() > deadline:
            return dict(current)
        await asyncio.sleep(0.05)


async def test_heart_rate_notifies_within_a_second_with_payload(database_url: str) -> None:
    async with receiver() as hook, delivering_store(database_url) as store:
        sub = await store.create(rest_hook(hook.url, headers=("Authorization: Bearer s3cret",)))
        assert sub["status"] == "active"  # the server takes a requested subscription on
        patient = await store.create({"resourceType": "Patient"})
        pid = f"Patient/{patient['id']}"
        await store.create(vital_json(pid, "59408-5", 97, "2026-12-01T10:00:00Z", unit="%"))
        written = time.monotonic()
        obs = await store.create(vital_json(pid, HEART_RATE, 72, "2026-12-01T10:00:00Z"))
        got = await hook.next()
        assert got.at - written < 1.0
        assert got.method == "PUT"  # R4: with a payload the endpoint is a service base
        assert got.path == f"/hook/Observation/{obs['id']}"
        assert got.headers["Authorization"] == "Bearer s3cret"
        assert got.headers["Content-Type"].startswith("application/fhir+json")
        assert got.resource() == obs
        await asyncio.sleep(0.3)
        assert len(hook.received) == 1  # the SpO2 reading matched nothing
        assert await store.engine.queue.waiting() == 0


async def test_id_only_is_an_empty_post(database_url: str) -> None:
    async with receiver() as hook, delivering_store(database_url) as store:
        await store.create(rest_hook(hook.url, payload=None))
        patient = await store.create({"resourceType": "Patient"})
        await store.create(
            vital_json(f"Patient/{patient['id']}", HEART_RATE, 80, "2026-12-01T10:00:00Z")
        )
        got = await hook.next()
        assert (got.method, got.path, got.body) == ("POST", "/hook", b"")
        assert len(got.notification_id) == 36


async def test_500_is_retried_with_the_same_notification_id(database_url: str) -> None:
    async with receiver() as hook, delivering_store(database_url) as store:
        hook.answers = [500, 500]
        await store.create(rest_hook(hook.url))
        patient = await store.create({"resourceType": "Patient"})
        await store.create(
            vital_json(f"Patient/{patient['id']}", HEART_RATE, 80, "2026-12-01T10:00:00Z")
        )
        first, second, third = [await hook.next() for _ in range(3)]
        assert first.notification_id == second.notification_id == third.notification_id
        # backed off: at least the first retry delay, then twice it
        assert second.at - first.at >= FAST.first_retry_s * 0.9
        assert third.at - second.at >= 2 * FAST.first_retry_s * 0.9
        await asyncio.sleep(0.3)
        assert len(hook.received) == 3
        assert await store.engine.queue.waiting() == 0


async def test_permanent_failure_sets_error_and_reactivation_resumes(database_url: str) -> None:
    policy = replace(FAST, max_failures=3)
    async with receiver() as hook, delivering_store(database_url, policy) as store:
        hook.answers = [503] * 3
        sub = await store.create(rest_hook(hook.url, payload=None))
        patient = await store.create({"resourceType": "Patient"})
        pid = f"Patient/{patient['id']}"
        await store.create(vital_json(pid, HEART_RATE, 80, "2026-12-01T10:00:00Z"))
        for _ in range(3):
            await hook.next()
        stopped = await _wait_status(store, sub["id"], "error")
        assert stopped["status"] == "error"
        assert "3 failed attempts" in str(stopped["error"])
        assert "503" in str(stopped["error"])
        assert hook.url not in str(stopped["error"])
        # a change while in error is kept for later, not sent
        await store.create(vital_json(pid, HEART_RATE, 81, "2026-12-01T10:01:00Z"))
        await asyncio.sleep(0.8)
        assert len(hook.received) == 3
        assert await store.engine.queue.waiting(sub["id"]) == 2
        # reactivated: the failed notification first, then the one gathered meanwhile
        again = {**stopped, "status": "requested"}
        answer = await store.request("PUT", f"Subscription/{sub['id']}", again)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "active"
        resumed, gathered = await hook.next(), await hook.next()
        assert resumed.notification_id == hook.received[0].notification_id
        assert gathered.notification_id != resumed.notification_id
        await asyncio.sleep(0.3)
        assert await store.engine.queue.waiting() == 0


async def test_off_and_deleted_subscriptions_are_not_notified(database_url: str) -> None:
    async with receiver() as hook, delivering_store(database_url) as store:
        off = await store.create(rest_hook(hook.url, status="off"))
        gone = await store.create(rest_hook(hook.url))
        assert (await store.request("DELETE", f"Subscription/{gone['id']}")).status_code == 204
        patient = await store.create({"resourceType": "Patient"})
        await store.create(
            vital_json(f"Patient/{patient['id']}", HEART_RATE, 80, "2026-12-01T10:00:00Z")
        )
        await asyncio.sleep(1.0)
        assert hook.received == []
        assert off["status"] == "off"


async def test_an_update_is_notified_and_a_delete_is_not(database_url: str) -> None:
    async with receiver() as hook, delivering_store(database_url) as store:
        await store.create(rest_hook(hook.url))
        patient = await store.create({"resourceType": "Patient"})
        obs = await store.create(
            vital_json(f"Patient/{patient['id']}", HEART_RATE, 80, "2026-12-01T10:00:00Z")
        )
        await hook.next()
        changed = {**obs, "valueQuantity": {**obs["valueQuantity"], "value": 90}}
        assert (await store.request("PUT", f"Observation/{obs['id']}", changed)).status_code == 200
        update = await hook.next()
        assert update.resource()["meta"]["versionId"] == "2"
        assert (await store.request("DELETE", f"Observation/{obs['id']}")).status_code == 204
        await asyncio.sleep(0.8)
        assert len(hook.received) == 2


@pytest.mark.parametrize(
    ("criteria", "status"),
    [
        ("Observation?nonsense=1", 400),
        ("Observation?date=notadate", 400),
        ("Nothing?code=1", 422),
        ("AuditEvent?type=x", 422),
        ("Observation?_count=5", 422),
        ("", 400),
    ],
)
async def test_bad_criteria_are_refused_and_store_nothing(
    sqlite_url: str, criteria: str, status: int
) -> None:
    from integrations.persistence.migrate import migrate

    await migrate(sqlite_url)
    async with delivering_store(sqlite_url) as store:
        body = rest_hook("http://127.0.0.1:9/hook", criteria=criteria)
        answer = await store.request("POST", "Subscription", body)
        assert answer.status_code == status, answer.text
        assert answer.json()["resourceType"] == "OperationOutcome"
        found = (await store.request("GET", "Subscription")).json()
        assert found.get("total") == 0


@pytest.mark.parametrize(
    "channel",
    [
        {"type": "websocket", "endpoint": "ws://127.0.0.1:9/x"},
        {"type": "rest-hook", "endpoint": "ftp://example.org/x"},
        {"type": "rest-hook", "endpoint": "http://user:pw@127.0.0.1:9/x"},
        {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/x", "payload": "text/plain"},
        {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/x", "header": ["no colon"]},
        {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/x", "header": ["Host: evil"]},
    ],
)
async def test_bad_channels_are_refused(sqlite_url: str, channel: dict[str, object]) -> None:
    from integrations.persistence.migrate import migrate

    await migrate(sqlite_url)
    async with delivering_store(sqlite_url) as store:
        body = {**rest_hook("http://127.0.0.1:9/x"), "channel": channel}
        answer = await store.request("POST", "Subscription", body)
        assert answer.status_code in (400, 422), answer.text


async def test_capability_statement_lists_subscription_rest_hook(sqlite_url: str) -> None:
    from integrations.persistence.migrate import migrate

    await migrate(sqlite_url)
    async with delivering_store(sqlite_url) as store:
        cap = (await store.request("GET", "metadata")).json()
        (entry,) = [r for r in cap["rest"][0]["resource"] if r["type"] == "Subscription"]
        assert [e["valueCode"] for e in entry["extension"]] == ["rest-hook"]
        names = {p["name"] for p in entry["searchParam"]}
        assert {"status", "url", "type", "criteria", "payload"} <= names
        found = await store.request("GET", "Subscription?status=active&type=rest-hook")
        assert found.status_code == 200


async def test_with_nobody_subscribed_the_feed_is_passed_over(database_url: str) -> None:
    async with receiver() as hook, delivering_store(database_url) as store:
        patient = await store.create({"resourceType": "Patient"})
        pid = f"Patient/{patient['id']}"
        for value in (60, 61, 62):
            await store.create(vital_json(pid, HEART_RATE, value, "2026-12-01T10:00:00Z"))
        assert await store.engine.match_once() == 0
        async with store.sessions() as session:  # nothing read, nothing written
            feeds = (await session.execute(select(FeedRow.name))).scalars().all()
        assert FEED_NAME not in feeds
        sub = await store.create(rest_hook(hook.url))
        newer = await store.create(vital_json(pid, HEART_RATE, 63, "2026-12-01T10:05:00Z"))
        got = await hook.next()
        assert got.path == f"/hook/Observation/{newer['id']}"
        await asyncio.sleep(0.5)
        assert len(hook.received) == 1
        async with store.sessions() as session:  # read from the Subscription's own write on
            position = (
                await session.execute(select(FeedRow.position).where(FeedRow.name == FEED_NAME))
            ).scalar_one()
        assert FeedPosition.from_json(position).since == newer["meta"]["lastUpdated"]
        assert sub["meta"]["lastUpdated"] < newer["meta"]["lastUpdated"]


async def test_deleting_a_failing_subscription_drops_its_queue(database_url: str) -> None:
    async with receiver() as hook, delivering_store(database_url) as store:
        hook.answers = [500] * 100
        sub = await store.create(rest_hook(hook.url, payload=None))
        patient = await store.create({"resourceType": "Patient"})
        await store.create(
            vital_json(f"Patient/{patient['id']}", HEART_RATE, 80, "2026-12-01T10:00:00Z")
        )
        await hook.next()
        assert await store.engine.queue.waiting(sub["id"]) == 1
        assert (await store.request("DELETE", f"Subscription/{sub['id']}")).status_code == 204
        for _ in range(50):
            if await store.engine.queue.waiting(sub["id"]) == 0:
                break
            await asyncio.sleep(0.05)
        assert await store.engine.queue.waiting(sub["id"]) == 0
        sent = len(hook.received)
        await asyncio.sleep(0.5)
        assert len(hook.received) == sent


async def test_two_engines_on_one_database_share_the_queue_and_send_each_once(
    database_url: str,
) -> None:
    async with (
        receiver() as hook,
        delivering_store(database_url) as one,
        delivering_store(database_url) as two,
    ):
        for i in range(4):
            await one.create(rest_hook(f"{hook.url}/s{i}"))
        patient = await two.create({"resourceType": "Patient"})
        pid = f"Patient/{patient['id']}"
        ids = []
        for value in range(10):
            writer = one if value % 2 else two
            obs = await writer.create(
                vital_json(pid, HEART_RATE, 60 + value, "2026-12-01T10:00:00Z")
            )
            ids.append(obs["id"])
        expected = {f"/hook/s{i}/Observation/{rid}" for i in range(4) for rid in ids}
        for _ in range(len(expected)):
            await hook.next(within_s=10)
        await asyncio.sleep(0.5)
        paths = [r.path for r in hook.received]
        assert sorted(paths) == sorted(expected)  # each once: the claims kept apart
