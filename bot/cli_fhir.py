"""`carebot fhir`: run the embedded FHIR store alone, manage its clients, import data."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    from integrations.fhir_store.server import run_fhir_server

    settings = Settings()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            run_fhir_server(
                settings.resolved_database_url,
                args.host or settings.host,
                args.port if args.port is not None else settings.port,
                settings.subscription_policy(),
            )
        )
    return 0


async def _with_db(
    settings: Settings,
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    from integrations.persistence.database import create_engine, create_sessionmaker
    from integrations.persistence.migrate import migrate

    await migrate(settings.resolved_database_url)
    engine = create_engine(settings.resolved_database_url)
    return engine, create_sessionmaker(engine)


_TTL = re.compile(r"^(\d+)([smhd]?)$")
_TTL_UNITS = {"s": 1, "": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> timedelta:
    """A token lifetime: a number of seconds, or with a unit: 90m, 12h, 30d."""
    match = _TTL.match(text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration (e.g. 3600, 90m, 12h, 30d): {text!r}")
    return timedelta(seconds=int(match.group(1)) * _TTL_UNITS[match.group(2)])


def smart_registration(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of `add_smart_client` from `clients add`; ValueError when the
    JWKS file cannot be read or the options do not fit a SMART client."""
    from integrations.fhir_store.scopes import split_scopes
    from integrations.fhir_store.smart_clients import check_jwks, check_redirect_uri

    if args.patient:
        raise ValueError("a SMART client is bound to no patient: the patient signs in")
    split_scopes(args.scopes)
    for uri in args.redirect_uri:
        check_redirect_uri(uri)
    out: dict[str, Any] = {
        "name": args.name,
        "scopes": args.scopes,
        "redirect_uris": tuple(args.redirect_uri),
    }
    if args.jwks and args.jwks.startswith(("https://", "http://")):
        out["jwks_url"] = args.jwks
    elif args.jwks:
        try:
            out["jwks"] = check_jwks(json.loads(Path(args.jwks).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"cannot read the JWKS file {args.jwks}: {error}") from error
    return out


def _clients(args: argparse.Namespace) -> int:
    from integrations.fhir_store.clients import (
        DEFAULT_TOKEN_TTL,
        add_client,
        list_clients,
        normalize_patient,
        revoke_client,
    )
    from integrations.fhir_store.scopes import checked_scopes
    from integrations.fhir_store.smart_clients import add_smart_client
    from integrations.persistence.database import close_engine

    smart = args.clients_command == "add" and (args.redirect_uri or args.jwks)
    if args.clients_command == "add":
        try:  # bad scopes are refused before anything is opened
            if smart:
                smart_registration(args)
            else:
                checked_scopes(args.scopes, normalize_patient(args.patient))
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    async def run() -> int:
        engine, sessionmaker = await _with_db(Settings())
        try:
            if smart:
                try:
                    client_id = await add_smart_client(sessionmaker, **smart_registration(args))
                except ValueError as error:
                    print(f"error: {error}", file=sys.stderr)
                    return 2
                print(client_id)
            elif args.clients_command == "add":
                try:
                    token = await add_client(
                        sessionmaker,
                        args.name,
                        args.scopes,
                        args.patient,
                        ttl=args.ttl if args.ttl is not None else DEFAULT_TOKEN_TTL,
                    )
                except ValueError as error:
                    print(f"error: {error}", file=sys.stderr)
                    return 2
                print(token)
            elif args.clients_command == "list":
                for client in await list_clients(sessionmaker):
                    state = "revoked" if client.revoked_at else "active"
                    patient = f" patient={client.patient}" if client.patient else ""
                    smart_info = "".join(
                        f" {label}={value}"
                        for label, value in (
                            ("client_id", client.id if client.smart else None),
                            ("redirect_uris", client.redirect_uris),
                            ("jwks", client.jwks),
                        )
                        if value
                    )
                    print(f"{client.name}\t{state}\t{client.scopes}{patient}{smart_info}")
            else:
                if not await revoke_client(sessionmaker, args.name):
                    print(f"error: no active client named {args.name!r}", file=sys.stderr)
                    return 2
                print(f"revoked {args.name}", file=sys.stderr)
            return 0
        finally:
            await close_engine(engine)

    return asyncio.run(run())


def _import(args: argparse.Namespace) -> int:
    from integrations.fhir_store.importer import Importer
    from integrations.fhir_store.outcome import StoreError
    from integrations.persistence.database import close_engine

    async def run() -> int:
        engine, sessionmaker = await _with_db(Settings())
        importer = Importer(sessionmaker)
        try:
            for name in args.files:
                try:
                    report = await importer.import_file(Path(name))
                except StoreError as error:
                    # the newline ends the progress bar's line
                    print(f"\nerror: {name}: {error.status} {error.diagnostics}", file=sys.stderr)
                    return 2
                print(
                    f"{report.path}: loaded {report.loaded}, already done {report.skipped}",
                    file=sys.stderr,
                )
            return 0
        finally:
            await close_engine(engine)

    return asyncio.run(run())


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `carebot fhir` and its subcommands."""
    fhir = sub.add_parser(
        "fhir",
        help="the embedded FHIR R4 store: run it alone (no subcommand), clients, import",
        description="Without a subcommand, run the embedded FHIR R4 store alone.",
    )
    fhir.add_argument(
        "--host", default="", help="address the store listens on (default CAREBOT_HOST)"
    )
    fhir.add_argument(
        "--port", type=int, default=None, help="port the store listens on (default CAREBOT_PORT)"
    )
    fhir.set_defaults(func=_serve)
    commands = fhir.add_subparsers(dest="fhir_command")
    clients = commands.add_parser("clients", help="API clients and their bearer tokens")
    client_commands = clients.add_subparsers(dest="clients_command", required=True)
    add = client_commands.add_parser(
        "add",
        help="register a client; prints its token, or a SMART client's client_id",
        description="With --redirect-uri (an app: SMART App Launch, PKCE) or --jwks (a "
        "backend service or confidential app: private_key_jwt), a SMART client that gets "
        "its tokens from /auth/token, at most its --scope; otherwise a client with a bearer "
        "token printed now.",
    )
    add.add_argument("name", help="the client's name, unique")
    add.add_argument(
        "--scopes",
        "--scope",
        required=True,
        help="SMART scopes, e.g. 'system/*.read' or 'launch/patient openid fhirUser "
        "offline_access patient/*.rs'",
    )
    add.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="a SMART app's redirect URI, matched exactly (repeatable)",
    )
    add.add_argument(
        "--jwks", default=None, help="the client's public JWKS: a JSON file or an https URL"
    )
    add.add_argument("--patient", default=None, help="bind patient/ scopes to this Patient id")
    add.add_argument(
        "--ttl",
        type=parse_ttl,
        default=None,
        help="how long the token is valid: seconds, or 90m, 12h, 30d (default 30d, at most 366d)",
    )
    client_commands.add_parser("list", help="list clients")
    for command in ("revoke", "remove"):
        revoke = client_commands.add_parser(command, help="revoke a client and all its tokens")
        revoke.add_argument("name", help="the client's name")
    clients.set_defaults(func=_clients)
    load = commands.add_parser("import", help="load FHIR bundles (.json) or NDJSON (.ndjson)")
    load.add_argument("files", nargs="+", help="files to load, in order; done ones are skipped")
    load.set_defaults(func=_import)
