"""The staff handoff pages refuse what they must: a provider (not a care manager), a
request of another care manager's patient, and a form posted without the CSRF token."""

from __future__ import annotations

from pathlib import Path

from bot.handoffs import HANDOFFS
from tests.bot.browser import csrf_field, post_sign_in
from tests.bot.directline_client import browser_session
from tests.bot.service import DEMO_PASSWORD, running_application, service_settings


async def test_only_the_care_team_of_the_patient_and_only_by_our_own_forms(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_application(service_settings(tmp_path, sqlite_url)) as (base, app):
        store = app[HANDOFFS].relay.store
        theirs = await store.open("Patient/p1", "acct-p1", "en", "Practitioner/someone-else")
        nobodys = await store.open("Patient/p2", "acct-p2", "en", None)
        async with browser_session() as http:
            assert (await post_sign_in(http, base, "staff", "dr.chen", DEMO_PASSWORD))[0] == 303
            async with http.get(f"{base}/staff/handoffs") as response:
                assert response.status == 403  # providers do not answer handoffs
        async with browser_session() as http:
            assert (await post_sign_in(http, base, "staff", "grace", DEMO_PASSWORD))[0] == 303
            async with http.get(f"{base}/staff/handoffs") as response:
                page = await response.text()
                assert nobodys.id in page and theirs.id not in page
            for path in (theirs.id, f"{theirs.id}/events", "no-such-request"):
                async with http.get(f"{base}/staff/handoffs/{path}") as response:
                    assert response.status == 404
            token = await csrf_field(http, f"{base}/staff/handoffs")
            async with http.post(f"{base}/staff/handoffs/{theirs.id}/take", data=token) as response:
                assert response.status == 404
            async with http.post(f"{base}/staff/handoffs/{nobodys.id}/take", data={}) as response:
                assert response.status == 403  # no CSRF token: refused
            assert (await store.get(nobodys.id)).status.value == "waiting"  # type: ignore[union-attr]
        async with browser_session() as http:
            async with http.get(f"{base}/staff/handoffs") as response:
                assert 'action="/staff/login"' in await response.text()  # signed out: sign in
