"""The one msgraph-sdk client of a process: azure-identity client credentials, our
middleware (no blind POST retries, at most 4 Bookings requests at once), a base URL of
our choosing (`CAREBOT_GRAPH_URL`; a local emulator in tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from azure.identity.aio import ClientSecretCredential
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from msgraph.generated.models.online_meeting import OnlineMeeting
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient
from msgraph_core import GraphClientFactory

from integrations.graph.config import GRAPH_SCOPES, GraphConfig
from integrations.graph.middleware import BookingsLimit, graph_middleware


@dataclass
class GraphClient:
    """msgraph-sdk's service client with the pieces it was built from."""

    sdk: GraphServiceClient
    bookings_limit: BookingsLimit
    _credential: ClientSecretCredential
    _http: httpx.AsyncClient
    _transport: httpx.AsyncHTTPTransport  # kiota's wrapper does not close it

    async def warm_up(self, business_id: str | None) -> None:
        """One real request (the Bookings business; without one, a token and a model
        parsed), so the SDK's first-request cost (about 1.5 s importing its models, the
        first token) is paid at start-up, never in a patient's turn."""
        if business_id:
            await self.sdk.solutions.booking_businesses.by_booking_business_id(business_id).get()
            return
        await self._credential.get_token(*GRAPH_SCOPES)
        parse_node = JsonParseNodeFactory().get_root_parse_node(
            "application/json", b'{"id": "warm-up", "joinWebUrl": "https://teams.microsoft.com/"}'
        )
        parse_node.get_object_value(OnlineMeeting)

    async def aclose(self) -> None:
        """Close the HTTP client and the credential."""
        await self._http.aclose()
        await self._transport.aclose()
        await self._credential.close()


def _credential(config: GraphConfig) -> ClientSecretCredential:
    options: dict[str, object] = {}
    if config.authority:
        options["authority"] = config.authority
    if config.ca_file:
        options["connection_verify"] = config.ca_file
    return ClientSecretCredential(
        config.tenant_id, config.client_id, config.client_secret, **options
    )


def build_graph(config: GraphConfig) -> GraphClient:
    """The Graph client CONFIG names (no I/O until the first request)."""
    credential = _credential(config)
    host = urlsplit(config.url).hostname or ""
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=list(GRAPH_SCOPES), allowed_hosts=[host]
    )
    limit = BookingsLimit(config.bookings_concurrency)
    transport = httpx.AsyncHTTPTransport()
    http = GraphClientFactory.create_with_custom_middleware(
        graph_middleware(limit),
        client=httpx.AsyncClient(transport=transport, timeout=config.timeout_s),
    )
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = config.url.rstrip("/")
    service = GraphServiceClient(request_adapter=adapter)
    return GraphClient(service, limit, credential, http, transport)


@asynccontextmanager
async def open_graph(config: GraphConfig) -> AsyncIterator[GraphClient]:
    """A Graph client for the life of the block."""
    graph = build_graph(config)
    try:
        yield graph
    finally:
        await graph.aclose()
