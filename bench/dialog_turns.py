"""Dialog turns through the service's wiring: engine runs per turn and time per turn.

Plays a scripted triage (a belly pain story, an age, "no" to each question) through
`bot.app.build_runner` on in-memory fakes, ROUNDS times. The baseline, measured in the same
run, is one direct call of the triage engine on each turn's words: the floor a turn could
cost. Prints JSON lines: runs of the engine per turn, and p50/p99 of the turn time against
the baseline's.

    .venv/bin/python bench/dialog_turns.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dialogs.triage import assess
from dialogs.triage.knowledge_base import load_knowledge
from tests.triage.driver import ALICE, service_conversation

SCRIPT = ("hello", "I have pain in my belly since this morning", "45") + ("no",) * 10


async def _conversation() -> tuple[list[str], list[int], list[float]]:
    chat = service_conversation(ALICE)
    engine = chat.runner.engine
    words: list[str] = []
    runs: list[int] = []
    times: list[float] = []
    for text in SCRIPT:
        before = engine.runs
        start = time.perf_counter()
        await chat.send(text)
        times.append(time.perf_counter() - start)
        runs.append(engine.runs - before)
        words.append(text)
        if text != "hello" and not chat.stack:
            break
    return words, runs, times


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(rounds: int) -> None:
    knowledge = load_knowledge()
    turn_times: list[float] = []
    floor_times: list[float] = []
    runs: list[int] = []
    for _ in range(rounds):
        words, runs, times = await _conversation()
        turn_times += times
        for text in words:
            start = time.perf_counter()
            assess(text, language="en", knowledge=knowledge)
            floor_times.append(time.perf_counter() - start)
    print(json.dumps({"bench": "dialog_turns", "engine_runs_per_turn": runs, "turns": len(runs)}))
    for name, values in (("turn", turn_times), ("one_engine_run", floor_times)):
        print(
            json.dumps(
                {
                    "bench": "dialog_turns",
                    "what": name,
                    "n": len(values),
                    "p50_ms": round(statistics.median(values) * 1000, 3),
                    "p99_ms": round(_quantile(values, 0.99) * 1000, 3),
                }
            )
        )
    print(
        json.dumps(
            {
                "bench": "dialog_turns",
                "ratio_p50_turn_to_one_engine_run": round(
                    statistics.median(turn_times) / statistics.median(floor_times), 2
                ),
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    asyncio.run(main(parser.parse_args().rounds))
