"""The fake Bot Connector answers the recorded Teams replies like the real one did."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from yarl import URL

from bot.activity_check import ACTIVITY_PROPERTY_TYPES, ACTIVITY_TYPES
from tests.corpora import corpus
from tests.fakes.bot_connector import (
    CONVERSATION_PARAMETER_TYPES,
    CREATE_CONVERSATION,
    DELETE_ACTIVITY,
    GET_CONVERSATION_MEMBERS,
    REPLY_TO_ACTIVITY,
    SEND_TO_CONVERSATION,
    UNKNOWN,
    UPDATE_ACTIVITY,
    FakeBotConnector,
    TeamsMessage,
)

CORPUS = corpus("botframework")
RECORDINGS = CORPUS / "teams_recorded_integrationBot"
SWAGGER = CORPUS / "protocol_swagger" / "ConnectorAPI.json"


def _recorded_replies() -> list[dict[str, Any]]:
    """The bot's recorded outgoing POSTs to the connector (replies and create conversation)."""
    replies = []
    for path in sorted(RECORDINGS.glob("*-reply-*.json")):
        recording = json.loads(path.read_text())
        if recording["method"] == "POST":
            recording["file"] = path.name
            replies.append(recording)
    return replies


REPLIES = _recorded_replies()


@pytest.fixture
async def connector() -> AsyncIterator[FakeBotConnector]:
    async with FakeBotConnector() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _url(connector: FakeBotConnector, recorded_path: str) -> URL:
    """The recorded path (already percent-encoded, /amer included) on the fake's origin."""
    return URL(f"http://{connector.host}:{connector.port}{recorded_path}", encoded=True)


def test_the_corpus_has_replies_and_conversation_creations() -> None:
    paths = [r["path"] for r in REPLIES]
    assert len(REPLIES) == 38
    assert sum(p == "/amer/v3/conversations" for p in paths) == 2
    assert all(p.startswith("/amer/v3/conversations") for p in paths)


@pytest.mark.parametrize("recording", REPLIES, ids=[r["file"][:17] for r in REPLIES])
async def test_replays_each_recorded_reply(
    connector: FakeBotConnector, http: aiohttp.ClientSession, recording: dict[str, Any]
) -> None:
    headers = {"Authorization": recording["reqheaders"]["authorization"]}
    async with http.post(
        _url(connector, recording["path"]), json=recording["body"], headers=headers
    ) as response:
        status = response.status
        answer = await response.json()

    # The real connector answered 201 with these keys (once 202 with no body, which the
    # swagger allows too); the fake answers 201 with the same keys every time.
    assert status == 201
    if recording["status"] == 201:
        assert set(answer) == set(recording["response"])
    assert all(isinstance(value, str) and value for value in answer.values())

    [recorded] = connector.requests
    assert recorded.path == recording["path"]
    assert recorded.body == recording["body"]
    assert recorded.headers["authorization"] == "Bearer REDACTED-JWT"
    assert recorded.status == 201 and recorded.response == answer
    if recording["path"] == "/amer/v3/conversations":
        assert recorded.operation == CREATE_CONVERSATION
        assert recorded.activity == recording["body"]["activity"]
        assert set(answer) == {"id", "activityId"}
    else:
        assert recorded.operation == REPLY_TO_ACTIVITY
        # The path carries the ids percent-encoded; decoded they are the activity's own.
        assert recorded.conversation_id == recording["body"]["conversation"]["id"]
        assert recorded.activity_id == recording["body"]["replyToId"]
        assert recorded.activity == recording["body"]
        assert connector.activities == [recording["body"]]
        assert recorded.activity_id is not None
        assert (await connector.wait_for_reply(recorded.activity_id)) is recorded


async def test_ids_it_gives_are_unique(
    connector: FakeBotConnector, http: aiohttp.ClientSession
) -> None:
    recording = REPLIES[5]
    ids = set()
    for _ in range(3):
        async with http.post(_url(connector, recording["path"]), json=recording["body"]) as r:
            ids.add((await r.json())["id"])
    assert len(ids) == 3


