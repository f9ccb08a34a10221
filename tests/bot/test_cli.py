"""`carebot` and `carebot-gateway` as a user meets them: help on every option, one-line
errors with exit status 2, quiet broken pipes, the settings honoured, a clean stop."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot import cli
from gateway import cli as gateway_cli
from integrations.fhir_store.bundle_workers import INLINE_BELOW
from tests.bot.service import free_port
from tests.fhir.helpers import vital_json

REPO = Path(__file__).resolve().parents[2]
CAREBOT = [sys.executable, "-m", "bot.cli"]
Main = Callable[[list[str]], int]


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (sub)command of PARSER with the words that reach it, walked from the parser."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, (*path, name))


def _undocumented(parser: argparse.ArgumentParser) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            # each subcommand's line in its parent's help
            missing += [f"{c.dest} (subcommand)" for c in action._choices_actions if not c.help]
            continue
        if not action.help or action.help == argparse.SUPPRESS:
            missing.append("/".join(action.option_strings) or action.dest)
    return missing


@pytest.mark.parametrize(
    ("prog", "build", "main"),
    [
        ("carebot", cli.build_parser, cli.main),
        ("carebot-gateway", gateway_cli.build_parser, gateway_cli.main),
    ],
)
def test_every_subcommand_help_documents_every_option(
    prog: str,
    build: Callable[[], argparse.ArgumentParser],
    main: Main,
    capsys: pytest.CaptureFixture[str],
) -> None:
    commands = list(_commands(build()))
    assert len(commands) > 5  # the walk found the subcommands
    undocumented: dict[str, list[str]] = {}
    for path, parser in commands:
        with pytest.raises(SystemExit) as exited:
            main([*path, "--help"])
        assert exited.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: {' '.join((prog, *path))}")
        for action in parser._actions:
            for option in action.option_strings:
                assert option in out, (path, option)
        if missing := _undocumented(parser):
            undocumented[" ".join((prog, *path))] = missing
    assert undocumented == {}


def test_fhir_help_names_what_runs_without_a_subcommand(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        cli.main(["fhir", "--help"])
    out = capsys.readouterr().out
    assert "{clients,import}" in out and "without a subcommand, run the embedded" in out.lower()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBOT_")}
    return {**env, "CAREBOT_VAR_DIR": str(tmp_path / "var"), "CAREBOT_LOG_LEVEL": "INFO", **extra}


@pytest.mark.parametrize("form", [["--json"], []])
def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path: Path, form: list[str]) -> None:
    # the reader's end is closed before the command writes: its first write breaks the pipe
    process = subprocess.Popen(
        [*CAREBOT, "triage", *form, "crushing chest pain and sweating"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(tmp_path),
        cwd=REPO,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) == 1, err
    assert err == ""


def test_head_gets_the_first_line_and_nothing_breaks(tmp_path: Path) -> None:
    done = subprocess.run(
        f"{sys.executable} -m bot.cli triage 'crushing chest pain' | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        cwd=REPO,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "level: emergency_ambulance\n", "")


def _carebot(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CAREBOT, *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path, CAREBOT_LOG_LEVEL="WARNING"),
        cwd=REPO,
        timeout=120,
    )


def test_patient_vitals_summarised_and_an_unknown_patient_named(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    seed = tmp_path / "seed.ndjson"
    resources = [{"resourceType": "Patient", "id": "p-cli"}] + [
        vital_json("Patient/p-cli", "8867-4", bpm, (now - timedelta(hours=hours)).isoformat())
        for hours, bpm in ((1, 110), (2, 72), (3, 80))
    ]
    seed.write_text("".join(json.dumps(r) + "\n" for r in resources))
    assert _carebot(tmp_path, "fhir", "import", str(seed)).returncode == 0

    known = _carebot(tmp_path, "triage", "--patient", "p-cli", "sore throat")
    assert known.returncode == 0, known.stderr
    vitals = [line for line in known.stdout.splitlines() if "vital " in line]
    assert vitals == ["  vital heart_rate = 110 /min (device); 3 readings, 72 to 110"]

    unknown = _carebot(tmp_path, "triage", "--patient", "no-such-patient", "sore throat")
    assert (unknown.returncode, unknown.stdout) == (2, "")
    assert unknown.stderr == "error: no patient 'no-such-patient' in the FHIR store\n"


@pytest.mark.parametrize(
    ("env", "args", "error"),
    [
        (
            {"CAREBOT_PORT": "eighty"},
            ["migrate"],
            "carebot: error: invalid Settings: port: Input should be a valid integer",
        ),
        ({}, ["fhir", "import", "missing.ndjson"], "carebot: error: [Errno 2] No such file"),
        ({}, ["fhir", "clients", "revoke", "nobody"], "error: no active client named 'nobody'"),
    ],
)
def test_a_failure_is_one_line_and_exit_2(
    tmp_path: Path, env: dict[str, str], args: list[str], error: str
) -> None:
    done = subprocess.run(
        [*CAREBOT, *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path, CAREBOT_LOG_LEVEL="WARNING", **env),
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(error), done.stderr


def test_gateway_status_honours_carebot_var_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("CAREBOT_GATEWAY_BUFFER_PATH", "CAREBOT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    var = tmp_path / "service-var"
    monkeypatch.setenv("CAREBOT_VAR_DIR", str(var))
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)

    assert cli.main(["gateway", "status"]) == 2  # nothing there yet, and a look creates nothing
    assert f"no gateway buffer at {var / 'gateway.db'}" in capsys.readouterr().err
    assert list(tmp_path.rglob("*.db")) == []

    var.mkdir()
    assert cli.main(["gateway", "pair", "c0:ff:ee:00:00:01", "patient-1"]) == 0
    capsys.readouterr()
    assert cli.main(["gateway", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["buffer"] == str(var / "gateway.db")
    assert [(d["address"], d["patient"]) for d in status["devices"]] == [
        ("C0:FF:EE:00:00:01", "patient-1")
    ]
    assert not (work / "var").exists()

    # the gateway's own setting, then the option, say otherwise
    own = tmp_path / "own.db"
    monkeypatch.setenv("CAREBOT_GATEWAY_BUFFER_PATH", str(own))
    assert cli.main(["gateway", "status"]) == 2
    assert f"no gateway buffer at {own}" in capsys.readouterr().err
    assert cli.main(["gateway", "status", "--buffer", str(var / "gateway.db")]) == 0
    assert "C0:FF:EE:00:00:01" in capsys.readouterr().out


def _wait_for_line(process: subprocess.Popen[str], text: str, timeout: float) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"{text!r} not printed: {lines}")


def _big_transaction(observations: int) -> dict[str, object]:
    """A transaction big enough to go to the bundle workers (`INLINE_BELOW`)."""
    patient = "urn:uuid:6f1c2a4e-0000-4000-8000-000000000001"
    entries: list[dict[str, object]] = [
        {
            "fullUrl": patient,
            "resource": {"resourceType": "Patient"},
            "request": {"method": "POST", "url": "Patient"},
        }
    ]
    entries += [
        {
            "resource": vital_json(
                patient, "8867-4", 60 + n % 40, f"2026-01-01T00:{n % 60:02d}:00Z"
            ),
            "request": {"method": "POST", "url": "Observation"},
        }
        for n in range(observations)
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _children(pid: int) -> set[int]:
    tasks = Path(f"/proc/{pid}/task")
    return {int(c) for t in tasks.iterdir() for c in (t / "children").read_text().split()}


def _alive(pid: int) -> str:
    """The process's command line while it runs (not a zombie), else ''."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        if "\nState:\tZ" in status:
            return ""
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except FileNotFoundError:
        return ""


