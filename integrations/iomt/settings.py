"""The connector's settings (`CAREBOT_IOMT_*`), read once where the app is assembled."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from integrations.iomt.identity import IdentityMode


class IomtSettings(BaseSettings):
    """Templates from files (else the active loaded version), MQTT, identity mode."""

    model_config = SettingsConfigDict(env_prefix="CAREBOT_IOMT_", extra="ignore")

    device_template: Path | None = None
    fhir_template: Path | None = None
    mqtt_url: str = ""
    mqtt_topic: str = "carebot/iomt/#"
    mqtt_client_id: str = "carebot-iomt"
    identity: IdentityMode = IdentityMode.LOOKUP
