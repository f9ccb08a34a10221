"""`POST /iomt/messages` (bearer token of a registered source, 202 once stored) and MQTT
intake against the real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import aiomqtt
import httpx
import pytest
from aiohttp import web

from integrations.iomt import http
from integrations.iomt.mqtt import MqttConfig, run_mqtt
from tests.fhir.conftest import serve
from tests.iomt.conftest import MQTT_HOST, MQTT_PORT, MQTT_URL, Connector


@pytest.fixture
async def intake(connector: Connector) -> AsyncIterator[tuple[str, Connector]]:
    app = web.Application()
    http.add_routes(app)
    http.bind(app, connector.store, connector.processor.wake)
    runner, url = await serve(app)
    yield url, connector
    await runner.cleanup()


def heart(device: str, value: int, second: int) -> dict[str, object]:
    return {"heartRate": value, "endDate": f"2024-06-01T08:00:{second:02d}Z", "deviceId": device}


async def test_http_intake_needs_a_registered_token_and_refuses_bad_bodies(
    intake: tuple[str, Connector],
) -> None:
    url, connector = intake
    token = await connector.store.add_source("watch-cloud")
    async with httpx.AsyncClient(base_url=url) as client:
        post = client.post
        assert (await post("/iomt/messages", json=heart("d", 70, 0))).status_code == 401
        wrong = {"Authorization": "Bearer iomt_nope"}
        assert (
            await post("/iomt/messages", json=heart("d", 70, 0), headers=wrong)
        ).status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        bad = await post("/iomt/messages", content=b"{not json", headers=auth)
        assert bad.status_code == 400 and "not JSON" in bad.json()["error"]
        mixed = await post("/iomt/messages", json=[heart("d", 70, 0), 5], headers=auth)
        assert mixed.status_code == 400
        deep = b'{"v":' * 100_000 + b"1" + b"}" * 100_000  # past the JSON parser's recursion
        nested = await post("/iomt/messages", content=deep, headers=auth)
        assert nested.status_code == 400 and "nested" in nested.json()["error"]
        assert (await connector.store.status()).messages == {"received": 0}
        one = await post("/iomt/messages", json=heart("d", 70, 0), headers=auth)
        assert one.status_code == 202 and one.json() == {"accepted": 1}
        many = await post(
            "/iomt/messages", json=[heart("d", 71, 5), heart("d", 72, 10)], headers=auth
        )
        assert many.json() == {"accepted": 2}
        envelope = {"Body": heart("d", 73, 15), "Properties": {}, "SystemProperties": {}}
        assert (await post("/iomt/messages", json=envelope, headers=auth)).json() == {"accepted": 1}
        assert await connector.store.remove_source("watch-cloud")
        assert (await post("/iomt/messages", json=envelope, headers=auth)).status_code == 401
    await connector.pair("d", "pd")
    await connector.drain()
    [obs] = await connector.observations()
    assert obs["valueSampledData"]["data"].split()[:4] == ["70", "71", "72", "73"]
    assert (await connector.store.status()).messages == {"received": 4, "normalised": 4}


async def test_mqtt_messages_are_stored_and_written(connector: Connector) -> None:
    topic = f"carebot-test/{uuid.uuid4().hex}"
    config = MqttConfig(MQTT_URL, f"{topic}/#", client_id=f"carebot-test-{uuid.uuid4().hex[:8]}")
    task = asyncio.create_task(run_mqtt(connector.store, config, connector.processor.wake))
    try:
        await connector.pair("m1", "pm1")
        await asyncio.sleep(0.3)  # subscribed
        async with aiomqtt.Client(MQTT_HOST, MQTT_PORT) as publisher:
            for second in range(0, 30, 5):
                payload = json.dumps(heart("m1", 60 + second, second))
                await publisher.publish(f"{topic}/m1", payload, qos=1)
            await publisher.publish(f"{topic}/m1", b"\xff not json", qos=1)
        for _ in range(100):
            if (await connector.store.status()).messages.get("received") == 7:
                break
            await asyncio.sleep(0.05)
        await connector.drain()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with aiomqtt.Client(
            MQTT_HOST, MQTT_PORT, identifier=config.client_id, clean_session=True
        ):
            pass  # drop the persistent session
    status = await connector.store.status()
    assert status.messages == {"received": 7, "normalised": 6, "failed": 1}
    [obs] = await connector.observations()
    assert obs["valueSampledData"]["data"].split()[:6] == ["60", "65", "70", "75", "80", "85"]
