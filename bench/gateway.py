"""Gateway benchmarks: decode rate, notification-to-stored latency, sustained upload rate.

Prints one JSON line per figure. The embedded FHIR store (SQLite) runs as its own process
on a free loopback port (started by this script with `--serve-store`), as it would on a
different machine than a bedside gateway. Baselines measured in the same run:

- decode: the same loop over the same frames doing only `len(frame)` (harness cost), and
  the mixed-frame rate against it;
- throughput: the same Observations posted straight to the store with `FhirClient`
  (transaction bundles of conditional creates, no gateway), so the ratio is the cost of
  the gateway (SQLite buffer, mapping, outbox) over the store's own limit.

Targets (issue 4): p95 latency <= 2 s; >= 2,000 readings/s into the embedded store;
>= 200,000 decoded frames/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from gateway.buffer import FrameBuffer  # noqa: E402
from gateway.clock import WallClock  # noqa: E402
from gateway.codes import CharacteristicUuid  # noqa: E402
from gateway.decoders import decode  # noqa: E402
from gateway.frames import Frame  # noqa: E402
from gateway.pairing import pair_device  # noqa: E402
from gateway.service import GatewayOptions, GatewayService  # noqa: E402
from gateway.simulator import Profile, Schedule, VirtualDevice, device_frames  # noqa: E402
from gateway.uploader import transaction_bundle  # noqa: E402
from integrations.fhir import BearerAuth, FhirClient  # noqa: E402
from tests.corpora import corpus  # noqa: E402

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
VECTORS = corpus("ble_gatt", "gatt_vectors_nordic.json")


def emit(record: dict[str, Any]) -> None:
    """One JSON line."""
    print(json.dumps(record), flush=True)


# ---- decode ---------------------------------------------------------------------------


def _decode_corpus() -> list[tuple[CharacteristicUuid, bytes]]:
    frames: list[tuple[CharacteristicUuid, bytes]] = []
    for v in json.loads(VECTORS.read_text())["vectors"]:
        if v["valid"]:
            frames.append(
                (CharacteristicUuid(int(v["uuid16"], 16)), bytes.fromhex(v["payload_hex"]))
            )
    schedule = Schedule(
        blood_pressure_every_s=60,
        temperature_every_s=60,
        weight_every_s=60,
        glucose_every_s=60,
        spot_check_every_s=30,
    )
    for index, profile in enumerate(Profile):
        device = VirtualDevice(f"C0:FF:EE:00:40:{index:02X}", profile, seed=index)
        for frame in device_frames(device, T0, T0 + timedelta(minutes=10), schedule):
            frames.append((frame.uuid, frame.data))
    return frames


def bench_decode(seconds: float, repeats: int = 7) -> None:
    """Decode rate of a realistic frame mix; best and median of `repeats` short runs.

    The machine is shared, so the best run (least disturbed, as `timeit` reports) is the
    figure; the median and the same-run `len()` loop baseline show the disturbance.
    """
    frames = _decode_corpus()

    def rate(body: Any) -> float:
        count = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds / repeats:
            for uuid, data in frames:
                body(uuid, data)
            count += len(frames)
        return count / (time.perf_counter() - start)

    baselines: list[float] = []
    rates: list[float] = []
    for _ in range(repeats):
        baselines.append(rate(lambda _u, d: len(d)))
        rates.append(rate(decode))
    best = max(rates)
    emit(
        {
            "bench": "gateway.decode",
            "frames_per_s": round(best),
            "median_frames_per_s": round(statistics.median(rates)),
            "frames_in_mix": len(frames),
            "baseline_len_loop_per_s": round(max(baselines)),
            "ratio_to_baseline": round(best / max(baselines), 4),
            "target_per_s": 200_000,
            "meets_target": best >= 200_000,
        }
    )
    by_uuid: dict[CharacteristicUuid, list[bytes]] = {}
    for uuid, data in frames:
        by_uuid.setdefault(uuid, []).append(data)
    for uuid, payloads in sorted(by_uuid.items()):
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds / 4:
            for data in payloads:
                decode(uuid, data)
            n += len(payloads)
        emit(
            {
                "bench": "gateway.decode.by_characteristic",
                "uuid": f"0x{uuid:04X}",
                "name": uuid.name.lower(),
                "frames_per_s": round(n / (time.perf_counter() - start)),
            }
        )


# ---- the store in its own process --------------------------------------------------


async def serve_store(db: str) -> None:
    """Child mode: migrate, register clients, serve the store; print port and tokens."""
    from aiohttp import web

    from integrations.fhir_store import create_fhir_app, ensure_client
    from integrations.persistence.database import create_engine, create_sessionmaker
    from integrations.persistence.migrate import migrate

    url = f"sqlite+aiosqlite:///{db}"
    await migrate(url)
    sessionmaker = create_sessionmaker(create_engine(url))
    root = web.Application(client_max_size=64 * 1024 * 1024)
    root.add_subapp("/fhir", create_fhir_app(sessionmaker, max_body=64 * 1024 * 1024))
    runner = web.AppRunner(root, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    writer = await ensure_client(
        sessionmaker, "gateway", "system/Observation.write system/Device.write"
    )
    reader = await ensure_client(sessionmaker, "reader", "system/*.read")
    print(json.dumps({"port": port, "token": writer, "reader": reader}), flush=True)
    await asyncio.Event().wait()


class StoreProcess:
    """A store process on a fresh SQLite file."""

    def __init__(self, workdir: Path, name: str) -> None:
        self.db = workdir / f"{name}.db"
        self.process: subprocess.Popen[str] | None = None
        self.base = ""
        self.token = ""
        self.reader = ""

    def __enter__(self) -> StoreProcess:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-store", str(self.db)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "CAREBOT_LOG_LEVEL": "WARNING"},
        )
        assert self.process.stdout is not None
        info = json.loads(self.process.stdout.readline())
        self.base = f"http://127.0.0.1:{info['port']}/fhir"
        self.token, self.reader = info["token"], info["reader"]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


async def _count(http: httpx.AsyncClient, store: StoreProcess) -> int:
    client = FhirClient(store.base, http=http, auth=BearerAuth(store.reader))
    _, body = await client.request_json("GET", "Observation", params=[("_summary", "count")])
    return int((body or {}).get("total", 0))


# ---- latency --------------------------------------------------------------------------


def _bp_frames(devices: int, seconds: float, rate_per_device: float) -> list[Frame]:
    schedule = Schedule(blood_pressure_every_s=1 / rate_per_device)
    frames: list[Frame] = []
    for index in range(devices):
        device = VirtualDevice(
            f"C0:FF:EE:01:{index // 256:02X}:{index % 256:02X}", Profile.BLOOD_PRESSURE, seed=index
        )
        frames += [
            f
            for f in device_frames(device, T0, T0 + timedelta(seconds=seconds), schedule)
            if f.uuid is CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT
        ]
    return sorted(frames, key=lambda f: f.received_at)


async def bench_latency(workdir: Path, seconds: float, readings_per_s: float) -> None:
    """Spot readings arrive at a steady rate; time from the notification to the store's commit."""
    devices = 10
    frames = _bp_frames(devices, seconds * 3, readings_per_s / devices)[
        : int(seconds * readings_per_s)
    ]
    with StoreProcess(workdir, "latency") as store:
        async with httpx.AsyncClient(timeout=60) as http:
            buffer = FrameBuffer(workdir / "latency-gateway.db")
            for address in sorted({f.device for f in frames}):
                pair_device(buffer, address, "pat-bench", T0)
            client = FhirClient(store.base, http=http, auth=BearerAuth(store.token))
            service = GatewayService(
                buffer, client, WallClock(), GatewayOptions(pump_interval_s=0.05)
            )
            stop = asyncio.Event()
            pump = asyncio.create_task(service.pump(stop))
            start = time.perf_counter()
            for index, frame in enumerate(frames):
                delay = start + index / readings_per_s - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await service.store_frame(frame)  # the notification arrives
            for _ in range(6000):  # drain: at most five minutes
                counts = buffer.counts()
                if not counts.outbox_pending and not counts.unmapped_frames:
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await pump
            latencies = sorted(buffer.upload_latencies())
            stored = await _count(http, store)
            buffer.close()
    q = statistics.quantiles(latencies, n=100)
    emit(
        {
            "bench": "gateway.latency",
            "readings": len(frames),
            "readings_per_s_offered": readings_per_s,
            "observations_stored": stored,
            "p50_s": round(q[49], 4),
            "p95_s": round(q[94], 4),
            "max_s": round(latencies[-1], 4),
            "target_p95_s": 2.0,
            "meets_target": q[94] <= 2.0,
            "measured": "store_frame (notification handler) to the store's 200 for the bundle holding it",
        }
    )


