"""`carebot score`: scoring's own commands, plus `run`, the worker on the service's FHIR store.

    carebot score run                         # follow the change feed (Ctrl-C stops)
    carebot score run --from 2026-12-01 --to 2026-12-02   # re-score a period, then exit

The worker reaches FHIR through the service's access seam (`bot.fhir_access`: the embedded
store on the service's database, or the outside server), with the service's system scopes.
Its change-feed position and the patients waiting to be scored are in the service's
database (`scoring.work_queue`), shared by every worker on it: on PostgreSQL several
workers divide the patients between them (claims with SKIP LOCKED), on SQLite run one.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

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
    from integrations.persistence.database import create_engine, create_sessionmaker
    from integrations.persistence.migrate import migrate
    from scoring.follower import FeedFollower
    from scoring.model import load_model
    from scoring.work_queue import WorkQueue, claim_strategy
    from scoring.worker import ScoringWorker, WorkerConfig

    settings = Settings()
    model = load_model()
    config = WorkerConfig(poll_interval_s=args.poll)
    async with cli_fhir_access(settings) as access:
        worker = ScoringWorker(access.system(), model, config)
        if args.start is not None:
            done = await worker.run_batch(args.start, args.end or datetime.now(UTC))
            print(
                f"{len(done.patients)} patients: {done.assessments} RiskAssessments written, "
                f"{done.unchanged} unchanged, {done.flags} Flag changes"
            )
            return 0
        url = settings.resolved_database_url
        await migrate(url)  # the queue's tables, also beside an outside FHIR server
        engine = create_engine(url)
        try:
            lease = timedelta(seconds=args.lease)
            queue = WorkQueue(create_sessionmaker(engine), claim_strategy(url), lease=lease)
            await FeedFollower(worker, queue).follow()
        finally:
            await engine.dispose()
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
    run.add_argument(
        "--lease",
        type=float,
        default=30.0,
        help="seconds a claim lasts unrenewed: how soon a dead worker's patients pass on",
    )
    run.set_defaults(func=_cmd_run)
