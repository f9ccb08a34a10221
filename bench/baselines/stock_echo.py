"""Baseline: the stock botbuilder 4.17.1 echo bot (CloudAdapter, empty app id).

Runs in its own venv (`var/bench/stock`, made by bench/bot_turns.py), never in the
project's: `var/bench/stock/bin/python bench/baselines/stock_echo.py PORT`.
"""

from __future__ import annotations

import sys

from aiohttp import web
from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)


class _Config:
    """What the samples' config.py holds: no app id, so no inbound or outbound auth."""

    APP_ID = ""
    APP_PASSWORD = ""
    APP_TYPE = "MultiTenant"
    APP_TENANTID = ""


class EchoBot(ActivityHandler):  # type: ignore[misc]
    """Echoes each message back, as the samples' 02.echo-bot does."""

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        """Reply with the text received."""
        text = turn_context.activity.text
        await turn_context.send_activity(MessageFactory.text(f"Echo: {text}", f"Echo: {text}"))


def create_app() -> web.Application:
    """The sample's app: POST /api/messages through the stock CloudAdapter."""
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(_Config()))
    bot = EchoBot()

    async def messages(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse = await adapter.process(request, bot)
        return response

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=None)
