"""Turn latency through POST /api/messages: carebot against two echo-bot baselines.

Each bot runs as its own server process on a free loopback port; its replies go to the
fake Bot Connector (tests/fakes/bot_connector.py) running in this process, named as the
serviceUrl of Teams-like message activities. Bots measured in the same run:

- `carebot`: `.venv/bin/carebot serve` (after `carebot migrate`), text "help" (the menu);
- `stock`: botbuilder 4.17.1's echo bot on the stock CloudAdapter (venv var/bench/stock);
- `agents`: the Microsoft 365 Agents SDK echo bot (venv var/bench/agents).

The baselines' packages live in their own venvs under var/bench/, made here with pip on
first use, never in the project's venv. For each bot: warm-up turns, then N sequential
turns (one conversation) and N concurrent turns (N conversations, all sent at once).

Latencies, all measured in this process with `time.perf_counter()` from just before the
POST /api/messages is sent:
- `reply`: until the bot's first `message` reply to that activity reaches the connector;
- `http`: until the HTTP response of /api/messages is received;
- `turn`: the later of the two (the targets use it).

Prints one JSON line per bot and mode, then ratios (carebot / baseline) and targets.
Exit status 1 if a baseline could not be measured or a turn failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.bot_connector import FakeBotConnector, TeamsMessage  # noqa: E402

BENCH_VAR = ROOT / "var" / "bench"
BASELINES = ROOT / "bench" / "baselines"

# Baseline venvs: name -> pip requirements. Pinned so that figures compare across runs.
VENVS: dict[str, tuple[str, ...]] = {
    "stock": ("botbuilder-integration-aiohttp==4.17.1",),
    "agents": ("microsoft-agents-hosting-aiohttp==1.9.0",),
}
PIP_TIMEOUT_S = 900.0
START_TIMEOUT_S = 90.0
TURN_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
SETTLE_S = 0.5


@dataclass(frozen=True)
class BotSpec:
    """How to start one bot server."""

    name: str
    text: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    prepare: tuple[tuple[str, ...], ...] = ()
    """Commands run (with `env`) before the server starts, e.g. migrations."""


@dataclass(frozen=True)
class Sample:
    """One turn's latencies in seconds."""

    reply: float
    http: float

    @property
    def turn(self) -> float:
        """The later of the reply and the HTTP response."""
        return max(self.reply, self.http)


@dataclass
class ModeResult:
    """The turns of one bot in one mode."""

    bot: str
    mode: str
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    replies_per_turn: float = 0.0
    wall_s: float = 0.0
    first_reply: str = ""
    """The text (or attachment types) of the first turn's first reply, to see it answered."""


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of `values` (0 < fraction <= 1)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def summary(result: ModeResult, turns: int, text: str) -> dict[str, Any]:
    """The JSON line for one bot and mode (milliseconds)."""
    line: dict[str, Any] = {
        "bench": "bot_turns",
        "bot": result.bot,
        "mode": result.mode,
        "text": text,
        "turns": turns,
        "ok": len(result.samples),
        "errors": len(result.errors),
    }
    if result.samples:
        for metric in ("turn", "reply", "http"):
            values = [getattr(sample, metric) * 1000 for sample in result.samples]
            line[f"{metric}_p50_ms"] = round(percentile(values, 0.50), 2)
            line[f"{metric}_p99_ms"] = round(percentile(values, 0.99), 2)
        line["replies_per_turn"] = round(result.replies_per_turn, 2)
        line["wall_s"] = round(result.wall_s, 3)
        line["first_reply"] = result.first_reply
    if result.errors:
        line["first_error"] = result.errors[0][:300]
    return line


def emit(line: dict[str, Any]) -> None:
    """Print one JSON line now."""
    print(json.dumps(line), flush=True)


# -- venvs and processes ---------------------------------------------------------------