async def test_send_update_delete_and_members(
    http: aiohttp.ClientSession,
) -> None:
    members = [{"id": "29:1abc", "name": "Pat Example", "aadObjectId": "6d41"}]
    async with FakeBotConnector(prefix="", members=members) as connector:
        base = f"http://127.0.0.1:{connector.port}/v3/conversations/a%3A1chat/activities"
        activity = {"type": "message", "text": "hello"}
        async with http.post(base, json=activity) as response:
            assert response.status == 201
            sent_id = (await response.json())["id"]
        async with http.put(f"{base}/{sent_id}", json={**activity, "text": "edited"}) as response:
            assert (response.status, await response.json()) == (200, {"id": sent_id})
        async with http.delete(f"{base}/{sent_id}") as response:
            assert (response.status, await response.read()) == (200, b"")
        url = f"http://127.0.0.1:{connector.port}/v3/conversations/a%3A1chat/members"
        async with http.get(url) as response:
            assert (response.status, await response.json()) == (200, members)
        assert connector.service_url == f"http://127.0.0.1:{connector.port}/"
    assert [
        (r.method, r.operation, r.conversation_id, r.activity_id) for r in connector.requests
    ] == [
        ("POST", SEND_TO_CONVERSATION, "a:1chat", None),
        ("PUT", UPDATE_ACTIVITY, "a:1chat", sent_id),
        ("DELETE", DELETE_ACTIVITY, "a:1chat", sent_id),
        ("GET", GET_CONVERSATION_MEMBERS, "a:1chat", None),
    ]
    assert [a["text"] for a in connector.activities] == ["hello", "edited"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "the body is not JSON"),
        (b"[]", "the body is not a JSON object"),
        (b'{"text": "no type"}', "'type' is required"),
        (b'{"type": "mesage"}', "unknown activity type 'mesage'"),
        (b'{"type": "message", "text": 42}', "'text' must be a JSON string"),
        (b'{"type": "message", "attachments": {}}', "'attachments' must be a JSON array"),
        (b'{"type": "message", "from": {"id": 7}}', "'from.id' must be a string"),
        (b'{"type": "message", "attachments": [{"content": {}}]}', "each attachment needs"),
        (b'{"type": "message", "replyToId": "other"}', "replyToId differs"),
    ],
)
async def test_rejects_what_is_not_an_activity(
    connector: FakeBotConnector, http: aiohttp.ClientSession, body: bytes, message: str
) -> None:
    url = f"{connector.service_url}v3/conversations/a%3A1chat/activities/1571691217375"
    headers = {"Content-Type": "application/json"}
    async with http.post(url, data=body, headers=headers) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert error["code"] in ("BadArgument", "BadSyntax")
    assert error["message"].startswith(message)
    assert connector.activities == []
    assert connector.requests[0].status == 400


async def test_a_serviceurl_without_its_path_is_not_found(
    connector: FakeBotConnector, http: aiohttp.ClientSession
) -> None:
    recording = REPLIES[5]
    no_prefix = recording["path"].removeprefix("/amer")
    async with http.post(_url(connector, no_prefix), json=recording["body"]) as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "NotFound"
    assert connector.requests[0].operation == UNKNOWN
    assert connector.activities == []


async def test_require_auth(http: aiohttp.ClientSession) -> None:
    recording = REPLIES[5]
    async with FakeBotConnector(require_auth=True) as connector:
        url = _url(connector, recording["path"])
        for headers, status in [
            ({}, 401),
            ({"Authorization": "Basic abc"}, 401),
            ({"Authorization": "Bearer "}, 401),
            ({"Authorization": "Bearer REDACTED-JWT"}, 201),
        ]:
            async with http.post(url, json=recording["body"], headers=headers) as response:
                assert response.status == status
    assert [r.status for r in connector.requests] == [401, 401, 401, 201]
    async with FakeBotConnector(token="good") as connector:
        url = _url(connector, recording["path"])
        for token, status in [("bad", 401), ("good", 201)]:
            headers = {"Authorization": f"Bearer {token}"}
            async with http.post(url, json=recording["body"], headers=headers) as response:
                assert response.status == status


async def test_fail_next_injects_errors(
    connector: FakeBotConnector, http: aiohttp.ClientSession
) -> None:
    recording = REPLIES[5]
    connector.fail_next(429, code="Throttled", message="slow down", times=2)
    statuses = []
    for _ in range(3):
        async with http.post(_url(connector, recording["path"]), json=recording["body"]) as r:
            statuses.append(r.status)
            if r.status == 429:
                assert (await r.json()) == {"error": {"code": "Throttled", "message": "slow down"}}
    assert statuses == [429, 429, 201]
    assert len(connector.activities) == 1


async def test_waits(connector: FakeBotConnector, http: aiohttp.ClientSession) -> None:
    message = TeamsMessage(connector.service_url).build("help", "1571691217375")
    url = f"{connector.service_url}v3/conversations/a%3A1fakepersonalchat/activities/1571691217375"
    typing = {**message, "type": "typing", "replyToId": "1571691217375"}
    reply = {**message, "text": "menu", "replyToId": "1571691217375"}
    waiting = asyncio.create_task(connector.wait_for_reply("1571691217375"))
    any_type = asyncio.create_task(connector.wait_for_reply("1571691217375", None))
    later = asyncio.create_task(connector.wait_for(lambda r: r.body.get("text") == "menu"))
    await asyncio.sleep(0)
    for body in (typing, reply):
        async with http.post(url, json=body) as response:
            assert response.status == 201
    assert (await waiting).body == reply
    assert (await any_type).body == typing
    assert (await later).body == reply
    assert (await connector.wait_for_reply("1571691217375", "typing")).body == typing
    assert len(await connector.wait_for_requests(2)) == 2
    with pytest.raises(TimeoutError):
        await connector.wait_for_reply("never", timeout=0.01)
    with pytest.raises(TimeoutError):
        await connector.wait_for_requests(3, timeout=0.01)


