"""The `carebot` command: one subcommand per working capability."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bot.settings import Settings
from integrations.command_exit import run_command

if TYPE_CHECKING:
    from gateway.settings import GatewaySettings

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _cmd_migrate(args: argparse.Namespace) -> int:
    from integrations.persistence.migrate import migrate

    settings = Settings()
    asyncio.run(migrate(settings.resolved_database_url))
    print(f"database at newest revision: {settings.resolved_database_url.split('@')[-1]}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from bot.serve import serve_until_signalled

    overrides: dict[str, object] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    settings = Settings(**overrides)  # type: ignore[arg-type]
    asyncio.run(serve_until_signalled(settings, simulate_gateway=args.simulate_gateway))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo_seed

    return asyncio.run(run_demo_seed(Settings(), force=args.force))


def _register_core(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(func=_cmd_migrate)
    serve = sub.add_parser("serve", help="run the whole service on one port")
    serve.add_argument("--host", default="", help="address to listen on (default CAREBOT_HOST)")
    serve.add_argument(
        "--port", type=int, default=0, help="port to listen on (default CAREBOT_PORT)"
    )
    serve.add_argument(
        "--simulate-gateway",
        action="store_true",
        help="also stream the demo patients' simulated devices through a gateway",
    )
    serve.set_defaults(func=_cmd_serve)
    demo = sub.add_parser("demo", help="seed demo patients, staff and vitals (once)")
    demo.add_argument("--force", action="store_true", help="seed again even if already seeded")
    demo.set_defaults(func=_cmd_demo)


async def service_fhir_for_gateway(gateway: GatewaySettings) -> tuple[str, str]:
    """`carebot gateway`'s FHIR base URL and token: those given, else the service's FHIR
    server; for the embedded store, a registered gateway client of it (the gateway is a
    process of its own, so it gets a client token, not the service's signed ones)."""
    from gateway.settings import GATEWAY_SCOPES
    from integrations.fhir.access import STORE_PATH
    from integrations.fhir.backend import FhirBackend, get_default_backend
    from integrations.fhir_store import ensure_client
    from integrations.persistence.database import close_engine, create_engine, create_sessionmaker

    service = Settings()
    embedded = get_default_backend(service.fhir_url) is FhirBackend.EMBEDDED
    url = gateway.fhir_url or (f"{service.base_url}{STORE_PATH}" if embedded else service.fhir_url)
    if gateway.fhir_token or not embedded:
        return url.rstrip("/"), gateway.fhir_token or service.fhir_token
    engine = create_engine(service.resolved_database_url)
    try:
        token = await ensure_client(create_sessionmaker(engine), "gateway", GATEWAY_SCOPES)
    finally:
        await close_engine(engine)
    return url.rstrip("/"), token


def _register_gateway(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`carebot gateway ...` is `carebot-gateway ...` aimed at this service's FHIR store."""
    from gateway.cli import configure

    gateway = sub.add_parser("gateway", help="Bluetooth LE gateway (also `carebot-gateway`)")
    configure(gateway, service_fhir_for_gateway, lambda: Settings().var_dir / "gateway.db")


def _register_score(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`carebot score ...`: the deterioration model and the scoring worker."""
    from bot.cli_score import configure

    configure(sub.add_parser("score", help="risk scoring: train, evaluate, predict, run"))


def _registrations() -> list[Register]:
    """Each capability adds its own subcommands here."""
    from bot import cli_fhir, cli_iomt, cli_triage

    return [
        _register_core,
        _register_gateway,
        _register_score,
        cli_fhir.register,
        cli_iomt.register,
        cli_triage.register,
    ]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(prog="carebot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for register in _registrations():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `carebot` console script."""
    args = build_parser().parse_args(argv)
    return run_command("carebot", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=Settings().log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Request lines and migration chatter are noise at INFO; they stay visible at DEBUG.
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
