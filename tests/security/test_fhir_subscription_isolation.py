"""Subscriptions stay in their subscriber's compartment: a patient's Subscription is never
notified of another patient's resources, whatever its criteria say, its payload never
carries another patient's data, nobody else sees it, and logs carry no endpoint secrets."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.fhir.helpers import vital_json
from tests.fhir.subscriptions import DeliveringStore, delivering_store, receiver, rest_hook

HEART_RATE = "8867-4"


async def _patients(store: DeliveringStore) -> tuple[str, str]:
    alice = await store.create({"resourceType": "Patient", "gender": "female"})
    bruno = await store.create({"resourceType": "Patient", "gender": "male"})
    return f"Patient/{alice['id']}", f"Patient/{bruno['id']}"


async def test_a_patients_subscription_hears_only_of_their_own_data(database_url: str) -> None:
    async with receiver() as hook, receiver() as wide, delivering_store(database_url) as store:
        alice, bruno = await _patients(store)
        alice_token = await store.token("alice-app", "patient/*.*", alice)
        bruno_token = await store.token("bruno-app", "patient/*.*", bruno)
        mine = await store.create(rest_hook(hook.url), alice_token)
        # criteria naming Bruno are a search within Alice's compartment: they match nothing
        nosy = rest_hook(hook.url, criteria=f"Observation?subject={bruno}&code={HEART_RATE}")
        await store.create(nosy, alice_token)
        system = await store.create(rest_hook(wide.url))  # a system client's sees everyone
        await store.create(vital_json(bruno, HEART_RATE, 150, "2026-12-01T10:00:00Z"))
        await store.create(vital_json(alice, HEART_RATE, 70, "2026-12-01T10:01:00Z"))
        got = await hook.next()
        assert got.resource()["subject"] == {"reference": alice}
        await wide.next()
        await wide.next()
        await asyncio.sleep(1.0)
        assert len(hook.received) == 1
        assert all(bruno.split("/")[1] not in r.body.decode() for r in hook.received)
        # nobody else sees Alice's Subscription; she does not see the system's
        other = await store.request("GET", f"Subscription/{mine['id']}", token=bruno_token)
        assert other.status_code == 404
        listed = (await store.request("GET", "Subscription", token=bruno_token)).json()
        assert listed["total"] == 0
        hers = (await store.request("GET", "Subscription", token=alice_token)).json()
        assert system["id"] not in {e["resource"]["id"] for e in hers["entry"]}
        assert hers["total"] == 2
        changed = {**mine, "status": "off"}
        denied = await store.request(
            "PUT", f"Subscription/{mine['id']}", changed, token=bruno_token
        )
        assert denied.status_code in (403, 404)


async def test_a_subscription_needs_read_access_to_what_it_follows(sqlite_url: str) -> None:
    from integrations.persistence.migrate import migrate

    await migrate(sqlite_url)
    async with delivering_store(sqlite_url) as store:
        alice, _ = await _patients(store)
        narrow = await store.token("narrow", "patient/Subscription.cruds patient/Patient.rs", alice)
        answer = await store.request("POST", "Subscription", rest_hook("http://x.test/h"), narrow)
        assert answer.status_code == 403
        no_scope = await store.token("no-subs", "patient/Observation.rs", alice)
        answer = await store.request("POST", "Subscription", rest_hook("http://x.test/h"), no_scope)
        assert answer.status_code == 403
        total = (await store.request("GET", "Subscription")).json()["total"]
        assert total == 0


async def test_logs_carry_no_endpoint_header_or_health_data(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="integrations")
    async with receiver() as hook, delivering_store(database_url) as store:
        hook.answers = [500]
        secret = "Bearer hook-secret-1234"
        await store.create(rest_hook(hook.url, headers=(f"Authorization: {secret}",)))
        alice, _ = await _patients(store)
        await store.create(vital_json(alice, HEART_RATE, 133, "2026-12-01T10:00:00Z"))
        await hook.next()
        await hook.next()
    ours = [r for r in caplog.records if r.name.startswith("integrations")]
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in ours)
    assert "delivery failed" in text  # the failure is logged, by subscription id only
    for leaked in ("hook-secret-1234", hook.url, alice.split("/")[1], "133"):
        assert leaked not in text
