"""`carebot demo`: seeds demo accounts (and their clinical record) once, prints how to sign in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.demo_clinical import DEMO_PATIENTS, DEMO_STAFF, record_bundle
from bot.fhir_access import cli_fhir_access
from bot.settings import Settings
from gateway.simulated_gateway import demo_history_bundle
from integrations.accounts import AccountExistsError, AccountRepository, Role
from integrations.fhir.client import FhirClient
from integrations.persistence.database import close_engine, create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate


@dataclass(frozen=True)
class DemoAccount:
    """One demo sign-in."""

    username: str
    display_name: str
    role: Role
    language: str
    fhir_reference: str


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = tuple(
    DemoAccount(p.username, f"{p.given} {p.family}", Role.PATIENT, p.language,
                f"Patient/{p.fhir_id}")
    for p in DEMO_PATIENTS
) + tuple(
    DemoAccount(s.username, f"{'Dr ' if s.role_code == 'doctor' else ''}{s.given} {s.family}",
                Role(s.account_role), "en", f"Practitioner/{s.fhir_id}")
    for s in DEMO_STAFF
)  # fmt: skip


def _credentials_file(settings: Settings) -> Path:
    return settings.var_dir / "demo-credentials.txt"


def _load_or_make_password(settings: Settings) -> str:
    """One generated demo password, kept in var/ so every `make run` can print it again."""
    path = _credentials_file(settings)
    if path.exists():
        return path.read_text().split("password: ", 1)[1].split("\n", 1)[0].strip()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    password = f"demo-{secrets.token_urlsafe(9)}"
    path.write_text(
        f"carebot demo accounts (every demo account shares this password)\npassword: {password}\n"
    )
    path.chmod(0o600)
    return password


async def seed_accounts(accounts: AccountRepository, password: str) -> int:
    """Create the demo accounts that do not exist yet; return how many were created."""
    created = 0
    for person in DEMO_ACCOUNTS:
        try:
            await accounts.create(
                username=person.username,
                password=password,
                role=person.role,
                display_name=person.display_name,
                language=person.language,
                fhir_reference=person.fhir_reference,
            )
            created += 1
        except AccountExistsError:
            continue
    return created


async def seed_clinical_record(fhir: FhirClient, now: datetime, days: float = 7.0) -> int:
    """PUT the demo record, then each patient's paired devices and DAYS of their vitals
    (made by the gateway's simulator, GATT bytes through the decoders); returns the number
    of resources sent."""
    await fhir.post_bundle_json(record_bundle(now))
    sent = 0
    for patient in DEMO_PATIENTS:
        bundle = demo_history_bundle(patient.fhir_id, now, days)
        await fhir.post_bundle_json(bundle)
        sent += len(bundle["entry"])
    return sent


def _seeded_marker(settings: Settings) -> Path:
    return settings.var_dir / "demo-seeded"


async def run_demo_seed(settings: Settings, *, force: bool = False, days: float = 7.0) -> int:
    """Seed the demo data once (again with FORCE) and print the sign-in details."""
    await migrate(settings.resolved_database_url)
    engine = create_engine(settings.resolved_database_url)
    marker = _seeded_marker(settings)
    try:
        sessions = create_sessionmaker(engine)
        password = _load_or_make_password(settings)
        await seed_accounts(AccountRepository(sessions), password)
        if force or not marker.exists():
            print("seeding the demo clinical record and a week of device vitals...", flush=True)
            async with cli_fhir_access(settings) as access:
                sent = await seed_clinical_record(access.system(), datetime.now(UTC), days)
            marker.write_text(f"{datetime.now(UTC).isoformat()} {sent} observations\n")
            state = f"seeded ({sent} devices and device Observations)"
        else:
            state = "already seeded"
    finally:
        await close_engine(engine)
    print(f"demo data {state}. Sign in with password {password} as:")
    for person in DEMO_ACCOUNTS:
        area = "portal" if person.role is Role.PATIENT else "staff"
        print(f"  {person.username:<10} {person.display_name:<16} ({person.role.value}, {area})")
    return 0
