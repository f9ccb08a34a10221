"""L11: HSTS on https, a CSP that Web Chat works under, nosniff, Referrer-Policy and a
configurable frame-ancestors."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from bot.settings import Settings
from tests.bot.browser import ARTIFACTS, chromium, portal_sign_in
from tests.bot.service import DEMO_PASSWORD, running_app, running_service, service_settings

WEBCHAT_DIR = Settings().webchat_dir.resolve()


async def _headers(url: str) -> dict[str, str]:
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as response:
        return dict(response.headers)


async def test_pages_carry_csp_nosniff_referrer_policy_and_no_framing(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url)) as base:
        for path in ("/portal", "/staff"):
            headers = await _headers(base + path)
            csp = headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp
            assert "script-src 'self' 'nonce-" in csp
            assert "frame-ancestors 'none'" in csp
            script_src = next(d for d in csp.split("; ") if d.startswith("script-src"))
            assert "unsafe" not in script_src
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert headers["Referrer-Policy"] == "same-origin"
            assert headers["X-Frame-Options"] == "DENY"
            assert "Strict-Transport-Security" not in headers  # plain http
        for path in ("/healthz", "/nope", "/"):
            headers = await _headers(base + path)
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert "default-src 'none'" in headers["Content-Security-Policy"]


async def test_https_gets_hsts_and_frame_ancestors_are_configurable(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = service_settings(
        tmp_path,
        sqlite_url,
        public_url="https://care.example.org",
        frame_ancestors="'self' https://teams.microsoft.com",
    )
    async with running_app(settings) as (_, services):
        base = f"http://127.0.0.1:{services.settings.port}"  # the public URL is elsewhere
        for path in ("/portal", "/healthz"):
            headers = await _headers(base + path)
            assert headers["Strict-Transport-Security"] == "max-age=31536000"
            assert (
                "frame-ancestors 'self' https://teams.microsoft.com"
                in (headers["Content-Security-Policy"])
            )
            assert "X-Frame-Options" not in headers
    with pytest.raises(ValueError, match="CSP source list"):
        Settings(frame_ancestors="'self'; script-src *")


async def test_web_chat_works_under_the_csp_without_violations(
    tmp_path: Path, sqlite_url: str
) -> None:
    assert (WEBCHAT_DIR / "webchat.js").is_file(), "Web Chat is installed by `make test`"
    settings = service_settings(tmp_path, sqlite_url, webchat_dir=WEBCHAT_DIR)
    async with running_service(settings) as base, chromium() as browser:
        page = await browser.new_page(locale="en-US")
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        await page.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        send_box = await portal_sign_in(page, base, "alice", DEMO_PASSWORD)
        await page.get_by_text("Hello Alice!").first.wait_for(timeout=30_000)
        await send_box.fill("my vitals")
        await send_box.press("Enter")
        await page.locator(".webchat__bubble--from-user").first.wait_for(timeout=30_000)
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "portal-csp.png"), full_page=True)
        assert await page.evaluate("window.__csp") == []
        assert [text for text in console if "Content Security Policy" in text] == []
        # Web Chat's own styles were applied.
        assert await page.locator("style[data-emotion]").count() > 1
        await page.click("text=Sign out")
        await page.get_by_text("Sign in to talk with your care assistant.").wait_for()
