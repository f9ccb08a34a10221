"""Creating things on Graph exactly once: a look-up before any retry.

A POST that failed with a timeout, a 5xx or a throttle may or may not have been carried
out. `create_once` never repeats it blindly: before each retry it looks for what the first
attempt would have made (an appointment keyed by our hold, a meeting by its external id),
and retries only when nothing is there. Retry-After is honoured.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
from kiota_abstractions.api_error import APIError

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 30.0


class GraphUnavailable(Exception):
    """Graph did not carry out the request after our retries (nothing was made)."""


def status_of(error: BaseException) -> int | None:
    """The HTTP status of a Graph API error (None for anything else)."""
    if isinstance(error, APIError):
        return error.response_status_code
    return None


def retry_delay(error: BaseException, attempt: int) -> float | None:
    """How long to wait before trying again after ERROR (the ATTEMPT-th, from 0), or None
    when it is not worth trying again (a 4xx that is not a throttle, a bug)."""
    if isinstance(error, APIError):
        if error.response_status_code not in RETRYABLE_STATUS:
            return None
        headers = {k.lower(): v for k, v in (error.response_headers or {}).items()}
        after: object = headers.get("retry-after")
        text = str(after[0]) if isinstance(after, list) and after else str(after or "")
        if text.strip().isdigit():
            return min(float(text.strip()), MAX_RETRY_AFTER_S)
    elif not isinstance(error, httpx.TransportError):  # timeouts, refused connections
        return None
    return min(0.2 * 2.0**attempt, MAX_RETRY_AFTER_S)


async def create_once(
    create: Callable[[], Awaitable[T]],
    find: Callable[[], Awaitable[T | None]],
    *,
    attempts: int = 4,
    look_first: bool = False,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """CREATE, retried on transient failures after FIND found nothing; what FIND finds
    is returned instead of creating again. `GraphUnavailable` after ATTEMPTS failures."""
    last: BaseException | None = None
    for attempt in range(attempts):
        try:
            if attempt or look_first:
                found = await find()
                if found is not None:
                    return found
            return await create()
        except Exception as error:
            delay = retry_delay(error, attempt)
            if delay is None:
                raise
            last = error
            log.warning("graph create failed (%s), attempt %d", type(error).__name__, attempt + 1)
            await sleep(delay)
    try:
        found = await find()
    except Exception as error:
        if retry_delay(error, attempts) is None:
            raise
        found = None
    if found is not None:
        return found
    raise GraphUnavailable(f"Graph did not answer after {attempts} attempts") from last


async def call_with_retry(
    call: Callable[[], Awaitable[T]],
    *,
    attempts: int = 4,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """CALL (safe to repeat: a cancel, a read), retried on transient failures."""

    async def nothing() -> T | None:
        return None

    return await create_once(call, nothing, attempts=attempts, sleep=sleep)
