"""The provider's queue and visit summary: what they show, who may open them, and the
AuditEvents each view leaves (the store's, naming the member and the patient)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bot.staff_records import NOTE_LOINC
from tests.bot.browser import csrf_field, post_sign_in
from tests.bot.directline_client import browser_session
from tests.bot.service import DEMO_PASSWORD, running_app, service_settings
from tests.bot.staff_world import ADMIN_USER, ALICE, CHEN, seed_staff_world, sign_consent


async def _sign_in(http: aiohttp.ClientSession, base: str, username: str) -> None:
    status, _ = await post_sign_in(http, base, "staff", username, DEMO_PASSWORD)
    assert status == 303, username


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url, allow_redirects=False) as response:
        return response.status, await response.text()


async def test_provider_queue_summary_join_and_note(tmp_path: Path, sqlite_url: str) -> None:
    async with running_app(service_settings(tmp_path, sqlite_url)) as (base, services):
        world = await seed_staff_world(services)
        async with browser_session() as http:
            await _sign_in(http, base, "dr.chen")
            async with http.get(f"{base}/staff", allow_redirects=False) as response:
                assert response.headers["Location"] == "/staff/queue"
            status, queue = await _get(http, f"{base}/staff/queue?day={world.day}")
            assert status == 200
            assert "Alice Martin" in queue and "Intake pending" in queue
            assert "David Okafor" not in queue  # Dr Haddad's visit
            assert f"/staff/visits/{world.alice_visit}" in queue
            status, page = await _get(http, f"{base}/staff/visits/{world.alice_visit}")
            assert status == 200
            assert "consultation_24" in page and "fever for three days" in page
            assert "Are you short of breath?" in page
            assert "<svg" in page and "Heart rate" in page
            assert "Mutuelle Démo" in page and "Not signed" in page
            assert 'class="join"' not in page  # no consent, no link
            await sign_consent(services, ALICE)
            status, page = await _get(http, f"{base}/staff/visits/{world.alice_visit}")
            join = re.search(r'<a class="join" href="([^"]+)"', page)
            assert join is not None and "carebot-test-" in join.group(1)
            status, queue = await _get(http, f"{base}/staff/queue?day={world.day}")
            assert "Consent signed" in queue
            note_url = f"{base}/staff/visits/{world.alice_visit}/notes"
            async with http.post(note_url, data={"note": "no token"}) as response:
                assert response.status == 403
            fields = await csrf_field(http, f"{base}/staff/visits/{world.alice_visit}")
            async with http.post(
                note_url, data={"note": "Seen; fluids & rest <b>", **fields}, allow_redirects=False
            ) as response:
                assert response.status == 303
            status, page = await _get(http, f"{base}/staff/visits/{world.alice_visit}?saved=1")
            assert "Note saved." in page and "Seen; fluids &amp; rest &lt;b&gt;" in page
        # the note is a progress note by Dr Chen, through the store
        _, bundle = await services.fhir.system().request_json(
            "GET", "DocumentReference", params=[("patient", ALICE), ("type", NOTE_LOINC)]
        )
        notes = [e["resource"] for e in (bundle or {})["entry"]]
        assert [n["author"][0]["reference"] for n in notes] == [CHEN]


async def test_views_are_audited_naming_the_member_and_patient(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_app(service_settings(tmp_path, sqlite_url)) as (base, services):
        world = await seed_staff_world(services)
        chen = await services.accounts.by_username("dr.chen")
        assert chen is not None
        async with browser_session() as http:
            await _sign_in(http, base, "dr.chen")
            status, _ = await _get(http, f"{base}/staff/visits/{world.alice_visit}")
            assert status == 200
        _, bundle = await services.fhir.system().request_json(
            "GET", "AuditEvent", params=[("patient", ALICE), ("_count", "200")]
        )
        events = [e["resource"] for e in (bundle or {}).get("entry") or []]
        by_chen = [
            e
            for e in events
            if any(
                (a.get("who") or {}).get("identifier", {}).get("value") == chen.id
                for a in e["agent"]
            )
        ]
        seen = {
            str(x["what"]["reference"]).split("/")[0]
            for e in by_chen
            for x in e["entity"]
            if "what" in x
        }
        # the patient, the visit, the vitals, the triage, the interview and the cover
        assert {
            "Patient", "Appointment", "Observation", "RiskAssessment",
            "QuestionnaireResponse", "Coverage",
        } <= seen  # fmt: skip
        assert all(
            any((a.get("who") or {}).get("reference") == CHEN for a in e["agent"]) for e in by_chen
        )


async def test_every_provider_route_refuses_other_roles_and_patients(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_app(service_settings(tmp_path, sqlite_url)) as (base, services):
        world = await seed_staff_world(services)
        routes = [
            f"/staff/queue?day={world.day}",
            f"/staff/visits/{world.alice_visit}",
        ]
        note = f"/staff/visits/{world.alice_visit}/notes"
        # no session: the sign-in form (401), nothing of the record
        async with browser_session() as http:
            for route in routes:
                status, text = await _get(http, base + route)
                assert status == 401 and "Alice" not in text, route
            fields = await csrf_field(http, f"{base}/staff")
            async with http.post(base + note, data={"note": "x", **fields}) as response:
                assert response.status == 401
        # a care manager and an administrator: 403 on every provider route
        for username in ("grace", ADMIN_USER):
            async with browser_session() as http:
                await _sign_in(http, base, username)
                for route in routes:
                    status, text = await _get(http, base + route)
                    assert status == 403 and "Alice" not in text, (username, route)
                fields = await csrf_field(http, f"{base}/staff")
                async with http.post(base + note, data={"note": "x", **fields}) as response:
                    assert response.status == 403, username
        # the other provider: Alice's visit is not theirs (404), their queue lacks her
        async with browser_session() as http:
            await _sign_in(http, base, "dr.haddad")
            status, queue = await _get(http, f"{base}/staff/queue?day={world.day}")
            assert status == 200 and "David Okafor" in queue and "Alice" not in queue
            status, text = await _get(http, f"{base}/staff/visits/{world.alice_visit}")
            assert status == 404 and "Alice" not in text
            fields = await csrf_field(http, f"{base}/staff/queue")
            async with http.post(base + note, data={"note": "x", **fields}) as response:
                assert response.status == 404
        # ids changed by hand: another's visit, unknown ids, not ids at all, bad days
        async with browser_session() as http:
            await _sign_in(http, base, "dr.chen")
            for route in (
                f"/staff/visits/{world.david_visit}",
                "/staff/visits/no-such-visit",
                "/staff/visits/demo-patient-alice",
                "/staff/visits/%2E%2E%2Fx",
                "/staff/visits/" + "a" * 65,
                "/staff/queue?day=2026-13-40",
            ):
                status, text = await _get(http, base + route)
                assert status == 404 and "David" not in text, route
            fields = await csrf_field(http, f"{base}/staff/queue")
            async with http.post(
                f"{base}/staff/visits/{world.david_visit}/notes", data={"note": "x", **fields}
            ) as response:
                assert response.status == 404
        # a patient's portal session opens no staff page
        async with browser_session() as http:
            fields = await csrf_field(http, f"{base}/portal")
            async with http.post(
                f"{base}/portal/login",
                data={"username": "alice", "password": DEMO_PASSWORD, **fields},
                allow_redirects=False,
            ) as response:
                assert response.status == 303
            for route in routes:
                status, _ = await _get(http, base + route)
                assert status == 401, route
        _, bundle = await services.fhir.system().request_json(
            "GET", "DocumentReference", params=[("patient", ALICE)]
        )
        assert not (bundle or {}).get("entry")  # no refused post wrote anything


async def test_admin_finds_the_provider_accesses_in_the_audit_view(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_app(service_settings(tmp_path, sqlite_url)) as (base, services):
        world = await seed_staff_world(services)
        async with browser_session() as http:
            await _sign_in(http, base, "dr.chen")
            assert (await _get(http, f"{base}/staff/visits/{world.alice_visit}"))[0] == 200
            assert (await _get(http, f"{base}/staff/audit"))[0] == 403  # not an admin
        async with browser_session() as http:
            await _sign_in(http, base, ADMIN_USER)
            status, page = await _get(
                http,
                f"{base}/staff/audit?patient=demo-patient-alice&person=dr.chen&action=R"
                f"&day={datetime.now(UTC).date().isoformat()}",
            )
            assert status == 200
            assert CHEN in page and f"Appointment/{world.alice_visit}" in page
            assert "search" not in page.split("<tbody>")[1]  # reads only
            status, page = await _get(http, f"{base}/staff/audit?person=dr.chen&action=E")
            assert "RiskAssessment/" in page and "Patient/demo-patient-alice" in page
            status, page = await _get(http, f"{base}/staff/audit?person=dr.haddad")
            assert "Patient/demo-patient-alice" not in page
            for bad in ("patient=..%2Fx", "action=X", "day=2026-02-30", "page=0", "person=%3Cb%3E"):
                assert (await _get(http, f"{base}/staff/audit?{bad}"))[0] == 404, bad
            # the administrator opens no clinical page
            status, text = await _get(http, f"{base}/staff/visits/{world.alice_visit}")
            assert status == 403 and "Alice" not in text
