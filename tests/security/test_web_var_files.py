"""M6: var/ is 0700 and its files 0600 from the start; looser modes are fixed with a warning."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import stat
from pathlib import Path

import pytest

from bot.serve import serve
from bot.settings import Settings
from tests.bot.service import free_port


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _start_and_stop(settings: Settings) -> None:
    ready = asyncio.Event()
    task = asyncio.create_task(serve(settings, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), timeout=60)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
def var_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("CAREBOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CAREBOT_PORT", str(free_port()))
    monkeypatch.delenv("CAREBOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("CAREBOT_SECRET_KEY", raising=False)
    return Settings()


async def test_a_first_start_creates_private_files(var_settings: Settings) -> None:
    await _start_and_stop(var_settings)
    var = var_settings.var_dir
    assert _mode(var) == 0o700
    names = {p.name for p in var.iterdir()}
    assert {"carebot.db", "secret.key"} <= names
    assert {p.name: _mode(p) for p in var.iterdir()} == dict.fromkeys(names, 0o600)


async def test_loose_modes_are_fixed_at_start_with_a_warning(
    var_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    var = var_settings.var_dir
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    credentials = var / "demo-credentials.txt"
    credentials.write_text("password: demo-x\n")
    credentials.chmod(0o644)
    (var / "mail").mkdir()
    (var / "mail").chmod(0o755)
    (var / "mail" / "note.eml").write_text("Subject: x\n")
    (var / "mail" / "note.eml").chmod(0o664)
    with caplog.at_level(logging.WARNING, logger="bot.start_checks"):
        await _start_and_stop(var_settings)
    assert _mode(var) == 0o700
    assert _mode(credentials) == 0o600
    assert _mode(var / "mail") == 0o700
    assert _mode(var / "mail" / "note.eml") == 0o600
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "demo-credentials.txt was readable by other users" in warned
    assert _mode(var / "carebot.db") == 0o600
