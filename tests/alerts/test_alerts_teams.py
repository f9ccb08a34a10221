"""The Teams channel of alerts: the card goes to the stored conversation's serviceUrl (the
local fake Bot Connector), through Teams' throttling (429 with Retry-After) and server
errors; a permanently refusing channel is recorded as a failed Communication while the
inbox and mail still deliver."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bot.conversation_refs import BOT_CONNECTOR
from bot.services import SERVICES
from integrations.accounts import Role
from integrations.alerts.codes import ACK_ACTION
from integrations.persistence.conversation_refs import ConversationRefStore, StoredReference
from tests.alerts.world import (
    GRACE,
    care_team,
    create,
    eventually,
    note,
    patient,
    practitioner,
    put,
    search,
)
from tests.bot.service import running_application, service_settings
from tests.bot.test_channel_auth import AAD_ID, OUTGOING_TOKEN, LocalIssuer, channel_settings
from tests.fakes.bot_connector import SEND_TO_CONVERSATION, FakeBotConnector, TeamsMessage


async def _link_teams(app_services: object, connector: FakeBotConnector) -> None:
    services = app_services
    grace = await services.accounts.by_username("grace")  # type: ignore[attr-defined]
    assert grace is not None
    await ConversationRefStore(services.sessions).save(  # type: ignore[attr-defined]
        StoredReference(
            account_id=grace.id, channel_id="msteams", source=BOT_CONNECTOR,
            service_url=connector.service_url, conversation_id="a:grace-personal",
            bot_id="28:carebot", bot_name="carebot", user_id="29:grace", tenant_id="t-1",
        )
    )  # fmt: skip


async def _world(fhir: object) -> None:
    await put(
        fhir,  # type: ignore[arg-type]
        practitioner("demo-practitioner-miller", "grace@clinic.example.org"),
        patient("p1", "Alice", "Martin"),
        care_team("p1", GRACE),
    )


async def _communications(fhir: object, task: str, count: int) -> list[dict[str, object]]:
    async def enough() -> list[dict[str, object]]:
        found = await search(fhir, "Communication", **{"based-on": task})  # type: ignore[arg-type]
        return found if len(found) >= count else []

    return await eventually(enough, within=30)  # type: ignore[no-any-return]


def _by_medium(communications: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {c["medium"][0]["coding"][0]["code"]: c for c in communications}  # type: ignore[index]


async def test_the_card_reaches_the_stored_service_url_through_429_and_5xx(
    tmp_path: Path, database_url: str
) -> None:
    async with FakeBotConnector() as connector:
        async with running_application(service_settings(tmp_path, database_url)) as (_, app):
            services = app[SERVICES]
            fhir = services.fhir.system()
            await _link_teams(services, connector)
            await _world(fhir)
            connector.fail_next(
                429, code="Throttled", retry_after=1, operations=[SEND_TO_CONVERSATION]
            )
            connector.fail_next(502, operations=[SEND_TO_CONVERSATION])
            focus = await create(fhir, note("p1", "Chest tightness overnight."))
            task = (await eventually(lambda: search(fhir, "Task", focus=focus)))[0]

            communications = _by_medium(await _communications(fhir, f"Task/{task['id']}", 3))
            assert {m: c["status"] for m, c in communications.items()} == {
                "inbox": "completed", "mail": "completed", "teams": "completed",
            }  # fmt: skip
            sends = [r for r in connector.requests if r.operation == SEND_TO_CONVERSATION]
            assert [r.status for r in sends] == [429, 502, 201]
            assert sends[0].conversation_id == "a:grace-personal"
            assert sends[0].path.startswith("/amer/v3/conversations/")
            assert sends[2].received_at - sends[0].received_at >= 1.0  # Retry-After honoured
            card = sends[2].body["attachments"][0]
            assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
            content = card["content"]
            facts = {f["title"]: f["value"] for f in content["body"][1]["facts"]}
            assert facts["Patient"] == "Alice Martin"
            assert "Chest tightness" not in str(content)  # no clinical detail on the card
            actions = {a["title"]: a for a in content["actions"]}
            assert actions["Acknowledge"]["data"] == {
                "action": ACK_ACTION,
                "task": f"Task/{task['id']}",
            }
            assert actions["Open"]["url"].endswith(f"/staff/alerts/{task['id']}/open")


async def test_a_refusing_teams_is_a_failed_communication_and_the_others_deliver(
    tmp_path: Path, database_url: str
) -> None:
    async with FakeBotConnector() as connector:
        async with running_application(service_settings(tmp_path, database_url)) as (_, app):
            services = app[SERVICES]
            fhir = services.fhir.system()
            await _link_teams(services, connector)
            await _world(fhir)
            connector.fail_next(
                403, code="BotNotInConversationRoster", operations=[SEND_TO_CONVERSATION]
            )
            focus = await create(fhir, note("p1"))
            task = (await eventually(lambda: search(fhir, "Task", focus=focus)))[0]
            communications = _by_medium(await _communications(fhir, f"Task/{task['id']}", 3))
            assert communications["teams"]["status"] == "not-done"
            assert communications["teams"]["statusReason"] == {"text": "PermanentDeliveryError"}
            assert communications["inbox"]["status"] == "completed"
            assert communications["mail"]["status"] == "completed"
            sends = [r for r in connector.requests if r.operation == SEND_TO_CONVERSATION]
            assert [r.status for r in sends] == [403]  # given up at once, not retried


async def test_a_teams_conversation_then_acknowledge_from_the_card_completes_the_task(
    tmp_path: Path, sqlite_url: str
) -> None:
    issuer = LocalIssuer()
    async with issuer.serve() as openid_url:
        settings = channel_settings(tmp_path, sqlite_url, issuer, openid_url)
        async with (
            FakeBotConnector(token=OUTGOING_TOKEN) as connector,
            running_application(settings, seed=False) as (base, app),
            aiohttp.ClientSession() as http,
        ):
            services = app[SERVICES]
            await services.accounts.create(
                username="grace", password="g" * 12, role=Role.CARE_MANAGER,
                display_name="Grace Miller", fhir_reference=GRACE, aad_object_id=AAD_ID,
            )  # fmt: skip
            fhir = services.fhir.system()
            await _world(fhir)
            teams = TeamsMessage(connector.service_url)
            token = {"Authorization": f"Bearer {issuer.token(serviceurl=connector.service_url)}"}
            # her first message stores where she can be reached in Teams
            async with http.post(
                f"{base}/api/messages", json=teams.build("hello", "in-1"), headers=token
            ) as response:
                assert response.status == 200
            await connector.wait_for_reply("in-1")
            connector.clear()

            focus = await create(fhir, note("p1"))
            card = await connector.wait_for(
                lambda r: r.operation == SEND_TO_CONVERSATION and r.status == 201, timeout=20
            )
            assert card.conversation_id == teams.conversation_id
            submit = card.body["attachments"][0]["content"]["actions"][0]["data"]
            task = (await search(fhir, "Task", focus=focus))[0]
            assert submit == {"action": ACK_ACTION, "task": f"Task/{task['id']}"}

            pressed = {**teams.build("", "in-2"), "value": submit}
            pressed.pop("text", None)
            async with http.post(f"{base}/api/messages", json=pressed, headers=token) as response:
                assert response.status == 200
            reply = await connector.wait_for_reply("in-2")
            assert reply.body["text"] == "Alert acknowledged."
            _, done = await fhir.request_json("GET", f"Task/{task['id']}")
            assert done is not None and done["status"] == "completed"
            assert done["owner"] == {"reference": GRACE}
