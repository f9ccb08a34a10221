"""Who gets an alert (pure): the patient's CareTeam member whose role is care manager;
if the patient has a care team without one, the configured default care manager; with no
care team (or no default), nobody: the alert waits in the unassigned queue. The backup
an unacknowledged alert escalates to is the team's backup care manager, else the
configured one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from integrations.alerts.codes import (
    BACKUP_CARE_MANAGER_ROLE,
    CARE_MANAGER_ROLE,
    CARE_TEAM_ROLE_SYSTEM,
)

Json = dict[str, Any]


@dataclass(frozen=True)
class RoutingDefaults:
    """The deployment's care managers for teams without one (`Practitioner/id` or None)."""

    default_care_manager: str | None = None
    backup_care_manager: str | None = None


@dataclass(frozen=True)
class Route:
    """The care manager who owns an alert (None: the unassigned queue) and their backup."""

    owner: str | None
    backup: str | None


def _has_role(participant: Json, code: str) -> bool:
    for role in participant.get("role") or []:
        for coding in (role or {}).get("coding") or []:
            if coding.get("system") == CARE_TEAM_ROLE_SYSTEM and coding.get("code") == code:
                return True
    return False


def members_with_role(care_teams: Sequence[Json], code: str) -> list[str]:
    """The Practitioners of active CARE_TEAMS (by team id) whose role is CODE."""
    found: list[str] = []
    for team in sorted(care_teams, key=lambda t: str(t.get("id", ""))):
        if team.get("status") not in (None, "active"):
            continue
        for participant in team.get("participant") or []:
            member = ((participant or {}).get("member") or {}).get("reference")
            doctor = isinstance(member, str) and member.startswith("Practitioner/")
            if doctor and _has_role(participant, code) and member not in found:
                found.append(str(member))
    return found


def route(care_teams: Sequence[Json], defaults: RoutingDefaults) -> Route:
    """Who owns an alert for a patient with CARE_TEAMS, and who is their backup."""
    active = [t for t in care_teams if t.get("status") in (None, "active")]
    managers = members_with_role(active, CARE_MANAGER_ROLE)
    backups = members_with_role(active, BACKUP_CARE_MANAGER_ROLE)
    if managers:
        owner: str | None = managers[0]
    elif active:
        owner = defaults.default_care_manager
    else:
        owner = None
    backup = next((b for b in backups if b != owner), None) or defaults.backup_care_manager
    if owner is None or backup == owner:
        backup = None
    return Route(owner, backup)
