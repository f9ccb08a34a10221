"""Big bundles are validated in worker processes, with the verdicts inline validation gives."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from integrations.fhir_store import validation_pool
from integrations.fhir_store.app import VALIDATION_KEY, create_fhir_app
from integrations.fhir_store.bundles import parse_bundle, run_batch, run_transaction
from integrations.fhir_store.outcome import StoreError
from integrations.fhir_store.scopes import Action
from integrations.fhir_store.store import FhirStore
from integrations.fhir_store.validate import validate_resource
from integrations.fhir_store.validation_pool import ValidationPool
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate
from tests.fhir.conftest import serve
from tests.fhir.helpers import patient_json, vital_json

ROOT = Path(__file__).resolve().parents[2]
SIZE = 200  # entries of a big bundle: above the pool's inline threshold, in several chunks
JSON = "application/fhir+json"


def _observations(count: int) -> list[dict[str, Any]]:
    return [
        vital_json("Patient/p1", "8867-4", 60 + i % 40, f"2024-03-01T10:{i % 60:02d}:00Z")
        for i in range(count)
    ]


def _bundle(kind: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
            for r in resources
        ],
    }


def _inline_refusal(resource: dict[str, Any]) -> StoreError:
    with pytest.raises(StoreError) as caught:
        validate_resource(resource, resource["resourceType"])
    return caught.value


def _not_in_this_process(*_args: Any) -> dict[str, Any]:
    raise AssertionError("validated on the event loop, not in a worker")


def _workers(before: set[multiprocessing.process.BaseProcess]) -> set[Any]:
    return set(multiprocessing.active_children()) - before


@dataclass
class Served:
    """The FHIR app on a loopback port (no auth) and a client for it."""

    app: web.Application
    base: str
    http: httpx.AsyncClient

    @property
    def pool(self) -> ValidationPool:
        """The app's validation pool."""
        return self.app[VALIDATION_KEY]

    async def post(self, bundle: dict[str, Any]) -> httpx.Response:
        """POST BUNDLE to the base URL."""
        return await self.http.post(self.base, json=bundle, headers={"Content-Type": JSON})

    async def count(self, resource_type: str) -> int:
        """How many resources of RESOURCE_TYPE are stored."""
        response = await self.http.get(f"{self.base}/{resource_type}?_summary=count")
        return int(response.json()["total"])


@asynccontextmanager
async def serving(database_url: str) -> AsyncIterator[Served]:
    """Serve the store; on exit the runner's cleanup runs the app's on_cleanup."""
    await migrate(database_url)
    engine = create_engine(database_url)
    app = create_fhir_app(create_sessionmaker(engine), require_auth=False)
    root = web.Application()
    root.add_subapp("/fhir", app)
    runner, url = await serve(root)
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            yield Served(app, f"{url}/fhir", http)
    finally:
        await runner.cleanup()
        await engine.dispose()


