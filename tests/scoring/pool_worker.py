"""One worker of a pool, as its own process: follows the change feed with the shared queue
of DATABASE_URL until the feed is read to its end and the queue is empty; prints, as one
JSON line, the windows it scored and how many patients it scored (calls of score_patient).

    python -m tests.scoring.pool_worker DATABASE_URL
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from integrations.fhir.access import FhirConfig, standalone_access
from integrations.persistence.database import create_engine, create_sessionmaker
from scoring.follower import FeedFollower
from scoring.model import load_model
from scoring.work_queue import WorkQueue, claim_strategy
from scoring.worker import ScoringWorker, WorkerConfig, Written

DEADLINE_S = 900


async def drain(url: str) -> dict[str, object]:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    total = Written()
    try:
        async with standalone_access(FhirConfig(secret_key="p" * 32), sessions) as access:
            worker = ScoringWorker(access.system(), load_model(), WorkerConfig(claim_batch=10))
            follower = FeedFollower(worker, WorkQueue(sessions, claim_strategy(url)))
            began = time.monotonic()
            while time.monotonic() - began < DEADLINE_S:
                entries = await follower.feed_once()
                done = await follower.score_claimed()
                total.add(done)
                if entries == 0 and await follower.queue.outstanding() == 0:
                    break
                if not done.patients:
                    await asyncio.sleep(0.05)
    finally:
        await engine.dispose()
    return {"windows": total.windows, "calls": total.calls}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(drain(sys.argv[1]))))
