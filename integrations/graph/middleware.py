"""The httpx middleware carebot runs msgraph-sdk with (kiota's pipeline, two changes).

- Retries: the SDK's default `RetryHandler` retries 429/503/504 for every method, POST
  included; a 504 on a Bookings appointment was retried and made a second one. Ours retries
  only methods that are safe to repeat; creations go through `retry_policy.create_once`.
- Bookings allows 4 concurrent requests per app and mailbox: a semaphore around each
  attempt (not around the Retry-After wait) keeps us within it.
"""

from __future__ import annotations

import asyncio

import httpx
from kiota_http.kiota_client_factory import KiotaClientFactory
from kiota_http.middleware.middleware import BaseMiddleware
from kiota_http.middleware.retry_handler import RetryHandler
from msgraph_core.middleware import GraphTelemetryHandler

SAFE_TO_REPEAT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class IdempotentRetryHandler(RetryHandler):
    """kiota's retry (429/503/504, Retry-After honoured) for methods safe to repeat only."""

    def __init__(self) -> None:
        super().__init__()
        self.allowed_methods = SAFE_TO_REPEAT


class BookingsLimit(BaseMiddleware):
    """At most LIMIT Bookings requests in flight at once (other Graph calls pass)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._slots = asyncio.Semaphore(limit)
        self.in_flight = 0
        self.most_in_flight = 0

    async def send(
        self, request: httpx.Request, transport: httpx.AsyncBaseTransport
    ) -> httpx.Response:
        """Send REQUEST, waiting for a free place first when it is a Bookings request."""
        if "/solutions/bookingBusinesses" not in request.url.path:
            return await super().send(request, transport)
        async with self._slots:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                response = await super().send(request, transport)
                await response.aread()  # the place is given back once the body is in
                return response
            finally:
                self.in_flight -= 1


def graph_middleware(limit: BookingsLimit) -> list[BaseMiddleware]:
    """kiota's default pipeline with our retry handler, then the Bookings limit (so the
    retry's Retry-After wait holds no place), then Graph's telemetry header."""
    pipeline: list[BaseMiddleware] = []
    for handler in KiotaClientFactory.get_default_middleware(None):
        if isinstance(handler, RetryHandler):
            pipeline += [IdempotentRetryHandler(), limit]
        else:
            pipeline.append(handler)
    pipeline.append(GraphTelemetryHandler())
    return pipeline
