"""`carebot iomt`: the IoMT connector's sources, templates and status."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.settings import Settings
from integrations.iomt.store import IomtStore


async def _with_store(action: Callable[[IomtStore], Awaitable[int]]) -> int:
    from integrations.persistence.database import close_engine, create_engine, create_sessionmaker
    from integrations.persistence.migrate import migrate

    url = Settings().resolved_database_url
    await migrate(url)
    engine = create_engine(url)
    try:
        return await action(IomtStore(create_sessionmaker(engine)))
    finally:
        await close_engine(engine)


def _sources(args: argparse.Namespace) -> int:
    async def run(store: IomtStore) -> int:
        if args.sources_command == "add":
            try:
                token = await store.add_source(args.name)
            except ValueError as error:
                print(f"carebot iomt: {error}", file=sys.stderr)
                return 2
            print(token)
        elif args.sources_command == "list":
            for name in await store.sources():
                print(name)
        elif not await store.remove_source(args.name):
            print(f"carebot iomt: no source named {args.name!r}", file=sys.stderr)
            return 1
        return 0

    return asyncio.run(_with_store(run))


def _templates(args: argparse.Namespace) -> int:
    from integrations.iomt.template_json import TemplateError

    device = Path(args.device).read_text(encoding="utf-8-sig")
    fhir = Path(args.fhir).read_text(encoding="utf-8-sig")

    async def run(store: IomtStore) -> int:
        try:
            version = await store.load_templates(device, fhir)
        except TemplateError as error:
            print(f"carebot iomt: template refused: {error}", file=sys.stderr)
            return 2
        print(f"templates loaded as version {version} (active)")
        return 0

    return asyncio.run(_with_store(run))


def _status(args: argparse.Namespace) -> int:
    async def run(store: IomtStore) -> int:
        print(json.dumps((await store.status()).to_json(), indent=2, sort_keys=True))
        return 0

    return asyncio.run(_with_store(run))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `carebot iomt` and its subcommands."""
    iomt = sub.add_parser("iomt", help="IoMT connector: device JSON into FHIR Observations")
    commands = iomt.add_subparsers(dest="iomt_command", required=True)
    sources = commands.add_parser("sources", help="senders allowed to POST /iomt/messages")
    source_commands = sources.add_subparsers(dest="sources_command", required=True)
    add = source_commands.add_parser("add", help="register a source; prints its bearer token")
    add.add_argument("name", help="the source's name, unique")
    source_commands.add_parser("list", help="list sources")
    remove = source_commands.add_parser("remove", help="remove a source (its token stops working)")
    remove.add_argument("name", help="the source's name")
    sources.set_defaults(func=_sources)
    templates = commands.add_parser("templates", help="MedTech-format mapping templates")
    template_commands = templates.add_subparsers(dest="templates_command", required=True)
    load = template_commands.add_parser("load", help="validate and activate a template pair")
    load.add_argument("--device", required=True, help="device mapping (devicecontent.json)")
    load.add_argument("--fhir", required=True, help="FHIR mapping (fhirmapping.json)")
    templates.set_defaults(func=_templates)
    status = commands.add_parser("status", help="messages received, normalised, unmatched...")
    status.set_defaults(func=_status)
