"""How carebot reaches Microsoft Graph: the endpoint, the app's credentials, the limits."""

from __future__ import annotations

from dataclasses import dataclass

PUBLIC_GRAPH_URL = "https://graph.microsoft.com/v1.0"
GRAPH_SCOPES = ("https://graph.microsoft.com/.default",)


@dataclass(frozen=True)
class GraphConfig:
    """One app registration (client credentials) on one Graph endpoint."""

    tenant_id: str
    client_id: str
    client_secret: str
    url: str = PUBLIC_GRAPH_URL
    authority: str = ""  # token endpoint base; empty: Microsoft Entra ID's public cloud
    ca_file: str = ""  # a CA bundle for the token endpoint (a local one in tests)
    timeout_s: float = 10.0
    bookings_concurrency: int = 4  # Graph's documented limit per app and mailbox

    def __post_init__(self) -> None:
        missing = [
            name
            for name, value in (
                ("CAREBOT_GRAPH_TENANT_ID", self.tenant_id),
                ("CAREBOT_GRAPH_CLIENT_ID", self.client_id),
                ("CAREBOT_GRAPH_CLIENT_SECRET", self.client_secret),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"Microsoft Graph needs {', '.join(missing)}")
        if self.bookings_concurrency < 1:
            raise ValueError("bookings_concurrency must be at least 1")
