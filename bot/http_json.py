"""JSON request bodies read with a size limit, and JSON error responses."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

MAX_ACTIVITY_BYTES = 256 * 1024


class BadRequestError(Exception):
    """A request the client must fix: becomes a 4xx JSON error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def json_error(status: int, code: str, message: str) -> web.Response:
    """A JSON error body in the Bot Framework shape: {"error": {"code", "message"}}."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def read_json_object(request: web.Request, limit: int = MAX_ACTIVITY_BYTES) -> dict[str, Any]:
    """The request body as a JSON object; BadRequestError for anything else."""
    if request.content_type != "application/json":
        raise BadRequestError(415, "UnsupportedMediaType", "send Content-Type: application/json")
    if request.content_length is not None and request.content_length > limit:
        raise BadRequestError(413, "PayloadTooLarge", f"body over {limit} bytes")
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise BadRequestError(413, "PayloadTooLarge", f"body over {limit} bytes")
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise BadRequestError(400, "BadSyntax", f"malformed JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise BadRequestError(400, "BadArgument", "the body must be a JSON object")
    return parsed


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn BadRequestError into its JSON response."""
    try:
        response: web.StreamResponse = await handler(request)
    except BadRequestError as error:
        return json_error(error.status, error.code, error.message)
    return response
