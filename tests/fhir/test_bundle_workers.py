"""Big bundles are answered whole in worker processes, as the event loop answers them."""

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

from integrations.fhir_store import app as app_module
from integrations.fhir_store import bundle_workers
from integrations.fhir_store.app import WORKERS_KEY, create_fhir_app
from integrations.fhir_store.bundle_workers import BundleWorkers, shared_database_url
from integrations.fhir_store.clients import add_client
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate
from tests.fhir.conftest import serve
from tests.fhir.helpers import patient_json, vital_json

ROOT = Path(__file__).resolve().parents[2]
SIZE = 200  # entries of a big bundle: its body is above the workers' inline threshold
JSON = "application/fhir+json"


def _observations(count: int, patient: str = "Patient/p1") -> list[dict[str, Any]]:
    return [
        vital_json(patient, "8867-4", 60 + i % 40, f"2024-03-01T10:{i % 60:02d}:00Z")
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


async def _not_on_the_event_loop(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("answered on the event loop, not in a worker")


def _workers(before: set[multiprocessing.process.BaseProcess]) -> set[Any]:
    return set(multiprocessing.active_children()) - before


@dataclass
class Served:
    """The FHIR app on a loopback port and a client for it."""

    app: web.Application
    base: str
    http: httpx.AsyncClient
    headers: dict[str, str]

    @property
    def workers(self) -> BundleWorkers:
        """The app's bundle workers."""
        return self.app[WORKERS_KEY]

    async def post(self, bundle: dict[str, Any], token: str | None = None) -> httpx.Response:
        """POST BUNDLE to the base URL (with TOKEN instead of the system one if given)."""
        headers = {**self.headers, "Content-Type": JSON}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return await self.http.post(self.base, json=bundle, headers=headers)

    async def count(self, resource_type: str) -> int:
        """How many resources of RESOURCE_TYPE are stored."""
        response = await self.http.get(
            f"{self.base}/{resource_type}?_summary=count", headers=self.headers
        )
        return int(response.json()["total"])


@asynccontextmanager
async def serving(database_url: str) -> AsyncIterator[Served]:
    """Serve the store (closed: a system token); the runner's cleanup runs on_cleanup."""
    await migrate(database_url)
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    token = await add_client(sessionmaker, "bench", "system/*.*")
    app = create_fhir_app(sessionmaker)
    root = web.Application()
    root.add_subapp("/fhir", app)
    runner, url = await serve(root)
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            yield Served(app, f"{url}/fhir", http, {"Authorization": f"Bearer {token}"})
    finally:
        await runner.cleanup()
        await engine.dispose()


async def _answers(served: Served, bundles: list[dict[str, Any]]) -> list[tuple[int, Any]]:
    answers = []
    for bundle in bundles:
        response = await served.post(bundle)
        answers.append((response.status_code, response.json()))
    return answers


def _comparable(answer: tuple[int, Any]) -> tuple[int, Any]:
    # ids and instants differ between runs; the statuses and outcomes must not
    status, body = answer
    if body.get("resourceType") != "Bundle":
        return status, body
    entries = [(e["response"]["status"], e["response"].get("outcome")) for e in body["entry"]]
    return status, (body["type"], entries)


def _cases() -> list[dict[str, Any]]:
    invalid = _observations(SIZE)
    invalid[137]["status"] = "nope"
    not_stored = _observations(SIZE)
    not_stored[20] = {"resourceType": "Basic", "code": {"text": "x"}}
    batch = _observations(SIZE)
    batch[7]["status"] = "nope"
    batch[150]["code"] = {}
    return [
        _bundle("transaction", _observations(SIZE)),
        _bundle("transaction", invalid),
        _bundle("transaction", not_stored),
        _bundle("batch", batch),
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": _bundle("batch", invalid)["entry"],
        },
    ]


async def test_workers_answer_big_bundles_as_the_event_loop_does(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serving(database_url) as served:
        inline = await _answers(served, _cases())  # workers start on the first big bundle
        assert await served.workers.start()
        # from here a big bundle answered in this process fails the request
        monkeypatch.setattr(app_module, "answer_bundle", _not_on_the_event_loop)
        pooled = await _answers(served, _cases())
        assert [a[0] for a in pooled] == [200, 400, 404, 200, 400]
        assert list(map(_comparable, pooled)) == list(map(_comparable, inline))
        refused = pooled[1][1]["issue"][0]
        assert refused["diagnostics"].endswith("'nope' is not in the required value set")
        # the whole transaction and the batch's good entries, twice; nothing else
        assert await served.count("Observation") == 2 * (SIZE + SIZE - 2)
        created = pooled[0][1]["entry"][0]
        read = await served.http.get(f"{served.base}/{created['fullUrl']}", headers=served.headers)
        assert read.json()["meta"]["versionId"] == "1"
        assert read.headers["ETag"] == created["response"]["etag"]


async def test_worker_writes_keep_the_change_feed_in_commit_order(sqlite_url: str) -> None:
    async with serving(sqlite_url) as served:
        assert await served.workers.start()
        big = [_bundle("transaction", _observations(SIZE, f"Patient/p{i}")) for i in range(4)]
        small = [_bundle("transaction", [patient_json(f"small{i}")]) for i in range(6)]
        answers = await asyncio.gather(*(served.post(b) for b in big + small))
        assert [a.status_code for a in answers] == [200] * 10
        feed: list[dict[str, Any]] = []
        url: str | None = f"{served.base}/_history?_sort=_lastUpdated&_count=500"
        while url is not None:
            page = (await served.http.get(url, headers=served.headers)).json()
            feed += page.get("entry", [])
            links = page.get("link", [])
            url = next((link["url"] for link in links if link["relation"] == "next"), None)
        instants = [e["resource"]["meta"]["lastUpdated"] for e in feed]
        assert len(feed) == 4 * SIZE + 6
        assert instants == sorted(instants) and len(set(instants)) == len(instants)
        # each bundle is one commit: its entries are together in the feed
        owners = [e["resource"].get("subject", {}).get("reference", "small") for e in feed]
        runs = [owner for i, owner in enumerate(owners) if i == 0 or owners[i - 1] != owner]
        assert sorted(r for r in runs if r != "small") == [f"Patient/p{i}" for i in range(4)]


async def test_patient_tokens_are_refused_in_workers_too(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serving(sqlite_url) as served:
        assert await served.workers.start()
        monkeypatch.setattr(app_module, "answer_bundle", _not_on_the_event_loop)
        sessionmaker = served.app[app_module.STORE_KEY].sessionmaker
        token = await add_client(sessionmaker, "portal", "patient/*.*", patient="Patient/p1")
        refused = await served.post(_bundle("transaction", _observations(SIZE)), token)
        assert refused.status_code == 403
        assert "patient tokens cannot post bundles" in refused.text
        assert await served.count("Observation") == 0


async def test_workers_start_for_big_bundles_only_and_stop_at_cleanup(sqlite_url: str) -> None:
    before = set(multiprocessing.active_children())
    async with serving(sqlite_url) as served:
        small = await served.post(_bundle("transaction", _observations(10)))
        assert small.status_code == 200
        assert _workers(before) == set()
        assert await served.workers.start()
        workers = _workers(before)
        assert len(workers) == served.workers.workers
    assert not any(worker.is_alive() for worker in workers)
    assert _workers(before) == set()


def test_in_memory_databases_have_no_workers() -> None:
    assert shared_database_url(create_engine("sqlite+aiosqlite://")) is None
    assert shared_database_url(create_engine("sqlite+aiosqlite:///:memory:")) is None
    url = "sqlite+aiosqlite:////var/lib/carebot/fhir.db"
    assert shared_database_url(create_engine(url)) == url


async def test_broken_workers_fall_back_to_the_event_loop_and_log_once(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = set(multiprocessing.active_children())
    async with serving(sqlite_url) as served:
        assert await served.workers.start()
        for worker in _workers(before):
            os.kill(worker.pid, signal.SIGKILL)
            worker.join()
        with caplog.at_level(logging.ERROR, logger=bundle_workers.__name__):
            answers = [await served.post(_bundle("transaction", _observations(SIZE)))]
            for _ in range(2):
                answers.append(await served.post(_bundle("transaction", _observations(SIZE))))
        # the first may have met the dead pool mid-call: refused, since it may have been
        # applied; the pool is then given up and the rest are answered on the event loop
        statuses = [a.status_code for a in answers]
        assert statuses[1:] == [200, 200] and statuses[0] in (200, 500)
        assert await served.count("Observation") == SIZE * statuses.count(200)
    assert [r.name for r in caplog.records] == [bundle_workers.__name__]
    assert "answering bundles inline" in caplog.records[0].getMessage()


_WORKERS_THEN_WAIT = """
import asyncio, multiprocessing, pathlib, sys
from integrations.fhir_store.bundle_workers import BundleWorkers
from integrations.persistence.migrate import migrate

async def main() -> None:
    await migrate(sys.argv[2])
    workers = BundleWorkers(sys.argv[2])  # held: a dropped executor would stop them itself
    assert await workers.start()
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


async def test_workers_exit_when_the_server_is_killed(tmp_path: Path, sqlite_url: str) -> None:
    # SIGTERM without a handler skips on_cleanup: the workers must still go
    pids = tmp_path / "workers"
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _WORKERS_THEN_WAIT,
        str(pids),
        sqlite_url,
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
