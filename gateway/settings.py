"""Gateway settings, read from `CAREBOT_GATEWAY_*` environment variables (nothing else).

The gateway needs only a FHIR base URL and a bearer token to upload; the rest has defaults.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.mapping import GroupMode

GATEWAY_SCOPES = "system/Observation.write system/Device.write"


class GatewaySettings(BaseSettings):
    """Where the gateway keeps its buffer and which FHIR server it feeds."""

    model_config = SettingsConfigDict(env_prefix="CAREBOT_GATEWAY_", extra="ignore")

    buffer_path: Path = Field(
        default=Path("var/gateway.db"), description="SQLite buffer of frames and uploads"
    )
    fhir_url: str = Field(default="", description="FHIR base URL the readings are uploaded to")
    fhir_token: str = Field(default="", description="Bearer token with Observation/Device write")
    group_mode: GroupMode = Field(
        default=GroupMode.SUMMARY, description="Per-minute streams: summary or sampled-data"
    )
    adapter: str = Field(default="", description="BlueZ adapter, e.g. hci0; default the first")
    batch_size: int = Field(default=200, description="Resources per transaction bundle")
    simulate_speed: float = Field(default=1.0, description="Simulated clock speed-up")
    log_level: str = Field(default="INFO", description="Python log level of `carebot-gateway`")
