"""The README documents every setting and starts with the two commands."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import Settings
from gateway.settings import GatewaySettings
from integrations.iomt.settings import IomtSettings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_in_the_configuration_tables() -> None:
    text = README.read_text()
    names = [f"CAREBOT_{name.upper()}" for name in Settings.model_fields]
    names += [f"CAREBOT_GATEWAY_{name.upper()}" for name in GatewaySettings.model_fields]
    names += [f"CAREBOT_IOMT_{name.upper()}" for name in IomtSettings.model_fields]
    assert [name for name in names if f"`{name}`" not in text] == []


def test_readme_starts_with_make_run_and_make_test() -> None:
    head = "\n".join(README.read_text().splitlines()[:15])
    assert "make run" in head
    assert "make test" in head


def test_status_table_follows_the_commands_and_says_works_or_planned() -> None:
    text = README.read_text()
    assert text.index("make test") < text.index("## Status") < text.index("## What runs where")
    section = text.split("## Status", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| ")][1:]
    status = {name.removeprefix("| "): state.removesuffix(" |") for name, state in rows}
    assert [
        s for s in status.values() if not re.match(r"(works|partly|planned \(#\d+\))(:|$)", s)
    ] == []
    for capability in (
        "triage",
        "vitals",
        "booking",
        "consent",
        "scoring",
        "alerts",
        "staff queue",
    ):
        assert any(capability in name for name in status), capability
    for capability in ("Teams", "IoMT connector", "SMART", "Subscriptions", "gateway"):
        assert any(capability in name for name in status), capability