def ensure_venv(name: str) -> Path:
    """The python of var/bench/NAME with its requirements, made or remade when they change."""
    requirements = VENVS[name]
    venv = BENCH_VAR / name
    python = venv / "bin" / "python"
    marker = venv / ".bench-requirements"
    wanted = "\n".join(requirements) + "\n"
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    log = BENCH_VAR / "logs" / f"pip-{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"# making {venv} with {' '.join(requirements)} (log: {log})", file=sys.stderr)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *requirements]
    with log.open("w") as out:
        for command in ([sys.executable, "-m", "venv", "--clear", str(venv)], pip):
            done = subprocess.run(
                command, stdout=out, stderr=subprocess.STDOUT, timeout=PIP_TIMEOUT_S
            )
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed:\n{_tail(log)}")
    marker.write_text(wanted)
    return python


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


@contextlib.asynccontextmanager
async def running(spec: BotSpec, port: int, log: Path) -> AsyncIterator[str]:
    """Start the bot's server on PORT, yield its /api/messages URL, stop it on exit."""
    # The caller's CAREBOT_* settings (a real database, app id) must not reach the bots.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CAREBOT_")}
    env = {**inherited, **spec.env, "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        for command in spec.prepare:
            done = await asyncio.create_subprocess_exec(
                *command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )
            if await asyncio.wait_for(done.wait(), START_TIMEOUT_S) != 0:
                raise RuntimeError(f"{' '.join(command)} failed:\n{_tail(log)}")
        process = await asyncio.create_subprocess_exec(
            *spec.argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"{spec.name} exited {process.returncode}:\n{_tail(log)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{spec.name} not listening after {START_TIMEOUT_S} s")
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    await asyncio.sleep(0.1)
                    continue
                writer.close()
                await writer.wait_closed()
                break
            yield f"http://127.0.0.1:{port}/api/messages"
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
                except TimeoutError:
                    process.kill()
                    await process.wait()


# -- turns ---------------------------------------------------------------------------


async def one_turn(
    http: aiohttp.ClientSession,
    url: str,
    connector: FakeBotConnector,
    activity: dict[str, Any],
) -> Sample:
    """Send one activity; wait for its HTTP response and its first message reply."""
    body = json.dumps(activity).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    started = time.perf_counter()
    async with http.post(url, data=body, headers=headers) as response:
        await response.read()
        answered = time.perf_counter()
        if response.status >= 300:
            raise RuntimeError(f"/api/messages answered {response.status}")
    reply = await connector.wait_for_reply(activity["id"], timeout=TURN_TIMEOUT_S)
    if reply.status >= 300:
        raise RuntimeError(f"connector answered {reply.status}")
    return Sample(reply=reply.received_at - started, http=answered - started)


def _replies_per_turn(connector: FakeBotConnector, ids: set[str]) -> float:
    count = sum(1 for r in connector.requests if r.activity_id in ids and r.status < 300)
    return count / max(1, len(ids))


def _first_reply(connector: FakeBotConnector, activity_id: str) -> str:
    for recorded in connector.requests:
        body = recorded.activity
        if recorded.activity_id == activity_id and body and body.get("type") == "message":
            kinds = [str(a.get("contentType")) for a in body.get("attachments") or []]
            return (str(body.get("text") or "") + " " + " ".join(kinds)).strip()[:120]
    return ""


async def run_mode(
    bot: str,
    mode: str,
    turns: int,
    text: str,
    url: str,
    connector: FakeBotConnector,
    http: aiohttp.ClientSession,
) -> ModeResult:
    """N turns, one after another on one conversation, or all at once on N conversations."""
    connector.clear()
    result = ModeResult(bot, mode)
    prefix = f"{bot}-{mode}-{time.monotonic_ns()}"

    def activity(index: int) -> dict[str, Any]:
        conversation = f"a:bench-{prefix}" if mode == "sequential" else f"a:bench-{prefix}-{index}"
        user = "29:bench-user" if mode == "sequential" else f"29:bench-user-{index}"
        builder = TeamsMessage(connector.service_url, conversation_id=conversation, user_id=user)
        return builder.build(text, f"{prefix}-{index}")

    activities = [activity(index) for index in range(turns)]
    started = time.perf_counter()
    if mode == "sequential":
        outcomes: list[Sample | BaseException] = []
        for item in activities:
            try:
                outcomes.append(await one_turn(http, url, connector, item))
            except Exception as error:
                outcomes.append(error)
    else:
        outcomes = await asyncio.gather(
            *(one_turn(http, url, connector, item) for item in activities),
            return_exceptions=True,
        )
    result.wall_s = time.perf_counter() - started
    for outcome in outcomes:
        if isinstance(outcome, Sample):
            result.samples.append(outcome)
        else:
            result.errors.append(f"{type(outcome).__name__}: {outcome}")
    await asyncio.sleep(SETTLE_S)  # replies sent after the HTTP response still count
    result.replies_per_turn = _replies_per_turn(connector, {a["id"] for a in activities})
    result.first_reply = _first_reply(connector, activities[0]["id"])
    return result


# -- the bots --------------------------------------------------------------------------


def baseline_spec(name: str) -> BotSpec:
    """The echo bot `bench/baselines/NAME_echo.py` on its own venv."""
    python = ensure_venv(name)
    return BotSpec(name, "help", (str(python), str(BASELINES / f"{name}_echo.py"), "{port}"))


def carebot_spec(var_dir: Path, database_url: str = "") -> BotSpec:
    """carebot serve on a fresh CAREBOT_VAR_DIR (and its SQLite file), migrated first."""
    carebot = str(ROOT / ".venv" / "bin" / "carebot")
    env = {
        "CAREBOT_VAR_DIR": str(var_dir),
        "CAREBOT_LOG_LEVEL": "WARNING",
        "CAREBOT_EMULATOR_MODE": "1",  # /api/messages without an app id, loopback only
    }
    if database_url:
        env["CAREBOT_DATABASE_URL"] = database_url
    return BotSpec(
        "carebot",
        "help",
        (carebot, "serve", "--port", "{port}"),
        env=env,
        prepare=((carebot, "migrate"),),
    )


def with_port(spec: BotSpec, port: int) -> BotSpec:
    """The spec with `{port}` in its argv filled in."""
    argv = tuple(arg.replace("{port}", str(port)) for arg in spec.argv)
    return BotSpec(spec.name, spec.text, argv, spec.env, spec.prepare)


async def measure_bot(
    spec: BotSpec, turns: int, warmup: int, connector: FakeBotConnector
) -> list[ModeResult] | str:
    """The bot's results, or why it could not be measured."""
    port = free_port()
    spec = with_port(spec, port)
    try:
        return await measure_on(spec, port, turns, warmup, connector)
    except Exception as error:
        return f"{type(error).__name__}: {error}"


async def measure_on(
    spec: BotSpec, port: int, turns: int, warmup: int, connector: FakeBotConnector
) -> list[ModeResult]:
    """`measure` on a given port."""
    log = BENCH_VAR / "logs" / f"{spec.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    limits = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=TURN_TIMEOUT_S)
    async with (
        running(spec, port, log) as url,
        aiohttp.ClientSession(connector=limits, timeout=timeout) as http,
    ):
        warm = await run_mode(spec.name, "sequential", warmup, spec.text, url, connector, http)
        if warm.errors:
            raise RuntimeError(f"warm-up failed: {warm.errors[0]}\n{_tail(log)}")
        return [
            await run_mode(spec.name, mode, turns, spec.text, url, connector, http)
            for mode in ("sequential", "concurrent")
        ]


def ratio(a: float, b: float) -> float | None:
    """a / b rounded, None when b is zero."""
    return round(a / b, 3) if b else None


def pool(results: Sequence[ModeResult]) -> ModeResult:
    """The turns of several rounds of one bot and mode as one result."""
    pooled = ModeResult(results[0].bot, results[0].mode, first_reply=results[0].first_reply)
    for result in results:
        pooled.samples.extend(result.samples)
        pooled.errors.extend(result.errors)
        pooled.wall_s += result.wall_s
    pooled.replies_per_turn = sum(r.replies_per_turn for r in results) / len(results)
    return pooled


def report(by: dict[tuple[str, str], ModeResult], turns: int) -> None:
    """Ratios of carebot to each baseline and the two targets."""

    def p(bot: str, mode: str, fraction: float) -> float | None:
        result = by.get((bot, mode))
        if result is None or not result.samples:
            return None
        return percentile([s.turn * 1000 for s in result.samples], fraction)

    for baseline in ("stock", "agents"):
        for mode in ("sequential", "concurrent"):
            line: dict[str, Any] = {"bench": "bot_turns", "ratio": f"carebot/{baseline}"}
            line["mode"] = mode
            for name, fraction in (("p50", 0.5), ("p99", 0.99)):
                a, b = p("carebot", mode, fraction), p(baseline, mode, fraction)
                line[f"turn_{name}"] = None if a is None or b is None else ratio(a, b)
            if line["turn_p50"] is not None:
                emit(line)
    carebot_p99, stock_p99 = p("carebot", "concurrent", 0.99), p("stock", "concurrent", 0.99)
    emit(
        {
            "bench": "bot_turns",
            "target": f"carebot concurrent ({turns}) turn p99 <= stock echo concurrent turn p99",
            "carebot_ms": None if carebot_p99 is None else round(carebot_p99, 2),
            "stock_ms": None if stock_p99 is None else round(stock_p99, 2),
            "met": None if carebot_p99 is None or stock_p99 is None else carebot_p99 <= stock_p99,
        }
    )
    carebot_p50 = p("carebot", "sequential", 0.5)
    emit(
        {
            "bench": "bot_turns",
            "target": "carebot sequential turn p50 <= 10 ms",
            "carebot_ms": None if carebot_p50 is None else round(carebot_p50, 2),
            "met": None if carebot_p50 is None else carebot_p50 <= 10.0,
        }
    )


async def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200, help="turns per mode (max 2000)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up turns per bot (max 200)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="bots take turns this many times (max 10); each mode's turns are pooled",
    )
    parser.add_argument(
        "--carebot-database-url",
        default="",
        help="CAREBOT_DATABASE_URL for carebot (an empty database); default SQLite in a temp dir",
    )
    parser.add_argument(
        "--bots",
        default="stock,agents,carebot",
        help="comma-separated, from stock, agents, carebot",
    )
    args = parser.parse_args(argv)
    turns = max(1, min(args.turns, 2000))
    warmup = max(1, min(args.warmup, 200))
    rounds = max(1, min(args.rounds, 10))
    names = [n.strip() for n in args.bots.split(",") if n.strip()]
    unknown = set(names) - {"stock", "agents", "carebot"}
    if unknown:
        parser.error(f"unknown bots: {', '.join(sorted(unknown))}")

    failed = False
    rounds_of: dict[tuple[str, str], list[ModeResult]] = {}
    skipped: set[str] = set()
    var_dir = Path(tempfile.mkdtemp(prefix="carebot-bench-"))
    try:
        specs = {
            name: carebot_spec(var_dir, args.carebot_database_url)
            if name == "carebot"
            else baseline_spec(name)
            for name in names
        }
        async with FakeBotConnector() as connector:
            for _ in range(rounds):
                for name in names:
                    if name in skipped:
                        continue
                    outcome = await measure_bot(specs[name], turns, warmup, connector)
                    if isinstance(outcome, str):
                        emit({"bench": "bot_turns", "bot": name, "skipped": outcome[:2000]})
                        failed = failed or name != "carebot"
                        skipped.add(name)
                        continue
                    for result in outcome:
                        rounds_of.setdefault((result.bot, result.mode), []).append(result)
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)
    pooled = {key: pool(results) for key, results in rounds_of.items()}
    for (name, _), result in pooled.items():
        done = len(rounds_of[(name, result.mode)])
        emit({**summary(result, turns * done, specs[name].text), "rounds": done})
        failed = failed or bool(result.errors)
    report(pooled, turns)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
