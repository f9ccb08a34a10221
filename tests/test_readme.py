"""The README documents every setting and starts with the two commands."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings
from gateway.settings import GatewaySettings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_in_the_configuration_tables() -> None:
    text = README.read_text()
    names = [f"CAREBOT_{name.upper()}" for name in Settings.model_fields]
    names += [f"CAREBOT_GATEWAY_{name.upper()}" for name in GatewaySettings.model_fields]
    assert [name for name in names if f"`{name}`" not in text] == []


def test_readme_starts_with_make_run_and_make_test() -> None:
    head = "\n".join(README.read_text().splitlines()[:15])
    assert "make run" in head
    assert "make test" in head
