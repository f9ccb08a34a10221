"""JSON request bodies read with a size limit, and JSON error responses."""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

MAX_ACTIVITY_BYTES = 256 * 1024
# Integers JavaScript clients (Web Chat) read exactly; longer digit strings are refused
# before Python converts them (over 4,300 digits it raises, which was a 500).
MAX_SAFE_INTEGER = 2**53


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


class _NumberError(ValueError):
    """A JSON number the service does not take."""


def _bounded_int(text: str) -> int:
    if len(text) > 17 or abs(value := int(text)) > MAX_SAFE_INTEGER:
        raise _NumberError(f"integers must be within +/-{MAX_SAFE_INTEGER}")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NumberError("numbers must be finite")
    return value


def _no_constant(text: str) -> float:
    # json accepts NaN and Infinity, which are not JSON: echoed back they break clients.
    raise _NumberError(f"{text} is not a JSON number")


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
        parsed = json.loads(
            body, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise BadRequestError(400, "BadSyntax", f"malformed JSON: {error}") from None
    except _NumberError as error:
        raise BadRequestError(400, "BadArgument", str(error)) from None
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
