"""`carebot demo`: seeds demo accounts (and their clinical record) once, prints how to sign in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from bot.settings import Settings
from integrations.accounts import AccountExistsError, AccountRepository, Role
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate


@dataclass(frozen=True)
class DemoPerson:
    """One demo account."""

    username: str
    display_name: str
    role: Role
    language: str
    fhir_id: str


DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("alice", "Alice Martin", Role.PATIENT, "en", "demo-patient-alice"),
    DemoPerson("bruno", "Bruno Lefèvre", Role.PATIENT, "fr", "demo-patient-bruno"),
    DemoPerson("chloe", "Chloé Dubois", Role.PATIENT, "fr", "demo-patient-chloe"),
    DemoPerson("david", "David Okafor", Role.PATIENT, "en", "demo-patient-david"),
    DemoPerson("emma", "Emma Nguyen", Role.PATIENT, "en", "demo-patient-emma"),
    DemoPerson("dr.chen", "Dr Sarah Chen", Role.PROVIDER, "en", "demo-practitioner-chen"),
    DemoPerson("dr.haddad", "Dr Karim Haddad", Role.PROVIDER, "fr", "demo-practitioner-haddad"),
    DemoPerson("grace", "Grace Miller", Role.CARE_MANAGER, "en", "demo-practitioner-miller"),
)


def _fhir_reference(person: DemoPerson) -> str:
    kind = "Patient" if person.role is Role.PATIENT else "Practitioner"
    return f"{kind}/{person.fhir_id}"


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
    for person in DEMO_PEOPLE:
        try:
            await accounts.create(
                username=person.username,
                password=password,
                role=person.role,
                display_name=person.display_name,
                language=person.language,
                fhir_reference=_fhir_reference(person),
            )
            created += 1
        except AccountExistsError:
            continue
    return created


async def run_demo_seed(settings: Settings, *, force: bool = False) -> int:
    """Seed the demo data once (again with FORCE) and print the sign-in details."""
    await migrate(settings.resolved_database_url)
    engine = create_engine(settings.resolved_database_url)
    try:
        accounts = AccountRepository(create_sessionmaker(engine))
        password = _load_or_make_password(settings)
        created = await seed_accounts(accounts, password)
    finally:
        await engine.dispose()
    state = "seeded" if created or force else "already seeded"
    print(f"demo data {state}. Sign in with password {password} as:")
    for person in DEMO_PEOPLE:
        area = "portal" if person.role is Role.PATIENT else "staff"
        print(f"  {person.username:<10} {person.display_name:<16} ({person.role.value}, {area})")
    return 0
