"""The connector assembled on a sessionmaker and a FHIR client: intake route, worker, MQTT."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.fhir import FhirClient
from integrations.iomt import http
from integrations.iomt.identity import resolver_for
from integrations.iomt.mqtt import MqttConfig, run_mqtt
from integrations.iomt.processor import IomtProcessor
from integrations.iomt.settings import IomtSettings
from integrations.iomt.store import IomtStore

Register = Callable[[str, Callable[[], Awaitable[None]]], None]


@dataclass(frozen=True)
class IomtService:
    """The connector's store and worker."""

    store: IomtStore
    processor: IomtProcessor


async def apply_template_files(store: IomtStore, settings: IomtSettings) -> int | None:
    """Load CAREBOT_IOMT_DEVICE_TEMPLATE / _FHIR_TEMPLATE as the active pair unless it is
    already; the active version (TemplateError: a bad file stops the start, nothing changes)."""
    if settings.device_template is None or settings.fhir_template is None:
        return None
    device = settings.device_template.read_text(encoding="utf-8-sig")
    fhir = settings.fhir_template.read_text(encoding="utf-8-sig")
    active = await store.active_texts()
    if active is not None and active[1:] == (device, fhir):
        return active[0]
    return await store.load_templates(device, fhir)


async def start_iomt(
    app: web.Application,
    sessions: async_sessionmaker[AsyncSession],
    fhir: FhirClient,
    settings: IomtSettings,
    register: Register,
) -> IomtService:
    """Bind `POST /iomt/messages` (mounted by `http.add_routes`), apply template files,
    register the worker and (when configured) the MQTT subscriber."""
    store = IomtStore(sessions)
    await apply_template_files(store, settings)
    processor = IomtProcessor(store, fhir, resolver_for(settings.identity, fhir), idle_s=1.0)
    http.bind(app, store, processor.wake)
    register("iomt", processor.run)
    if settings.mqtt_url:
        config = MqttConfig(settings.mqtt_url, settings.mqtt_topic, settings.mqtt_client_id)
        config.endpoint()  # a malformed URL stops the start

        async def subscribe() -> None:
            await run_mqtt(store, config, processor.wake)

        register("iomt-mqtt", subscribe)
    return IomtService(store, processor)
