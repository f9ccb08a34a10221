"""Debian's chromium driven by Playwright, for page tests (no browser download)."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from playwright.async_api import Browser, Locator, Page, async_playwright

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """The system chromium (installed by `make test` through .ci/system-deps)."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError("chromium is missing: run `make test`, which installs it")
    return path


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless chromium with a fresh profile."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


CSRF_INPUT = re.compile(r'<input type="hidden" name="csrf_token" value="([0-9a-f]+)">')


async def csrf_field(http: aiohttp.ClientSession, page_url: str) -> dict[str, str]:
    """The CSRF form field of the page at PAGE_URL, as a browser would submit it (the page
    also sets the cookie the token is bound to)."""
    async with http.get(page_url) as response:
        match = CSRF_INPUT.search(await response.text())
    assert match is not None, f"no CSRF token on {page_url}"
    return {"csrf_token": match.group(1)}


async def post_sign_in(
    http: aiohttp.ClientSession, base: str, area: str, username: str, password: str
) -> tuple[int, str]:
    """Sign in to AREA (`portal` or `staff`) through its form; the status and page text."""
    fields = await csrf_field(http, f"{base}/{area}")
    async with http.post(
        f"{base}/{area}/login",
        data={"username": username, "password": password, **fields},
        allow_redirects=False,
    ) as response:
        return response.status, await response.text()


async def portal_sign_in(page: Page, base: str, username: str, password: str) -> Locator:
    """Sign USERNAME in at the portal and wait for Web Chat; its send box."""
    await page.goto(f"{base}/portal")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    send_box = page.locator("[data-id='webchat-sendbox-input']")
    await send_box.wait_for(timeout=30_000)
    return send_box


async def staff_sign_in(page: Page, base: str, username: str, password: str) -> None:
    """Sign USERNAME in at the staff area through its form."""
    await page.goto(f"{base}/staff")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await page.get_by_text("Welcome,").wait_for(timeout=30_000)


BOT_TEXTS = (
    "() => [...document.querySelectorAll('.webchat__bubble:not(.webchat__bubble--from-user)')]"
    ".map(b => b.innerText)"
)


async def bot_bubbles(page: Page) -> list[str]:
    """The texts of the bot's bubbles in Web Chat, oldest first."""
    texts: list[str] = await page.evaluate(BOT_TEXTS)
    return texts


async def wait_for_new_bubble(page: Page, seen: int) -> list[str]:
    """Wait until the bot has said more than SEEN bubbles; all of them."""
    await page.wait_for_function(
        f"() => ({BOT_TEXTS})().length > {seen}", timeout=30_000, polling=200
    )
    return await bot_bubbles(page)


async def wait_for_bubble(page: Page, text: str) -> list[str]:
    """Wait until a bot bubble contains TEXT; all of them."""
    await page.wait_for_function(
        f"(text) => ({BOT_TEXTS})().some(b => b.includes(text))", arg=text,
        timeout=30_000, polling=200,
    )  # fmt: skip
    return await bot_bubbles(page)


@asynccontextmanager
async def portal_service(tmp_path: Path, sqlite_url: str) -> AsyncIterator[tuple[str, Browser]]:
    """The whole service with the installed Web Chat, and a headless chromium: (base, browser)."""
    from bot.settings import Settings
    from tests.bot.service import running_service, service_settings

    webchat = Settings().webchat_dir.resolve()
    settings = service_settings(tmp_path, sqlite_url, webchat_dir=webchat)
    async with running_service(settings) as base, chromium() as browser:
        yield base, browser
