"""A local Bot Connector that speaks the Bot Framework v3 REST protocol.

What an Activity is comes from `bot/activity_check.py` (its table is checked against the
swagger in test_bot_connector.py). The routes, statuses and bodies follow
`protocol_swagger/ConnectorAPI.json` and what the real connector answered in `teams_recorded_integrationBot/` (both under
`../shared/corpora/botframework/`): a reply or a send answers 201 with a `ResourceResponse`
(`{"id": "1:..."}`), creating a conversation answers 201 with a
`ConversationResourceResponse` (`{"id": ..., "activityId": ...}`), errors carry an
`ErrorResponse` (`{"error": {"code": ..., "message": ...}}`).

Teams gives bots a serviceUrl with a path (`https://smba.trafficmanager.net/amer/`), so the
fake mounts every route under a prefix (default `/amer`): a bot that drops the path of
its serviceUrl gets 404s here, as it would in Teams.

    async with FakeBotConnector() as connector:
        activity["serviceUrl"] = connector.service_url
        ...  # drive the bot
        reply = await connector.wait_for_reply(activity["id"])
        assert reply.body["text"] == "..."
        assert [r.operation for r in connector.requests] == ["reply_to_activity"]
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from bot.activity_check import ActivityError, check_activity

# The operationIds of ConnectorAPI.json, in snake case, that the fake answers.
REPLY_TO_ACTIVITY: Final = "reply_to_activity"
SEND_TO_CONVERSATION: Final = "send_to_conversation"
UPDATE_ACTIVITY: Final = "update_activity"
DELETE_ACTIVITY: Final = "delete_activity"
CREATE_CONVERSATION: Final = "create_conversation"
GET_CONVERSATION_MEMBERS: Final = "get_conversation_members"
UNKNOWN: Final = "unknown"


# JSON types of `definitions.ConversationParameters` in ConnectorAPI.json.
CONVERSATION_PARAMETER_TYPES: Final[Mapping[str, str]] = {
    "isGroup": "boolean",
    "bot": "object",
    "members": "array",
    "topicName": "string",
    "tenantId": "string",
    "activity": "object",
    "channelData": "object",
}


_PYTHON_TYPES: Final[Mapping[str, type]] = {
    "boolean": bool,
    "object": dict,
    "array": list,
    "string": str,
}


def check_conversation_parameters(body: object) -> dict[str, Any]:
    """Return `body` if it is ConversationParameters someone can be reached with."""
    if not isinstance(body, dict):
        raise ActivityError("the body is not ConversationParameters")
    for name, expected in CONVERSATION_PARAMETER_TYPES.items():
        value = body.get(name)
        if value is not None and not isinstance(value, _PYTHON_TYPES[expected]):
            raise ActivityError(f"'{name}' must be a JSON {expected}")
    members = body.get("members") or []
    for member in members:
        if not isinstance(member, dict) or not isinstance(member.get("id"), str):
            raise ActivityError("each member needs an 'id' string")
    bot = body.get("bot")
    if bot is not None and not isinstance(bot.get("id"), str):
        raise ActivityError("'bot.id' must be a string")
    channel = (body.get("channelData") or {}).get("channel")
    # Teams answers 400 when it cannot tell whom to talk to: members (a chat) or a channel.
    if not members and not (isinstance(channel, dict) and isinstance(channel.get("id"), str)):
        raise ActivityError("a conversation needs members or channelData.channel.id")
    if not body.get("isGroup") and len(members) > 1:
        raise ActivityError("a conversation that is not a group has one member")
    return body


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received, and what it answered."""

    method: str
    path: str
    """The path as sent, still percent-encoded, prefix included."""
    operation: str
    """One of the operation constants above (`REPLY_TO_ACTIVITY`, ...)."""
    conversation_id: str | None
    """From the path, decoded."""
    activity_id: str | None
    """From the path, decoded (the replied-to, updated or deleted activity)."""
    headers: CIMultiDictProxy[str]
    body: Any
    """The parsed JSON body (None when there was none or it was not JSON)."""
    status: int
    response: Any
    """The JSON the fake answered (None for an empty body)."""
    received_at: float
    """`time.perf_counter()` when the body had been read."""

    @property
    def activity(self) -> dict[str, Any] | None:
        """The Activity the bot sent (for create conversation, its initial activity)."""
        if self.status >= 300 or not isinstance(self.body, dict):
            return None
        if self.operation == CREATE_CONVERSATION:
            initial = self.body.get("activity")
            return initial if isinstance(initial, dict) else None
        if self.operation in (REPLY_TO_ACTIVITY, SEND_TO_CONVERSATION, UPDATE_ACTIVITY):
            return self.body
        return None


@dataclass
class _Failure:
    status: int
    code: str
    message: str
    operations: frozenset[str] | None
    remaining: int
    retry_after: int | None = None


