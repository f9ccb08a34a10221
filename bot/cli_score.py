"""`carebot score`: scoring's own commands, plus `run`, the worker on the service's FHIR store.

    carebot score run                         # follow the change feed (Ctrl-C stops)
    carebot score run --from 2026-12-01 --to 2026-12-02   # re-score a period, then exit

The worker reaches FHIR through the service's access seam (`bot.fhir_access`: the embedded
store on the service's database, or the outside server), with the service's system scopes;
its change-feed cursor is kept in `var/scoring-cursor.json`.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from bot.settings import Settings
from scoring.cli import ScoringInputError
from scoring.cli import configure as configure_scoring


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _run(args: argparse.Namespace) -> int:
    from bot.fhir_access import cli_fhir_access
    from scoring.model import load_model
    from scoring.worker import FileCursor, ScoringWorker, WorkerConfig

    settings = Settings()
    model = load_model()
    config = WorkerConfig(poll_interval_s=args.poll)
    async with cli_fhir_access(settings) as access:
        client = access.system()
        cursor = FileCursor(settings.var_dir / "scoring-cursor.json")
        worker = ScoringWorker(client, model, config, cursor)
        if args.start is not None:
            done = await worker.run_batch(args.start, args.end or datetime.now(UTC))
            print(
                f"{len(done.patients)} patients: {done.assessments} RiskAssessments written, "
                f"{done.unchanged} unchanged, {done.flags} Flag changes"
            )
            return 0
        await worker.follow()
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    if args.end is not None and args.start is None:
        raise ScoringInputError("score run: --to needs --from")
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        return 0


def configure(score: argparse.ArgumentParser) -> None:
    """train / evaluate / predict from `scoring.cli`, and run."""
    sub = configure_scoring(score)
    run = sub.add_parser(
        "run", help="score the FHIR store's vitals: follow its changes, or a period"
    )
    run.add_argument(
        "--from", dest="start", type=_moment, default=None, help="batch: re-score from this time"
    )
    run.add_argument(
        "--to", dest="end", type=_moment, default=None, help="batch: re-score up to this time"
    )
    run.add_argument("--poll", type=float, default=5.0, help="seconds between polls when idle")
    run.set_defaults(func=_cmd_run)