# ---- throughput -----------------------------------------------------------------------


async def bench_throughput(workdir: Path, readings: int, batch: int) -> None:
    """A backlog of spot readings (2 Observations each) drains into the store; plus HR streams."""
    frames = _bp_frames(50, 3600 * 6, readings / 50 / (3600 * 6))[:readings]
    # Baseline: the same Observations, posted straight to a fresh store (no gateway).
    from gateway.buffer import OutboxItem
    from gateway.frames import DeviceBinding
    from gateway.mapping import frames_to_observations
    from gateway.pairing import device_id_for

    items: list[OutboxItem] = []
    for address in sorted({f.device for f in frames}):
        binding = DeviceBinding(address, "pat-bench", device_id_for(address))
        for r in frames_to_observations([f for f in frames if f.device == address], binding):
            items.append(OutboxItem(0, r.identifier, "Observation", "POST", r.resource_json, 0.0))
    with StoreProcess(workdir, "baseline") as store:
        async with httpx.AsyncClient(timeout=120) as http:
            client = FhirClient(store.base, http=http, auth=BearerAuth(store.token))
            start = time.perf_counter()
            for i in range(0, len(items), batch):
                await client.post_bundle_json(transaction_bundle(items[i : i + batch]))
            baseline_s = time.perf_counter() - start
            assert await _count(http, store) == len(items)
    baseline_obs = len(items) / baseline_s
    with StoreProcess(workdir, "gateway") as store:
        async with httpx.AsyncClient(timeout=120) as http:
            buffer = FrameBuffer(workdir / "throughput-gateway.db")
            for address in sorted({f.device for f in frames}):
                pair_device(buffer, address, "pat-bench", T0)
            client = FhirClient(store.base, http=http, auth=BearerAuth(store.token))
            service = GatewayService(buffer, client, WallClock(), GatewayOptions(batch_size=batch))
            start = time.perf_counter()
            for frame in frames:
                await service.store_frame(frame)
            await service.pump_once()
            gateway_s = time.perf_counter() - start
            stored = await _count(http, store)
            buffer.close()
    emit(
        {
            "bench": "gateway.throughput.spot",
            "readings": len(frames),
            "observations": stored,
            "readings_per_s": round(len(frames) / gateway_s),
            "observations_per_s": round(stored / gateway_s),
            "baseline_direct_post_observations_per_s": round(baseline_obs),
            "ratio_to_baseline": round((stored / gateway_s) / baseline_obs, 3),
            "target_readings_per_s": 2000,
            "meets_target": len(frames) / gateway_s >= 2000,
            "note": "1 BP reading = panel + pulse Observation; bundles of conditional creates",
        }
    )


