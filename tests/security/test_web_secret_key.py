"""Secret key: a shared (PostgreSQL) database without CAREBOT_SECRET_KEY is a start-up error."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.serve import serve
from bot.settings import SecretKeyRequiredError, Settings

PG = "postgresql+asyncpg://carebot@db.example/carebot"


async def test_postgresql_without_a_secret_key_refuses_to_start(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var", database_url=PG, secret_key="")
    with pytest.raises(SecretKeyRequiredError, match="CAREBOT_SECRET_KEY must be set"):
        settings.resolved_secret_key()
    with pytest.raises(SystemExit, match="carebot cannot start: CAREBOT_SECRET_KEY"):
        await serve(settings)
    assert not (tmp_path / "var" / "secret.key").exists()
    shared = Settings(var_dir=tmp_path / "var", database_url=PG, secret_key="k" * 48)
    assert shared.resolved_secret_key() == "k" * 48


def test_sqlite_keeps_one_generated_key_private_in_var(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var", secret_key="")
    key = settings.resolved_secret_key()
    assert len(key) >= 32 and settings.resolved_secret_key() == key
    path = tmp_path / "var" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
