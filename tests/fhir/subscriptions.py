"""Test helpers for Subscriptions: a real rest-hook receiver and a store that delivers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

from integrations.fhir_store import create_fhir_app, ensure_client
from integrations.fhir_store.app import SUBSCRIPTIONS_KEY
from integrations.fhir_store.subscription_delivery import SubscriptionEngine, delivery_ctx
from integrations.fhir_store.subscription_rules import NOTIFICATION_ID_HEADER, DeliveryPolicy
from integrations.persistence.database import close_engine, create_engine, create_sessionmaker
from tests.fhir.conftest import serve

FAST = DeliveryPolicy(first_retry_s=0.05, max_retry_s=0.2, poll_s=0.5, lease_s=2.0, timeout_s=2.0)


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()

    @property
    def notification_id(self) -> str:
        """The notification's stable id."""
        return self.headers[NOTIFICATION_ID_HEADER]

    def resource(self) -> dict[str, Any]:
        """The body as JSON."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """A rest-hook endpoint: answers with the statuses queued in `answers` (then 200),
    records every request."""

    url: str = ""
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    hold: asyncio.Event | None = None  # when given, requests wait until it is set
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    taken: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        """Record REQUEST and answer."""
        body = await request.read()
        self.received.append(
            Received(request.method, request.path, dict(request.headers), body, time.monotonic())
        )
        self.arrived.set()
        if self.hold is not None:
            await self.hold.wait()
        status = self.answers.pop(0) if self.answers else 200
        return web.Response(status=status)

    async def next(self, within_s: float = 5.0) -> Received:
        """The first request not yet taken by `next`, waiting up to WITHIN_S for it."""
        deadline = time.monotonic() + within_s
        while len(self.received) <= self.taken:
            self.arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no notification arrived in time")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), left)
        self.taken += 1
        return self.received[self.taken - 1]


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    """A receiver on a free loopback port."""
    got = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", got.handle)
    runner, url = await serve(app)
    got.url = f"{url}/hook"
    try:
        yield got
    finally:
        if got.hold is not None:
            got.hold.set()
        await runner.cleanup()


@dataclass
class DeliveringStore:
    """The store served with Subscription delivery on, and an admin token."""

    base_url: str
    engine: SubscriptionEngine
    http: httpx.AsyncClient
    admin: str
    sessions: Any

    async def token(self, name: str, scopes: str, patient: str | None = None) -> str:
        """A registered client's token."""
        return await ensure_client(self.sessions, name, scopes, patient)

    async def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> httpx.Response:
        """One REST call as a client."""
        headers = {"Authorization": f"Bearer {token or self.admin}"}
        if body is not None:
            headers["Content-Type"] = "application/fhir+json"
        return await self.http.request(
            method,
            f"{self.base_url}/{path}",
            headers=headers,
            content=json.dumps(body) if body is not None else None,
        )

    async def create(self, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        """Create BODY; its stored form."""
        answer = await self.request("POST", body["resourceType"], body, token)
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created


@asynccontextmanager
async def delivering_store(
    database_url: str, policy: DeliveryPolicy = FAST
) -> AsyncIterator[DeliveringStore]:
    """The store at /fhir of a bare app, delivering notifications as POLICY says."""
    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    root = web.Application()
    app = create_fhir_app(sessions, subscriptions=policy)
    root.add_subapp("/fhir", app)
    root.cleanup_ctx.append(delivery_ctx(app[SUBSCRIPTIONS_KEY]))  # as `carebot fhir` does
    runner, url = await serve(root)
    admin = await ensure_client(sessions, "admin", "system/*.*")
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            yield DeliveringStore(f"{url}/fhir", app[SUBSCRIPTIONS_KEY], http, admin, sessions)
    finally:
        await runner.cleanup()
        await close_engine(engine)


def rest_hook(
    endpoint: str,
    criteria: str = "Observation?code=http://loinc.org|8867-4",
    payload: str | None = "application/fhir+json",
    headers: tuple[str, ...] = (),
    status: str = "requested",
) -> dict[str, Any]:
    """A Subscription with a rest-hook channel."""
    channel: dict[str, Any] = {"type": "rest-hook", "endpoint": endpoint}
    if payload is not None:
        channel["payload"] = payload
    if headers:
        channel["header"] = list(headers)
    return {
        "resourceType": "Subscription",
        "status": status,
        "reason": "test",
        "criteria": criteria,
        "channel": channel,
    }
