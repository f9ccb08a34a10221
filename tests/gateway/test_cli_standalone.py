"""`carebot-gateway` runs alone: its own console script and settings, nothing of `bot/`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import service_fhir_for_gateway
from gateway.cli import given_fhir, main
from gateway.settings import GatewaySettings
from integrations.fhir_store.clients import authenticate
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate

REPO = Path(__file__).resolve().parents[2]


def test_console_script_help() -> None:
    script = Path(sys.executable).parent / "carebot-gateway"
    done = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: carebot-gateway")
    assert "CAREBOT_GATEWAY_FHIR_URL" in done.stdout


def test_the_gateway_loads_no_module_of_the_service() -> None:
    code = (
        "import sys, gateway.cli, gateway.service, gateway.simulated_gateway, gateway.bleak_link;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'bot', 'dialogs', 'scoring'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_run_without_a_fhir_server_says_what_to_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CAREBOT_GATEWAY_FHIR_URL", raising=False)
    monkeypatch.delenv("CAREBOT_GATEWAY_FHIR_TOKEN", raising=False)
    assert main(["run", "--simulate", "--buffer", str(tmp_path / "gw.db")]) == 2
    err = capsys.readouterr().err
    assert "CAREBOT_GATEWAY_FHIR_URL (--fhir-url)" in err
    assert "CAREBOT_GATEWAY_FHIR_TOKEN (--token)" in err
    assert main(["run", "--fhir-url", "http://127.0.0.1:9/fhir"]) == 2
    err = capsys.readouterr().err
    assert "CAREBOT_GATEWAY_FHIR_URL" not in err and "CAREBOT_GATEWAY_FHIR_TOKEN" in err


async def test_given_settings_are_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREBOT_GATEWAY_FHIR_URL", "https://fhir.example.org/r4/")
    monkeypatch.setenv("CAREBOT_GATEWAY_FHIR_TOKEN", "t0ken")
    assert await given_fhir(GatewaySettings()) == ("https://fhir.example.org/r4", "t0ken")


async def test_carebot_gateway_defaults_to_the_service_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CAREBOT_FHIR_URL", raising=False)
    monkeypatch.delenv("CAREBOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("CAREBOT_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CAREBOT_PORT", "8099")
    url = f"sqlite+aiosqlite:///{(tmp_path / 'carebot.db').resolve()}"
    await migrate(url)
    base, token = await service_fhir_for_gateway(GatewaySettings())
    assert base == "http://127.0.0.1:8099/fhir"
    engine = create_engine(url)
    try:
        client = await authenticate(create_sessionmaker(engine), token)
    finally:
        await engine.dispose()
    assert client is not None and client.client_name == "gateway"