@contextmanager
def _server(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """A server process, killed at the end if the test did not stop it."""
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _requests_logged(err: str) -> list[str]:
    """The request log's lines without their durations (each checked to have one)."""
    logged = [line.split(": ", 1)[1] for line in err.splitlines() if "carebot.requests" in line]
    assert all(line.endswith(" ms") for line in logged), logged
    return [line.rsplit(" ", 2)[0] for line in logged]


def _wait(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_logs_requests_without_ids_and_stops_cleanly(
    tmp_path: Path, signum: signal.Signals
) -> None:
    port = free_port()
    bundle = _big_transaction(120)
    assert len(json.dumps(bundle)) > INLINE_BELOW
    added = _carebot(tmp_path, "fhir", "clients", "add", "loader", "--scopes", "system/*.*")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    # ResourceWarnings are silent by default: here every one is printed
    serve = [sys.executable, "-W", "always::ResourceWarning", "-m", "bot.cli", "serve"]
    with _server(serve, _env(tmp_path, CAREBOT_PORT=str(port))) as process:
        _wait_for_line(process, "carebot is running", timeout=120)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            assert http.get("/healthz").status_code == 200
            assert http.get("/fhir/Patient/alice-4711?name=Alice").status_code == 401
            assert http.get("/no/such/page").status_code == 404
            # the first big bundle starts the worker processes; the stop must end them too
            posted = http.post(
                "/fhir", json=bundle, headers={"Authorization": f"Bearer {token}"}, timeout=120
            )
            assert posted.status_code == 200, posted.text
        _wait(lambda: len(_children(process.pid)) >= 2, 60)
        workers = _children(process.pid)
        assert len(workers) >= 2  # the spawn resource tracker and at least one worker
        process.send_signal(signum)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    for bad in ("Traceback", "ResourceWarning", "leaked", "alice-4711", "Alice"):
        assert bad not in err, err
    assert _requests_logged(err) == [
        "GET /healthz 200",
        "GET /fhir/{type}/{id} 401",
        "GET (no route) 404",
        "POST /fhir 200",
    ]
    _wait(lambda: not any(map(_alive, workers)), 10)  # the tracker exits once its pipe closes
    assert [_alive(pid) for pid in workers if _alive(pid)] == []
    assert "carebot stopped" in err


def test_the_fhir_store_alone_logs_route_templates_only(tmp_path: Path) -> None:
    with _server(
        [*CAREBOT, "fhir", "--host", "127.0.0.1", "--port", "0"], _env(tmp_path)
    ) as process:
        base = _wait_for_line(process, "FHIR store at", timeout=120)[-1].split(" at ")[1].strip()
        with httpx.Client(timeout=30) as http:
            assert http.get(f"{base}/Patient/alice-4711?name=Alice").status_code == 401
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "alice-4711" not in err and "Alice" not in err
    assert _requests_logged(err) == ["GET /fhir/{type}/{id} 401"]
