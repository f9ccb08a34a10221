"""Baseline: the Microsoft 365 Agents SDK echo bot (`microsoft-agents-hosting-aiohttp`).

Runs in its own venv (`var/bench/agents`, made by bench/bot_turns.py), never in the
project's: `var/bench/agents/bin/python bench/baselines/agents_echo.py PORT`. No app id:
a connection manager whose every connection is the SDK's anonymous token provider.
"""

from __future__ import annotations

import sys

from aiohttp import web
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import (
    ActivityHandler,
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    ClaimsIdentity,
    MessageFactory,
    TurnContext,
)


class AnonymousConnections:
    """A `Connections` for local use: no app id, no tokens."""

    def __init__(self) -> None:
        self._provider = AnonymousTokenProvider()

    def get_connection(self, connection_name: str) -> AnonymousTokenProvider:
        """The anonymous provider, whatever the name."""
        return self._provider

    def get_default_connection(self) -> AnonymousTokenProvider:
        """The anonymous provider."""
        return self._provider

    def get_token_provider(
        self, claims_identity: ClaimsIdentity, service_url: str
    ) -> AnonymousTokenProvider:
        """The anonymous provider, whatever the caller."""
        return self._provider

    def get_token_provider_from_activity(
        self, claims_identity: ClaimsIdentity, activity: Activity
    ) -> AnonymousTokenProvider:
        """The anonymous provider, whatever the activity."""
        return self._provider

    def get_default_connection_configuration(self) -> AgentAuthConfiguration:
        """An empty configuration (no client id)."""
        return AgentAuthConfiguration()


class EchoAgent(ActivityHandler):  # type: ignore[misc]
    """Echoes each message back."""

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        """Reply with the text received."""
        text = turn_context.activity.text
        await turn_context.send_activity(MessageFactory.text(f"Echo: {text}"))


def create_app() -> web.Application:
    """POST /api/messages through the SDK's aiohttp CloudAdapter."""
    adapter = CloudAdapter(connection_manager=AnonymousConnections())
    agent = EchoAgent()

    async def messages(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse = await adapter.process(request, agent)
        return response

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=None)