async def test_botbuilder_connector_client_talks_to_it(connector: FakeBotConnector) -> None:
    """The Bot Connector client of botbuilder 4.17.1 (what the stock adapter uses) works."""
    from botbuilder.schema import Activity, ChannelAccount, ConversationAccount
    from botframework.connector.aio import ConnectorClient
    from botframework.connector.auth import MicrosoftAppCredentials

    client = ConnectorClient(MicrosoftAppCredentials("", ""), base_url=connector.service_url)
    async with client:
        conversation = "19:097e6717fd7245bdbeba6baa13840db8@thread.skype;messageid=1571540275450"
        reply = Activity(
            type="message",
            text="hello",
            reply_to_id="1571540275450",
            conversation=ConversationAccount(id=conversation),
            recipient=ChannelAccount(id="29:1abc"),
        )
        answer = await client.conversations.reply_to_activity(conversation, "1571540275450", reply)
    [recorded] = connector.requests
    assert answer.id == recorded.response["id"]
    assert recorded.path == (
        "/amer/v3/conversations/19%3A097e6717fd7245bdbeba6baa13840db8%40thread.skype"
        "%3Bmessageid%3D1571540275450/activities/1571540275450"
    )
    assert recorded.activity_id == "1571540275450"
    assert recorded.body["text"] == "hello"


def test_activity_table_matches_the_swagger() -> None:
    swagger = json.loads(SWAGGER.read_text())
    definitions = swagger["definitions"]

    def json_type(schema: dict[str, Any]) -> str:
        if "$ref" in schema:
            return json_type(definitions[schema["$ref"].rsplit("/", 1)[1]])
        return str(schema["type"])

    properties = definitions["Activity"]["properties"]
    expected = {name: json_type(schema) for name, schema in properties.items()}
    # `value` is "object" in the swagger, but channels send strings and numbers too.
    assert expected.pop("value") == "object"
    assert {**expected, "value": "any"} == ACTIVITY_PROPERTY_TYPES
    assert frozenset(definitions["ActivityTypes"]["enum"]) == ACTIVITY_TYPES


def test_conversation_parameters_table_matches_the_swagger() -> None:
    definitions = json.loads(SWAGGER.read_text())["definitions"]
    properties = definitions["ConversationParameters"]["properties"]
    expected = {
        name: "object" if "$ref" in schema else schema["type"]
        for name, schema in properties.items()
    }
    assert expected == CONVERSATION_PARAMETER_TYPES


@pytest.mark.parametrize(
    ("body", "status"),
    [
        # A 1:1 chat as the Bot Framework docs create it for a proactive message.
        (
            {
                "isGroup": False,
                "bot": {"id": "28:fakebot", "name": "carebot"},
                "members": [{"id": "29:1fakeuser"}],
                "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "channelData": {"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}},
            },
            201,
        ),
        ({"isGroup": False, "bot": {"id": "28:fakebot"}}, 400),  # nobody to talk to
        ({"members": [{"id": "29:a"}, {"id": "29:b"}]}, 400),  # two people, not a group
        ({"members": [{"name": "no id"}]}, 400),
        ({"members": {"id": "29:a"}}, 400),
        ({"members": [{"id": "29:a"}], "tenantId": 7}, 400),
        ([{"id": "29:a"}], 400),
    ],
)
async def test_create_conversation_checks_the_parameters(
    connector: FakeBotConnector, http: aiohttp.ClientSession, body: object, status: int
) -> None:
    async with http.post(f"{connector.service_url}v3/conversations", json=body) as response:
        answer = await response.json()
    assert response.status == status
    if status == 201:
        assert set(answer) == {"id"}
    else:
        assert answer["error"]["code"] == "BadArgument"
    assert [r.operation for r in connector.requests] == [CREATE_CONVERSATION]


def test_teams_message_looks_like_a_recorded_one() -> None:
    recorded = json.loads(
        (RECORDINGS / "20191021205338231-request-integrationBot.json").read_text()
    )
    built = TeamsMessage("http://127.0.0.1:1/amer/").build("file", "1571691217375")
    assert set(built) == set(recorded["body"])
    assert {k: built[k] for k in ("type", "channelId", "textFormat", "locale", "id", "text")} == {
        k: recorded["body"][k] for k in ("type", "channelId", "textFormat", "locale", "id", "text")
    }
