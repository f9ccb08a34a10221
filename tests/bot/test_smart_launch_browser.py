"""A SMART standalone patient launch in headless chromium: an outside app (a small web app
on its own port) sends the browser to the service, the patient signs in through the portal
and approves, and the app exchanges the code (PKCE) for a token with `patient`, reads that
patient's vital signs, and gets nothing of another patient."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from integrations.fhir_store.smart_clients import add_smart_client
from tests.bot.browser import ARTIFACTS, chromium
from tests.bot.service import DEMO_PASSWORD, free_port
from tests.security.smart_flow import authorize_url, pkce
from tests.security.smart_world import APP_SCOPES, smart_world

pytestmark = pytest.mark.browser
SCOPE = "launch/patient openid fhirUser patient/Observation.rs"


def _app(service: str, client: dict[str, str], seen: dict[str, Any]) -> web.Application:
    """The outside app: /launch starts the authorization, /callback finishes it."""
    verifier, challenge = pkce()

    async def launch(request: web.Request) -> web.Response:
        url = authorize_url(
            service, client["id"], SCOPE, challenge, "app-state", client["redirect"]
        )
        raise web.HTTPFound(url)

    async def callback(request: web.Request) -> web.Response:
        seen["state"] = request.query.get("state")
        form = {
            "grant_type": "authorization_code",
            "code": request.query["code"],
            "redirect_uri": client["redirect"],
            "code_verifier": verifier,
            "client_id": client["id"],
        }
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{service}/auth/token", data=form) as response:
                seen["token_status"] = response.status
                token = seen["token"] = await response.json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            patient = token["patient"]
            vitals = f"{service}/fhir/Observation?patient={patient}&category=vital-signs"
            async with http.get(vitals, headers=headers) as response:
                bundle = await response.json()
            seen["vitals"] = [e["resource"]["id"] for e in bundle.get("entry", [])]
            for name, path in (
                ("other_patient", "Patient/demo-patient-david"),
                ("other_vitals", "Observation/david-hr"),
                ("other_search", "Observation?patient=demo-patient-david"),
            ):
                async with http.get(f"{service}/fhir/{path}", headers=headers) as response:
                    body = await response.json(content_type=None)
                    seen[name] = (response.status, len(body.get("entry", [])))
        text = f"<p id='patient'>{html.escape(patient)}</p>" + "".join(
            f"<p class='vital'>{html.escape(v)}</p>" for v in seen["vitals"]
        )
        return web.Response(
            text=f"<!doctype html><title>app</title>{text}", content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/launch", launch)
    app.router.add_get("/callback", callback)
    return app


async def test_a_standalone_patient_launch_in_chromium(tmp_path: Path, sqlite_url: str) -> None:
    port = free_port()
    redirect = f"http://127.0.0.1:{port}/callback"
    async with smart_world(tmp_path, sqlite_url) as world, chromium() as browser:
        client_id = await add_smart_client(
            world.services.sessions, "browser-app", APP_SCOPES, redirect_uris=(redirect,)
        )
        client = {"id": client_id, "redirect": redirect}
        seen: dict[str, Any] = {}
        runner = web.AppRunner(_app(world.base, client, seen), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        page = await browser.new_page(locale="en-US")
        try:
            await page.goto(f"http://127.0.0.1:{port}/launch")
            # the app sent the browser to the portal's sign-in
            assert page.url.startswith(f"{world.base}/portal/smart/authorize?")
            await page.fill("#username", "alice")
            await page.fill("#password", DEMO_PASSWORD)
            await page.click("button[type=submit]")
            scopes = page.locator("#requested-scopes li")
            await scopes.first.wait_for(timeout=30_000)
            listed = await scopes.all_inner_texts()
            assert any("patient/Observation.rs" in s for s in listed), listed
            await page.get_by_role("button", name="Approve").click()
            await page.locator("#patient").wait_for(timeout=30_000)
            assert page.url.startswith(redirect)
            assert await page.locator("#patient").inner_text() == "demo-patient-alice"
        except Exception:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "smart-launch.png"))
            raise
        finally:
            await page.close()
            await runner.cleanup()
    assert seen["state"] == "app-state"
    assert seen["token_status"] == 200
    assert seen["token"]["patient"] == "demo-patient-alice"
    assert "id_token" in seen["token"] and "refresh_token" not in seen["token"]
    assert seen["vitals"] == ["alice-hr"]
    assert seen["other_patient"][0] in (403, 404)
    assert seen["other_vitals"][0] in (403, 404)
    assert seen["other_search"] == (200, 0)
