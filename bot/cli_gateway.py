"""`carebot gateway ...`: decode a GATT frame, scan, pair, run and watch the BLE gateway."""

from __future__ import annotations

import argparse
import sys

from gateway.codes import parse_characteristic_uuid
from gateway.decoders import DecodeError, decode
from gateway.to_json import to_json_text

EXIT_INVALID_FRAME = 2


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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `carebot gateway` and its subcommands."""
    gateway = sub.add_parser("gateway", help="Bluetooth LE health-device gateway")
    commands = gateway.add_subparsers(dest="gateway_command", required=True)
    decode_cmd = commands.add_parser("decode", help="decode one GATT frame and print JSON")
    decode_cmd.add_argument("--uuid", required=True, help="characteristic, e.g. 2A35")
    decode_cmd.add_argument("hex", nargs="+", help="frame bytes in hex")
    decode_cmd.set_defaults(func=_cmd_decode)