@dataclass
class _Waiter:
    predicate: Callable[[RecordedRequest], bool]
    future: asyncio.Future[RecordedRequest]


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": code, "message": message}}


class FakeBotConnector:
    """An aiohttp server on loopback that answers like the Bot Connector and records requests.

    `require_auth`: answer 401 to a request without `Authorization: Bearer <token>`;
    `token`: if set, only that token is accepted. `members`: what
    GET .../members answers. The server starts on a free port when entered.
    """

    def __init__(
        self,
        *,
        prefix: str = "/amer",
        host: str = "127.0.0.1",
        require_auth: bool = False,
        token: str | None = None,
        members: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.host = host
        self.require_auth = require_auth or token is not None
        self.token = token
        self.members = [dict(member) for member in members]
        self.requests: list[RecordedRequest] = []
        self._ids = itertools.count(1)
        self._failures: list[_Failure] = []
        self._retry_after: int | None = None
        self._waiters: list[_Waiter] = []
        self._replies: dict[tuple[str, str | None], asyncio.Future[RecordedRequest]] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, self.host, 0).start()
        self._port = int(runner.addresses[0][1])
        self._runner = runner

    async def close(self) -> None:
        """Stop the server; pending waits fail."""
        pending = [w.future for w in self._waiters] + list(self._replies.values())
        for future in pending:
            if not future.done():
                future.cancel()
        self._waiters.clear()
        self._replies.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._port is None:
            raise RuntimeError("the fake Bot Connector is not started")
        return self._port

    @property
    def service_url(self) -> str:
        """The serviceUrl to put in inbound activities, with a trailing slash like Teams'."""
        return f"http://{self.host}:{self.port}{self.prefix}/"

    # -- what tests read --------------------------------------------------------------

    @property
    def activities(self) -> list[dict[str, Any]]:
        """Every Activity the bot sent that was accepted, in order of arrival."""
        return [r.activity for r in self.requests if r.activity is not None]

    def clear(self) -> None:
        """Forget the recorded requests."""
        self.requests.clear()
        self._replies.clear()

    def fail_next(
        self,
        status: int,
        *,
        code: str = "ServiceError",
        message: str = "injected failure",
        times: int = 1,
        operations: Sequence[str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next `times` matching requests with `status` and an ErrorResponse
        (with a `Retry-After` of RETRY_AFTER seconds, as Teams throttling does)."""
        chosen = frozenset(operations) if operations else None
        self._failures.append(_Failure(status, code, message, chosen, times, retry_after))

    # Each wait takes a bounded default timeout (ASYNC109 prefers asyncio.timeout at the
    # call site) so that a bot that never calls the connector fails a test, not hangs it.

    async def wait_for(
        self,
        predicate: Callable[[RecordedRequest], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> RecordedRequest:
        """The first recorded request (past or future) for which `predicate` holds."""
        for recorded in self.requests:
            if predicate(recorded):
                return recorded
        future: asyncio.Future[RecordedRequest] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(predicate, future)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def wait_for_reply(
        self,
        activity_id: str,
        activity_type: str | None = "message",
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> RecordedRequest:
        """The first accepted reply of `activity_type` (None: any) to activity `activity_id`."""
        future = self._reply_future((activity_id, activity_type))
        return await asyncio.wait_for(asyncio.shield(future), timeout)

    async def wait_for_requests(
        self,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[RecordedRequest]:
        """Wait until at least `count` requests were recorded; return them all."""
        await self.wait_for(lambda _: len(self.requests) >= count, timeout)
        return list(self.requests)

    def _reply_future(self, key: tuple[str, str | None]) -> asyncio.Future[RecordedRequest]:
        future = self._replies.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._replies[key] = future
        return future

    # -- the protocol -----------------------------------------------------------------

    def _route(self, segments: list[str], method: str) -> tuple[str, str | None, str | None]:
        """Map path segments after `/v3/` to (operation, conversation id, activity id)."""
        match segments:
            case ["conversations"] if method == "POST":
                return CREATE_CONVERSATION, None, None
            case ["conversations", conversation, "activities"] if method == "POST":
                return SEND_TO_CONVERSATION, conversation, None
            case ["conversations", conversation, "activities", activity] if activity != "history":
                operation = {
                    "POST": REPLY_TO_ACTIVITY,
                    "PUT": UPDATE_ACTIVITY,
                    "DELETE": DELETE_ACTIVITY,
                }.get(method, UNKNOWN)
                return operation, conversation, activity
            case ["conversations", conversation, "members"] if method == "GET":
                return GET_CONVERSATION_MEMBERS, conversation, None
        return UNKNOWN, None, None

    def _new_id(self) -> str:
        # Shaped like the ids Teams answered in the recordings ("1:1ch5y8yK...").
        return f"1:fake{next(self._ids):08d}"

    def _answer(self, operation: str, activity: str | None, body: Any) -> tuple[int, Any]:
        if operation == UNKNOWN:
            return _error(404, "NotFound", "no such Bot Connector operation")
        if operation == DELETE_ACTIVITY:
            return 200, None
        if operation == GET_CONVERSATION_MEMBERS:
            return 200, self.members
        if operation == CREATE_CONVERSATION:
            try:
                check_conversation_parameters(body)
            except ActivityError as error:
                return _error(400, "BadArgument", str(error))
            answer: dict[str, Any] = {"id": f"a:fakeconversation{next(self._ids):08d}"}
            if body.get("activity") is not None:
                try:
                    check_activity(body["activity"])
                except ActivityError as error:
                    return _error(400, "BadArgument", f"activity: {error}")
                answer["activityId"] = self._new_id()
            return 201, answer
        try:
            sent = check_activity(body)
        except ActivityError as error:
            return _error(400, "BadArgument", str(error))
        if operation == UPDATE_ACTIVITY:
            return 200, {"id": activity}
        if operation == REPLY_TO_ACTIVITY and sent.get("replyToId") not in (None, activity):
            return _error(400, "BadArgument", "replyToId differs from the activity id in the path")
        return 201, {"id": self._new_id()}

    def _authorized(self, headers: CIMultiDictProxy[str]) -> bool:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        return self.token is None or token.strip() == self.token

    def _injected(self, operation: str) -> tuple[int, Any] | None:
        for failure in self._failures:
            if failure.operations is None or operation in failure.operations:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                if failure.retry_after is not None:
                    self._retry_after = failure.retry_after
                return _error(failure.status, failure.code, failure.message)
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        received_at = time.perf_counter()
        body: Any = None
        parse_error = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                parse_error = True
        path = request.raw_path.split("?", 1)[0]
        operation, conversation, activity = UNKNOWN, None, None
        if path.startswith(self.prefix + "/v3/"):
            segments = [unquote(s) for s in path[len(self.prefix) + 4 :].split("/")]
            operation, conversation, activity = self._route(segments, request.method)
        headers = CIMultiDictProxy(CIMultiDict(request.headers))
        answer: tuple[int, Any] | None
        if self.require_auth and not self._authorized(headers):
            answer = _error(401, "Unauthorized", "Authorization has been denied for this request.")
        elif parse_error:
            answer = _error(400, "BadSyntax", "the body is not JSON")
        else:
            answer = self._injected(operation) or self._answer(operation, activity, body)
        status, response = answer
        recorded = RecordedRequest(
            method=request.method,
            path=path,
            operation=operation,
            conversation_id=conversation,
            activity_id=activity,
            headers=headers,
            body=body,
            status=status,
            response=response,
            received_at=received_at,
        )
        self._record(recorded)
        extra = {}
        if self._retry_after is not None:
            extra["Retry-After"] = str(self._retry_after)
            self._retry_after = None
        if response is None:
            return web.Response(status=status, headers=extra)
        return web.json_response(response, status=status, headers=extra)

    def _record(self, recorded: RecordedRequest) -> None:
        self.requests.append(recorded)
        if (
            recorded.operation == REPLY_TO_ACTIVITY
            and recorded.status < 300
            and recorded.activity_id is not None
        ):
            kind = recorded.body.get("type") if isinstance(recorded.body, dict) else None
            for key in ((recorded.activity_id, None), (recorded.activity_id, kind)):
                future = self._reply_future(key)
                if not future.done():
                    future.set_result(recorded)
        for waiter in list(self._waiters):
            if not waiter.future.done() and waiter.predicate(recorded):
                waiter.future.set_result(recorded)
                self._waiters.remove(waiter)


@dataclass(frozen=True)
class TeamsMessage:
    """Builds inbound Teams-like message activities pointing at a serviceUrl."""

    service_url: str
    conversation_id: str = "a:1fakepersonalchat"
    user_id: str = "29:1fakeuser"
    user_name: str = "Pat Example"
    bot_id: str = "28:fakebot"
    bot_name: str = "carebot"
    tenant_id: str = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def build(self, text: str, activity_id: str) -> dict[str, Any]:
        """A personal-chat message activity shaped like the recorded Teams requests."""
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        return {
            "text": text,
            "textFormat": "plain",
            "type": "message",
            "timestamp": now,
            "localTimestamp": now,
            "id": activity_id,
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "from": {
                "id": self.user_id,
                "name": self.user_name,
                "aadObjectId": "6d415fdd-f97e-4f70-ac45-e69601e4ecb2",
            },
            "conversation": {
                "conversationType": "personal",
                "tenantId": self.tenant_id,
                "id": self.conversation_id,
            },
            "recipient": {"id": self.bot_id, "name": self.bot_name},
            "entities": [
                {"locale": "en-US", "country": "US", "platform": "Windows", "type": "clientInfo"}
            ],
            "channelData": {"tenant": {"id": self.tenant_id}},
            "locale": "en-US",
            **self.extra,
        }