async def test_big_transactions_are_judged_in_workers_as_inline(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = _observations(SIZE)
    bad[137]["status"] = "nope"
    expected = _inline_refusal(bad[137])
    assert expected.diagnostics == "Observation.status: 'nope' is not in the required value set"
    async with serving(sqlite_url) as served:
        assert await served.pool.start()
        # from here a resource validated on the event loop fails the request
        monkeypatch.setattr(validation_pool, "validate_resource", _not_in_this_process)
        refused = await served.post(_bundle("transaction", bad))
        assert (refused.status_code, refused.json()) == (400, expected.outcome())
        assert await served.count("Observation") == 0
        stored = await served.post(_bundle("transaction", _observations(SIZE)))
        assert stored.status_code == 200
        statuses = [e["response"]["status"] for e in stored.json()["entry"]]
        assert statuses == ["201 Created"] * SIZE
        assert await served.count("Observation") == SIZE


async def test_workers_start_for_big_bundles_only_and_stop_at_cleanup(sqlite_url: str) -> None:
    before = set(multiprocessing.active_children())
    async with serving(sqlite_url) as served:
        small = await served.post(_bundle("transaction", _observations(10)))
        assert small.status_code == 200
        assert _workers(before) == set()
        assert await served.pool.start()
        workers = _workers(before)
        assert len(workers) == served.pool.workers
    assert not any(worker.is_alive() for worker in workers)
    assert _workers(before) == set()


async def test_broken_workers_fall_back_to_inline_and_log_once(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    bad = _observations(SIZE)
    bad[3]["valueQuantity"]["value"] = "sixty"
    expected = _inline_refusal(bad[3])
    before = set(multiprocessing.active_children())
    async with serving(sqlite_url) as served:
        assert await served.pool.start()
        for worker in _workers(before):
            os.kill(worker.pid, signal.SIGKILL)
            worker.join()
        with caplog.at_level(logging.ERROR, logger=validation_pool.__name__):
            for _ in range(2):
                refused = await served.post(_bundle("transaction", bad))
                assert (refused.status_code, refused.json()) == (400, expected.outcome())
            stored = await served.post(_bundle("transaction", _observations(SIZE)))
            assert stored.status_code == 200
        assert await served.count("Observation") == SIZE
    assert [r.name for r in caplog.records] == [validation_pool.__name__]
    assert "validating inline" in caplog.records[0].getMessage()


def _deny_patients(resource_type: str, _action: Action) -> None:
    if resource_type == "Patient":
        raise StoreError(403, "no Patient writes for this caller", "forbidden")


def _transaction_cases() -> list[list[dict[str, Any]]]:
    code = _observations(SIZE)
    code[137]["status"] = "nope"
    two = _observations(SIZE)  # invalid entries in different chunks: the first one counts
    two[180]["effectiveDateTime"] = "2024-13-01"
    two[5]["status"] = "unknown-status"
    null = _observations(SIZE)
    null[190]["subject"] = None
    denied_after = _observations(SIZE)  # invalid before the entry the caller may not write
    denied_after[100]["status"] = "nope"
    denied_after[120] = patient_json("denied")
    denied_first = _observations(SIZE)  # the entry the caller may not write comes first
    denied_first[120] = patient_json("denied")
    denied_first[150]["status"] = "nope"
    return [code, two, null, denied_after, denied_first]


async def test_run_transaction_refuses_as_inline_does(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await migrate(sqlite_url)
    engine = create_engine(sqlite_url)
    store = FhirStore(create_sessionmaker(engine))
    pool = ValidationPool()
    try:
        cases = [parse_bundle(_bundle("transaction", c))[1] for c in _transaction_cases()]
        inline = []
        for entries in cases:
            with pytest.raises(StoreError) as caught:
                await run_transaction(store, entries, _deny_patients)
            inline.append(caught.value)
        assert await pool.start()
        monkeypatch.setattr(validation_pool, "validate_resource", _not_in_this_process)
        for entries, expected in zip(cases, inline, strict=True):
            with pytest.raises(StoreError) as caught:
                await run_transaction(store, entries, _deny_patients, validation=pool)
            assert vars(caught.value) == vars(expected)
        assert [e.status for e in inline] == [400, 400, 400, 400, 403]
    finally:
        await pool.close()
        await engine.dispose()


async def test_run_batch_answers_as_inline_does(sqlite_url: str) -> None:
    await migrate(sqlite_url)
    engine = create_engine(sqlite_url)
    store = FhirStore(create_sessionmaker(engine))
    pool = ValidationPool()
    resources: list[dict[str, Any]] = _observations(SIZE)
    resources[7]["status"] = "nope"
    resources[90] = patient_json("denied")
    resources[150]["code"] = {}
    try:
        entries = parse_bundle(_bundle("batch", resources))[1]
        inline = await run_batch(store, entries, _deny_patients)
        assert await pool.start()
        pooled = await run_batch(store, entries, _deny_patients, validation=pool)
        refused = {7: "400", 90: "403", 150: "400"}
        for answers in (inline, pooled):
            statuses = [a["response"]["status"] for a in answers]
            assert statuses == [refused.get(i, "201 Created") for i in range(SIZE)]
        assert [inline[i]["response"]["outcome"] for i in refused] == [
            pooled[i]["response"]["outcome"] for i in refused
        ]
    finally:
        await pool.close()
        await engine.dispose()


_POOL_THEN_WAIT = """
import asyncio, multiprocessing, pathlib, sys
from integrations.fhir_store.validation_pool import ValidationPool

async def main() -> None:
    pool = ValidationPool()  # held: a dropped executor would stop its workers itself
    assert await pool.start()
    pids = " ".join(str(worker.pid) for worker in multiprocessing.active_children())
    pathlib.Path(sys.argv[1]).write_text(pids)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return not any(line.split()[:2] == ["State:", "Z"] for line in status)
    except FileNotFoundError:
        return False


async def _poll(condition: Callable[[], bool]) -> bool:
    for _ in range(300):
        if condition():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_workers_exit_when_the_server_is_killed(tmp_path: Path) -> None:
    # SIGTERM without a handler skips on_cleanup: the workers must still go
    pids = tmp_path / "workers"
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _POOL_THEN_WAIT,
        str(pids),
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert await _poll(pids.exists)
        workers = [int(pid) for pid in pids.read_text().split()]
        assert workers
    finally:
        server.terminate()
        await server.wait()
    gone = await _poll(lambda: not any(_running(pid) for pid in workers))
    for pid in filter(_running, workers):
        os.kill(pid, signal.SIGKILL)  # a failing run leaves no orphan either
    assert gone
