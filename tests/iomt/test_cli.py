"""`carebot iomt`: sources, template loading (refused templates change nothing), status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from tests.corpora import corpus


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "carebot.db"
    monkeypatch.setenv("CAREBOT_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    return path


def test_sources_templates_and_status(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["iomt", "sources", "add", "watch-cloud"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("iomt_") and len(token) > 30
    assert main(["iomt", "sources", "add", "watch-cloud"]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["iomt", "sources", "list"]) == 0
    assert capsys.readouterr().out.split() == ["watch-cloud"]
    basic = corpus("iomt_fhir", "sample_templates", "basic")
    device, fhir = str(basic / "devicecontent.json"), str(basic / "fhirmapping.json")
    assert main(["iomt", "templates", "load", "--device", device, "--fhir", fhir]) == 0
    assert "version 1" in capsys.readouterr().out
    invalid = str(corpus("iomt_fhir", "test_inputs", "data_CollectionFhirTemplateInvalid.json"))
    assert main(["iomt", "templates", "load", "--device", device, "--fhir", invalid]) == 2
    assert "required property 'typeName' not found" in capsys.readouterr().err
    assert main(["iomt", "status"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["template_version"] == 1  # the refused pair changed nothing
    assert status["messages"] == {"received": 0}
    assert main(["iomt", "sources", "remove", "watch-cloud"]) == 0
    assert main(["iomt", "sources", "remove", "watch-cloud"]) == 1
