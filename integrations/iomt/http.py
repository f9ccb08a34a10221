"""`POST /iomt/messages`: a registered source's bearer token, 202 once stored durably."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from integrations.iomt.intake import BadMessages, parse_body
from integrations.iomt.store import IomtStore

IOMT_STORE = web.AppKey("iomt_store", IomtStore)
IOMT_WAKE: web.AppKey[Callable[[], None]] = web.AppKey("iomt_wake")


def _error(status: int, message: str) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="iomt"'} if status == 401 else None
    return web.json_response({"error": message}, status=status, headers=headers)


async def post_messages(request: web.Request) -> web.Response:
    """Store the posted messages; 202 with how many, after they are committed."""
    store = request.app[IOMT_STORE]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    source = await store.source_for_token(token.strip()) if scheme.lower() == "bearer" else None
    if source is None:
        return _error(401, "a registered source's bearer token is required")
    try:
        messages = parse_body(await request.read())
    except BadMessages as error:
        return _error(400, str(error))
    count = await store.receive(source, messages)
    request.app[IOMT_WAKE]()
    return web.json_response({"accepted": count}, status=202)


def add_routes(app: web.Application) -> None:
    """Mount the intake route on APP (its store is bound at startup by `bind`)."""
    app.router.add_post("/iomt/messages", post_messages)


def bind(app: web.Application, store: IomtStore, wake: Callable[[], None]) -> None:
    """Give the route its store and the worker's wake-up."""
    app[IOMT_STORE] = store
    app[IOMT_WAKE] = wake
