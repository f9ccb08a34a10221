"""MQTT intake: subscribe at QoS 1 with a persistent session and acknowledge each message
(PUBACK) only after it is committed, so a killed service gets it again from the broker.

aiomqtt acknowledges as soon as a message arrives; paho's manual acknowledgement (aiomqtt's
underlying client) is switched on instead, and `ack` is sent once the batch is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import aiomqtt

from integrations.iomt.intake import BadMessages, parse_body
from integrations.iomt.store import IomtStore

log = logging.getLogger(__name__)

MQTT_SOURCE = "mqtt"
BATCH = 500


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """Broker URL (`mqtt://user:password@host:port`), topic filter and client id."""

    url: str
    topic: str
    client_id: str = "carebot-iomt"

    def endpoint(self) -> tuple[str, int, str | None, str | None]:
        """Host, port, user name and password from the URL."""
        parsed = urlparse(self.url)
        if parsed.scheme not in ("mqtt", "tcp") or not parsed.hostname:
            raise ValueError("CAREBOT_IOMT_MQTT_URL must look like mqtt://host:1883")
        user = unquote(parsed.username) if parsed.username else None
        password = unquote(parsed.password) if parsed.password else None
        return parsed.hostname, parsed.port or 1883, user, password


async def _batch(messages: aiomqtt.client.MessagesIterator) -> list[aiomqtt.Message]:
    """The next message and whatever else already waits (up to BATCH); never cancels a
    pending read (aiomqtt's iterator can lose a message to a cancelled read)."""
    batch = [await anext(messages)]
    while len(messages) and len(batch) < BATCH:
        batch.append(await anext(messages))
    return batch


async def store_batch(store: IomtStore, batch: list[aiomqtt.Message]) -> None:
    """Commit the messages of BATCH (a payload that is not JSON is kept as failed)."""
    bodies: list[str] = []
    for message in batch:
        raw = (
            message.payload
            if isinstance(message.payload, bytes | bytearray)
            else str(message.payload).encode()
        )
        try:
            bodies.extend(parse_body(bytes(raw)))
        except BadMessages as error:
            await store.receive_failed(
                MQTT_SOURCE, bytes(raw).decode("utf-8", "replace"), str(error)
            )
    await store.receive(MQTT_SOURCE, bodies)


async def run_mqtt(store: IomtStore, config: MqttConfig, wake: Callable[[], None]) -> None:
    """Subscribe and store until cancelled (reconnects are the worker host's restarts)."""
    host, port, user, password = config.endpoint()
    client = aiomqtt.Client(
        host,
        port,
        username=user,
        password=password,
        identifier=config.client_id,
        clean_session=False,  # the broker keeps what we did not acknowledge while we are away
        protocol=aiomqtt.ProtocolVersion.V311,
    )
    paho = client._client  # aiomqtt has no manual-ack switch of its own
    paho.manual_ack_set(True)
    async with client:
        await client.subscribe(config.topic, qos=1)
        while True:
            batch = await _batch(client.messages)
            await store_batch(store, batch)
            for message in batch:
                if message.qos > 0:
                    paho.ack(message.mid, message.qos)
            wake()