async def bench_stream(workdir: Path, devices: int, speed: float, sim_minutes: int) -> None:
    """Sustained 1 Hz heart-rate streams from many straps, fed in (scaled) real time."""
    from gateway.clock import ScaledClock

    frames: list[Frame] = []
    for index in range(devices):
        device = VirtualDevice(
            f"C0:FF:EE:02:{index // 256:02X}:{index % 256:02X}", Profile.HEART_RATE, seed=index
        )
        frames += list(device_frames(device, T0, T0 + timedelta(minutes=sim_minutes)))
    frames.sort(key=lambda f: f.received_at)
    with StoreProcess(workdir, "stream") as store:
        async with httpx.AsyncClient(timeout=120) as http:
            buffer = FrameBuffer(workdir / "stream-gateway.db")
            for address in sorted({f.device for f in frames}):
                pair_device(buffer, address, "pat-bench", T0)
            client = FhirClient(store.base, http=http, auth=BearerAuth(store.token))
            wall_origin = time.time() + 0.5
            clock = ScaledClock(T0, speed, wall_origin)
            service = GatewayService(buffer, client, clock, GatewayOptions(pump_interval_s=0.05))
            stop = asyncio.Event()
            pump = asyncio.create_task(service.pump(stop))
            await asyncio.sleep(max(0.0, wall_origin - time.time()))
            behind = 0.0
            for frame in frames:
                due = wall_origin + (frame.received_at - T0).total_seconds() / speed
                delay = due - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    behind = max(behind, -delay)
                await service.store_frame(frame)  # the notification arrives
            fed = time.time()
            feed_s = fed - wall_origin
            for _ in range(6000):
                counts = buffer.counts()
                if not counts.outbox_pending and not counts.unmapped_frames:
                    break
                await asyncio.sleep(0.05)
            drain_s = time.time() - fed
            stop.set()
            await pump
            stored = await _count(http, store)
            buffer.close()
    rate = len(frames) / feed_s
    emit(
        {
            "bench": "gateway.throughput.stream",
            "devices": devices,
            "notifications": len(frames),
            "offered_per_s": round(devices * speed),
            "readings_per_s": round(rate),
            "max_feed_lag_s": round(behind, 3),
            "drain_after_last_s": round(drain_s, 3),
            "observations_stored": stored,
            "target_readings_per_s": 2000,
            "meets_target": rate >= 2000 and behind < 2.0,
            "note": "1 Hz heart-rate notifications (clock x speed), each stored before ack, "
            "mapped to per-minute Observations and uploaded while the feed runs",
        }
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the gateway benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve-store", help=argparse.SUPPRESS)
    parser.add_argument("--decode-seconds", type=float, default=2.0)
    parser.add_argument("--latency-seconds", type=float, default=15.0)
    parser.add_argument("--latency-rate", type=float, default=20.0, help="readings per second")
    parser.add_argument("--readings", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--stream-devices", type=int, default=100)
    parser.add_argument("--stream-speed", type=float, default=30.0, help="x real time")
    parser.add_argument("--stream-minutes", type=int, default=10, help="simulated minutes")
    args = parser.parse_args(argv)
    if args.serve_store:
        asyncio.run(serve_store(args.serve_store))
        return 0
    bench_decode(args.decode_seconds)
    with tempfile.TemporaryDirectory(prefix="carebot-bench-gateway-") as tmp:
        asyncio.run(bench_latency(Path(tmp), args.latency_seconds, args.latency_rate))
        asyncio.run(bench_throughput(Path(tmp), args.readings, args.batch))
        asyncio.run(
            bench_stream(Path(tmp), args.stream_devices, args.stream_speed, args.stream_minutes)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
