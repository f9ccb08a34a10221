"""A booking world on Microsoft 365: Bookings, Teams and Graph mail on the local Graph
emulator (tests/fakes/graph.py), reached through msgraph-sdk and azure-identity."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.graph import BUSINESS, FakeGraph
from tests.visits.conftest import World, open_world


@dataclass
class GraphWorld:
    """The emulator and the world booking on it."""

    graph: FakeGraph
    world: World


@pytest.fixture
async def graph(tmp_path: Path) -> AsyncIterator[FakeGraph]:
    async with FakeGraph(tmp_path / "graph") as fake:
        yield fake


def graph_settings(graph: FakeGraph, meetings: str = "teams") -> dict[str, object]:
    """CAREBOT_* settings that put every visit backend on the emulator."""
    config = graph.config()
    return {
        "scheduler": "bookings", "meetings": meetings, "mail": "graph",
        "graph_url": config.url, "graph_tenant_id": config.tenant_id,
        "graph_client_id": config.client_id, "graph_client_secret": config.client_secret,
        "graph_authority": config.authority, "graph_ca_file": config.ca_file,
        "bookings_business_id": BUSINESS, "graph_timeout_s": config.timeout_s,
    }  # fmt: skip


@pytest.fixture
async def on_graph(tmp_path: Path, graph: FakeGraph) -> AsyncIterator[GraphWorld]:
    async with open_world(tmp_path, **graph_settings(graph)) as world:
        yield GraphWorld(graph, world)
