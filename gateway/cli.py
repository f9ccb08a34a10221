"""`carebot-gateway`: decode a GATT frame, scan, pair, run and watch the BLE gateway.

The gateway runs alone on the box next to the patient: it needs a FHIR base URL and a
bearer token (`CAREBOT_GATEWAY_FHIR_URL`, `CAREBOT_GATEWAY_FHIR_TOKEN`, or `--fhir-url`
and `--token`) and nothing of the service. `carebot gateway ...` is the same command,
with the service's own FHIR store as the default target (`bot/cli.py`).

carebot-gateway decode --uuid 2A35 1e8a0058...       JSON, or exit 2 for a bad frame
carebot-gateway scan [--simulate --patient P]         devices advertising health services
carebot-gateway pair ADDRESS PATIENT_ID               bind; quarantined readings then flow
carebot-gateway run [--simulate --patient P ...]      run until Ctrl-C / SIGTERM
carebot-gateway --simulate                            the same as `run --simulate`
carebot-gateway status [--json]                       devices, last reading, depth, lag
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.codes import ServiceUuid, parse_characteristic_uuid
from gateway.decoders import DecodeError, decode
from gateway.settings import GatewaySettings
from gateway.to_json import to_json_text
from integrations.command_exit import run_command

EXIT_INVALID_FRAME = 2
EXIT_USAGE = 2
DEFAULT_SIM_PATIENT = "demo-patient"

FhirTarget = tuple[str, str]  # FHIR base URL (no trailing slash), bearer token
FhirResolver = Callable[[GatewaySettings], Awaitable[FhirTarget]]
BufferDefault = Callable[[], Path]  # called only when a command runs


class MissingFhirTarget(Exception):
    """`run` was asked to upload without a FHIR base URL or token."""


async def given_fhir(settings: GatewaySettings) -> FhirTarget:
    """The FHIR base URL and token from the settings or options; both are required."""
    missing = [
        name
        for name, value in (
            ("CAREBOT_GATEWAY_FHIR_URL (--fhir-url)", settings.fhir_url),
            ("CAREBOT_GATEWAY_FHIR_TOKEN (--token)", settings.fhir_token),
        )
        if not value
    ]
    if missing:
        raise MissingFhirTarget("set " + " and ".join(missing))
    return settings.fhir_url.rstrip("/"), settings.fhir_token


def _cmd_decode(args: argparse.Namespace) -> int:
    try:
        uuid = parse_characteristic_uuid(args.uuid)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID_FRAME
    text = "".join(args.hex).replace(":", "").replace(" ", "")
    try:
        data = bytes.fromhex(text)
    except ValueError:
        print(f"error: not hexadecimal: {text!r}", file=sys.stderr)
        return EXIT_INVALID_FRAME
    try:
        decoded = decode(uuid, data)
    except DecodeError as error:
        print(f"error: invalid frame: {error}", file=sys.stderr)
        return EXIT_INVALID_FRAME
    print(to_json_text(decoded))
    return 0


def _settings(args: argparse.Namespace) -> GatewaySettings:
    overrides: dict[str, Any] = {}
    if getattr(args, "buffer", None):
        overrides["buffer_path"] = Path(args.buffer)
    if getattr(args, "fhir_url", None):
        overrides["fhir_url"] = args.fhir_url
    if getattr(args, "token", None):
        overrides["fhir_token"] = args.token
    settings = GatewaySettings(**overrides)
    default_buffer: BufferDefault | None = args.default_buffer
    if default_buffer is not None and "buffer_path" not in settings.model_fields_set:
        # neither --buffer nor CAREBOT_GATEWAY_BUFFER_PATH: the caller's default place
        settings = settings.model_copy(update={"buffer_path": default_buffer()})
    return settings


def _cmd_scan(args: argparse.Namespace) -> int:
    from gateway.link import BleLink

    async def scan() -> int:
        link: BleLink
        if args.simulate:
            from gateway.clock import WallClock
            from gateway.simulated_gateway import demo_devices
            from gateway.simulated_link import SimulatedLink

            devices = [d for p in args.patient or [DEFAULT_SIM_PATIENT] for d in demo_devices(p)]
            link = SimulatedLink(devices, WallClock())
        else:
            from gateway.bleak_link import BleakLink

            link = BleakLink(_settings(args).adapter or None)
        found = await link.scan(list(ServiceUuid), args.timeout)
        for adv in found:
            services = ",".join(s.name.lower() for s in adv.services) or "-"
            print(
                f"{adv.address}  {adv.rssi if adv.rssi is not None else '?':>4}  {services:<30} {adv.name}"
            )
        if not found:
            print("no health devices found")
        return 0

    return asyncio.run(scan())


def _cmd_pair(args: argparse.Namespace) -> int:
    from gateway.buffer import FrameBuffer
    from gateway.pairing import pair_device, unpair_device

    buffer = FrameBuffer(_settings(args).buffer_path)
    try:
        now = datetime.now(UTC)
        if args.unpair:
            unpair_device(buffer, args.address, now)
            print(f"{args.address} unpaired; its readings will wait in quarantine")
            return 0
        if not args.patient_id:
            print("error: PATIENT_ID is required", file=sys.stderr)
            return 2
        waiting = sum(n for d, n, _, _ in buffer.quarantine() if d == args.address.upper())
        binding = pair_device(buffer, args.address, args.patient_id, now, args.name or "")
        print(
            f"{binding.address} paired to Patient/{binding.patient_id} as Device/{binding.device_id}"
            f" ({waiting} quarantined readings will upload)"
        )
        return 0
    finally:
        buffer.close()


def _status_json(settings: GatewaySettings) -> dict[str, Any]:
    from gateway.buffer import FrameBuffer

    buffer = FrameBuffer(settings.buffer_path)
    try:
        counts = buffer.counts()
        now = time.time()
        return {
            "buffer": str(settings.buffer_path),
            "devices": [
                {
                    "address": d.address,
                    "name": d.name,
                    "manufacturer": d.manufacturer,
                    "model": d.model,
                    "patient": d.patient_id,
                    "device": d.device_id,
                    "connected": d.connected,
                    "last_seen": d.last_seen,
                    "last_reading_at": d.last_reading_at,
                    "last_reading": d.last_reading,
                }
                for d in buffer.devices()
            ],
            "buffer_depth": {
                "frames_unmapped": counts.unmapped_frames,
                "frames_quarantined": counts.quarantined_frames,
                "outbox_pending": counts.outbox_pending,
                "outbox_rejected": counts.outbox_rejected,
                "uploaded": counts.uploaded,
                "undecodable_frames": buffer.undecodable(),
            },
            "upload_lag_s": (
                round(now - counts.oldest_pending_wall, 3)
                if counts.oldest_pending_wall is not None
                else 0.0
            ),
            "quarantine": [
                {"address": d, "frames": n, "first": a, "last": b}
                for d, n, a, b in buffer.quarantine()
            ],
            "rejected": [{"identifier": i, "reason": r} for i, r in buffer.rejected()],
            "last_upload_error": buffer.state("last_upload_error") or None,
        }
    finally:
        buffer.close()


def _print_status(status: dict[str, Any]) -> None:
    depth = status["buffer_depth"]
    print(
        f"buffer {status['buffer']}: {depth['outbox_pending']} to upload,"
        f" {depth['frames_unmapped']} frames not yet mapped"
        f" ({depth['frames_quarantined']} in quarantine), {depth['uploaded']} uploaded,"
        f" upload lag {status['upload_lag_s']:.1f} s"
    )
    if status["last_upload_error"]:
        print(f"last upload error: {status['last_upload_error']}")
    for d in status["devices"]:
        state = "connected" if d["connected"] else "offline"
        patient = f"Patient/{d['patient']}" if d["patient"] else "UNPAIRED"
        print(f"  {d['address']}  {state:<9} {patient:<24} {d['model'] or d['name']}")
        if d["last_reading_at"]:
            print(f"      last reading {d['last_reading_at']}: {d['last_reading']}")
    for q in status["quarantine"]:
        print(f"  quarantine {q['address']}: {q['frames']} frames {q['first']} .. {q['last']}")
    for r in status["rejected"]:
        print(f"  rejected {r['identifier']}: {r['reason']}")


def _cmd_status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not settings.buffer_path.exists():  # a look creates nothing
        print(
            f"error: no gateway buffer at {settings.buffer_path} (nothing paired or run yet;"
            " --buffer or CAREBOT_GATEWAY_BUFFER_PATH name another)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.watch:
        try:
            while True:
                print("\033[2J\033[H", end="")
                _print_status(_status_json(settings))
                time.sleep(args.watch)
        except KeyboardInterrupt:
            return 0
    status = _status_json(settings)
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        _print_status(status)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from gateway.clock import Clock, ScaledClock, WallClock
    from gateway.service import GatewayOptions

    settings = _settings(args)
    options = GatewayOptions(
        group_mode=settings.group_mode,
        batch_size=settings.batch_size,
        upload_backoff_max_s=args.upload_backoff_max,
        pump_interval_s=args.pump_interval,
    )

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        resolve: FhirResolver = args.resolve_fhir
        try:
            url, token = await resolve(settings)
        except MissingFhirTarget as error:
            print(f"error: no FHIR server to upload to: {error}", file=sys.stderr)
            return EXIT_USAGE
        if args.simulate:
            from gateway.simulated_gateway import SCHEDULES, run_simulated_gateway

            clock: Clock = WallClock()
            speed = args.speed or settings.simulate_speed
            if args.sim_start or speed != 1.0:
                origin = (
                    datetime.fromisoformat(args.sim_start) if args.sim_start else datetime.now(UTC)
                )
                clock = ScaledClock(origin, speed, args.wall_origin)
            end = datetime.fromisoformat(args.session_end) if args.session_end else None
            await run_simulated_gateway(
                fhir_base_url=url,
                token=token,
                patient_ids=args.patient or [DEFAULT_SIM_PATIENT],
                buffer_path=settings.buffer_path,
                clock=clock,
                schedule=SCHEDULES[args.schedule],
                options=options,
                stop=stop,
                session_start=datetime.fromisoformat(args.sim_start) if args.sim_start else None,
                session_end=end,
                device_log=Path(args.device_log) if args.device_log else None,
            )
            return 0
        import httpx

        from gateway.bleak_link import BleakLink
        from gateway.buffer import FrameBuffer
        from gateway.service import GatewayService
        from integrations.fhir import BearerAuth, FhirClient

        buffer = FrameBuffer(settings.buffer_path)
        from gateway.pairing import normalize_address

        addresses = [normalize_address(a) for a in args.address or []] or [
            d.address for d in buffer.devices() if d.patient_id
        ]
        if not addresses:
            print(
                "error: no paired devices; use `carebot-gateway pair` or --address", file=sys.stderr
            )
            return 2
        async with httpx.AsyncClient(timeout=30) as http:
            client = FhirClient(url, http=http, auth=BearerAuth(token))
            service = GatewayService(buffer, client, WallClock(), options)
            await service.run(BleakLink(settings.adapter or None), addresses, stop)
        buffer.close()
        return 0

    return asyncio.run(run())


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--buffer", help="buffer file (default CAREBOT_GATEWAY_BUFFER_PATH)")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fhir-url", help="FHIR base URL (default CAREBOT_GATEWAY_FHIR_URL)")
    parser.add_argument("--token", help="bearer token (default CAREBOT_GATEWAY_FHIR_TOKEN)")
    parser.add_argument("--address", action="append", help="device address (repeatable)")
    parser.add_argument("--patient", action="append", help="simulated patient id (repeatable)")
    parser.add_argument(
        "--schedule",
        choices=["demo", "fast", "realistic"],
        default="demo",
        help="how often the simulated devices measure (default demo)",
    )
    parser.add_argument("--speed", type=float, default=0.0, help="simulated clock speed-up")
    parser.add_argument("--sim-start", help="simulated time at --wall-origin (ISO 8601)")
    parser.add_argument("--wall-origin", type=float, default=None, help="epoch of --sim-start")
    parser.add_argument("--session-end", help="simulated devices stop at this time (ISO 8601)")
    parser.add_argument("--device-log", help="virtual devices' record of frames sent and acked")
    parser.add_argument(
        "--upload-backoff-max",
        type=float,
        default=30.0,
        help="longest wait in seconds between failed uploads (default 30)",
    )
    parser.add_argument(
        "--pump-interval",
        type=float,
        default=0.5,
        help="seconds between passes that map buffered frames and upload them (default 0.5)",
    )


def _cmd_gateway(args: argparse.Namespace) -> int:
    if args.simulate:
        args.simulate = True
        return _cmd_run(args)
    print(
        f"usage: {args.gateway_prog} {{decode,scan,pair,run,status}} ... or --simulate",
        file=sys.stderr,
    )
    return EXIT_USAGE


def configure(
    gateway: argparse.ArgumentParser,
    resolve_fhir: FhirResolver = given_fhir,
    default_buffer: BufferDefault | None = None,
) -> None:
    """Add the gateway's options and subcommands to its own parser or to `carebot gateway`.

    `resolve_fhir` turns the settings into the FHIR base URL and token `run` uploads to;
    `default_buffer`, when given, is where the buffer is unless --buffer or
    CAREBOT_GATEWAY_BUFFER_PATH says otherwise.
    """
    gateway.set_defaults(
        gateway_prog=gateway.prog, resolve_fhir=resolve_fhir, default_buffer=default_buffer
    )
    gateway.add_argument("--simulate", action="store_true", help="run simulated devices alone")
    _add_common(gateway)
    _add_run_options(gateway)
    gateway.set_defaults(func=_cmd_gateway)
    commands = gateway.add_subparsers(dest="gateway_command")

    decode_cmd = commands.add_parser("decode", help="decode one GATT frame and print JSON")
    decode_cmd.add_argument("--uuid", required=True, help="characteristic, e.g. 2A35")
    decode_cmd.add_argument("hex", nargs="+", help="frame bytes in hex")
    decode_cmd.set_defaults(func=_cmd_decode)

    scan = commands.add_parser("scan", help="list devices advertising health services")
    scan.add_argument("--timeout", type=float, default=10.0, help="seconds to scan (default 10)")
    scan.add_argument("--simulate", action="store_true", help="list simulated devices instead")
    scan.add_argument("--patient", action="append", help="simulated patient id (repeatable)")
    _add_common(scan)
    scan.set_defaults(func=_cmd_scan)

    pair = commands.add_parser("pair", help="bind a device to a FHIR Patient")
    pair.add_argument("address", help="the device's Bluetooth address, e.g. C0:FF:EE:00:00:01")
    pair.add_argument("patient_id", nargs="?", help="FHIR Patient id (not needed with --unpair)")
    pair.add_argument("--name", default="", help="the patient's own label for the device")
    pair.add_argument("--unpair", action="store_true", help="unbind instead")
    _add_common(pair)
    pair.set_defaults(func=_cmd_pair)

    run = commands.add_parser("run", help="run the gateway (bleak, or --simulate)")
    run.add_argument("--simulate", action="store_true", help="run simulated devices instead")
    _add_common(run)
    _add_run_options(run)
    run.set_defaults(func=_cmd_run)

    status = commands.add_parser("status", help="devices, last reading, buffer depth, upload lag")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.add_argument("--watch", type=float, default=0.0, help="refresh every N seconds")
    _add_common(status)
    status.set_defaults(func=_cmd_status)


def build_parser() -> argparse.ArgumentParser:
    """The `carebot-gateway` argument parser."""
    parser = argparse.ArgumentParser(
        prog="carebot-gateway",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    configure(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `carebot-gateway` console script."""
    args = build_parser().parse_args(argv)
    return run_command("carebot-gateway", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=GatewaySettings().log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
