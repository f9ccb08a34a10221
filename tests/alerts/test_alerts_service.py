"""Alerts end to end in the running service: a note or Flag written through FHIR becomes
a Task owned by the patient's care manager, delivered to their inbox and mail (each
delivery a Communication based on the Task), acknowledged from the inbox; a patient with
no care team lands in the unassigned queue. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path

from bot.demo_clinical import record_bundle
from bot.services import SERVICES
from integrations.alerts.codes import ALERT_KIND_SYSTEM, CHANNEL_SYSTEM
from tests.alerts.world import (
    GRACE,
    care_team,
    create,
    eventually,
    flag,
    note,
    patient,
    practitioner,
    put,
    search,
)
from tests.bot.browser import csrf_field, post_sign_in
from tests.bot.directline_client import browser_session
from tests.bot.service import DEMO_PASSWORD, running_application, service_settings


def _media(communications: list[dict[str, object]]) -> dict[str, str]:
    found = {}
    for c in communications:
        medium = c["medium"][0]["coding"][0]  # type: ignore[index]
        assert medium["system"] == CHANNEL_SYSTEM
        found[medium["code"]] = c["status"]
    return found


async def test_a_note_reaches_the_care_manager_once_and_is_acknowledged(
    tmp_path: Path, database_url: str
) -> None:
    settings = service_settings(tmp_path, database_url)
    async with running_application(settings) as (base, app):
        fhir = app[SERVICES].fhir.system()
        await put(
            fhir,
            practitioner("demo-practitioner-miller", "grace@clinic.example.org"),
            patient("p1", "Alice", "Martin"),
            care_team("p1", GRACE),
        )
        focus = await create(fhir, note("p1", "Breathless climbing stairs, ankle swelling."))

        tasks = await eventually(lambda: search(fhir, "Task", focus=focus))
        assert len(tasks) == 1
        task = tasks[0]
        assert task["status"] == "requested" and task["intent"] == "order"
        assert task["owner"] == {"reference": GRACE}
        assert task["for"] == {"reference": "Patient/p1"}
        assert task["reasonCode"]["coding"][0]["system"] == ALERT_KIND_SYSTEM
        assert task["reasonCode"]["coding"][0]["code"] == "note"

        async def delivered() -> list[dict[str, object]]:
            found = await search(fhir, "Communication", **{"based-on": f"Task/{task['id']}"})
            return found if len(found) >= 2 else []

        communications = await eventually(delivered)
        assert _media(communications) == {"inbox": "completed", "mail": "completed"}
        assert all(c["recipient"] == [{"reference": GRACE}] for c in communications)

        mails = list((tmp_path / "mail").glob("*.eml"))
        assert len(mails) == 1
        mail = message_from_bytes(mails[0].read_bytes())
        assert mail["To"] == "grace@clinic.example.org"
        body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
        assert "New clinical note" in body and f"{base}/staff/alerts" in body
        assert "Alice" not in body and "Breathless" not in body  # no name, no note text

        async with browser_session() as http:
            await post_sign_in(http, base, "staff", "grace", DEMO_PASSWORD)
            async with http.get(f"{base}/staff/alerts") as response:
                page = await response.text()
            assert response.status == 200
            assert f'id="alert-{task["id"]}"' in page and "Alice Martin" in page
            async with http.get(f"{base}/staff/alerts/{task['id']}/open") as response:
                opened = await response.text()
            assert "Breathless climbing stairs" in opened
            async with http.post(
                f"{base}/staff/alerts/{task['id']}/ack",
                data=await csrf_field(http, f"{base}/staff/alerts"),
            ) as response:
                assert response.status == 200  # redirected back to the inbox
                assert f'id="alert-{task["id"]}"' not in await response.text()

        _, done = await fhir.request_json("GET", f"Task/{task['id']}")
        assert done is not None and done["status"] == "completed"
        assert done["owner"] == {"reference": GRACE}
        audits = await search(fhir, "AuditEvent", patient="Patient/p1")
        assert any(a["agent"][0].get("who", {}).get("reference") == GRACE for a in audits), (
            "the care manager's reads are audited"
        )
        # nothing was sent twice
        assert len(await search(fhir, "Task", focus=focus)) == 1
        assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


async def test_no_care_team_lands_in_the_unassigned_queue_without_the_patient(
    tmp_path: Path, database_url: str
) -> None:
    settings = service_settings(tmp_path, database_url)
    async with running_application(settings) as (base, app):
        fhir = app[SERVICES].fhir.system()
        await put(fhir, patient("loner", "Zoé", "Solitaire"))
        focus = await create(fhir, note("loner"))
        task = (await eventually(lambda: search(fhir, "Task", focus=focus)))[0]
        assert "owner" not in task

        async def delivered() -> list[dict[str, object]]:
            return await search(fhir, "Communication", **{"based-on": f"Task/{task['id']}"})

        communications = await eventually(delivered)
        assert _media(communications) == {"inbox": "completed"}
        assert "recipient" not in communications[0]
        async with browser_session() as http:
            await post_sign_in(http, base, "staff", "grace", DEMO_PASSWORD)
            async with http.get(f"{base}/staff/alerts") as response:
                page = await response.text()
            assert f'id="alert-{task["id"]}"' in page and "Unassigned patient" in page
            assert "Solitaire" not in page
            async with http.get(f"{base}/staff/alerts/{task['id']}/open") as response:
                assert response.status == 404  # not her patient: nothing to open
            async with http.post(
                f"{base}/staff/alerts/{task['id']}/ack",
                data=await csrf_field(http, f"{base}/staff/alerts"),
            ) as response:
                assert response.status == 200
        _, taken = await fhir.request_json("GET", f"Task/{task['id']}")
        assert taken is not None and taken["status"] == "completed"
        assert taken["owner"] == {"reference": GRACE}


async def test_a_flag_alerts_like_a_note_and_again_when_reopened(
    tmp_path: Path, database_url: str
) -> None:
    settings = service_settings(tmp_path, database_url)
    async with running_application(settings) as (_, app):
        fhir = app[SERVICES].fhir.system()
        await put(fhir, patient("p2", "Bruno", "Lefèvre"), care_team("p2", GRACE))
        raised = flag("p2", fid="flag-1")
        await put(fhir, raised)
        first = await eventually(lambda: search(fhir, "Task", focus="Flag/flag-1"))
        assert first[0]["owner"] == {"reference": GRACE}
        assert first[0]["reasonCode"]["coding"][0]["code"] == "flag"
        await put(fhir, {**raised, "status": "inactive"})
        await put(fhir, {**raised, "status": "active", "code": {"text": "Still deteriorating"}})

        async def two() -> list[dict[str, object]]:
            found = await search(fhir, "Task", focus="Flag/flag-1")
            return found if len(found) == 2 else []

        tasks = await two() or await eventually(two)
        versions = sorted(t["identifier"][0]["value"] for t in tasks)  # type: ignore[index]
        assert versions == ["Flag/flag-1/_history/1", "Flag/flag-1/_history/3"]
        # an active Flag updated while active, and a note's amendment, raise nothing more
        await put(fhir, {**raised, "status": "active", "code": {"text": "Update"}})
        other = await create(fhir, note("p2", code="8867-4"))  # not a clinical-note type
        done = await create(fhir, note("p2"))
        await eventually(lambda: search(fhir, "Task", focus=done))
        assert len(await search(fhir, "Task", focus="Flag/flag-1")) == 2
        assert await search(fhir, "Task", focus=other) == []


async def test_the_demo_providers_note_reaches_the_demo_care_managers_inbox(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_application(service_settings(tmp_path, sqlite_url)) as (base, app):
        fhir = app[SERVICES].fhir.system()
        await fhir.post_bundle_json(record_bundle(datetime.now(UTC)))
        written = {**note("demo-patient-alice"),
                   "author": [{"reference": "Practitioner/demo-practitioner-chen"}]}  # fmt: skip
        focus = await create(fhir, written)
        task = (await eventually(lambda: search(fhir, "Task", focus=focus)))[0]
        assert task["owner"] == {"reference": GRACE}
        async with browser_session() as http:
            await post_sign_in(http, base, "staff", "grace", DEMO_PASSWORD)

            async def listed() -> bool:
                async with http.get(f"{base}/staff/alerts") as response:
                    return f'id="alert-{task["id"]}"' in await response.text()

            assert await eventually(listed)
            async with http.get(f"{base}/staff/alerts") as response:
                assert "Alice Martin" in await response.text()
