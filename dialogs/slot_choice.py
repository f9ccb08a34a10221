"""Slots as the patient reads them and as they answer (pure): labels in the patient's zone
and language, and the slot a reply picks (a button, a number, or a date phrase such as
"tomorrow afternoon", "demain matin" or "vendredi 14h", read with dateparser)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dateparser

from dialogs.base import JSON, Language
from dialogs.texts import normalise
from integrations.scheduling.models import OpenSlot

_DAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "fr": ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."),
}
_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
           "nov.", "déc."),
}  # fmt: skip
# Parts of the day, local hours [start, end)
_PARTS: dict[str, tuple[int, int]] = {
    "morning": (6, 12), "matin": (6, 12), "afternoon": (12, 18), "apres midi": (12, 18),
    "aprem": (12, 18), "evening": (17, 22), "soir": (17, 22), "tonight": (17, 22),
}  # fmt: skip
_EXPLICIT_TIME = re.compile(r"\b\d{1,2}\s*(h|:|am\b|pm\b)", re.IGNORECASE)
_FRENCH_HOUR = re.compile(r"\b(\d{1,2})\s*h\s*(\d{2})?\b", re.IGNORECASE)


def slot_label(slot: OpenSlot, zone: ZoneInfo, language: Language) -> str:
    """ "Fri 11 Dec 14:00 · Dr Sarah Chen" in ZONE (the patient's)."""
    local = slot.start.astimezone(zone)
    day, month = _DAYS[language][local.weekday()], _MONTHS[language][local.month - 1]
    return f"{day} {local.day} {month} {local:%H:%M} · {slot.provider_name}"


def slot_to_json(slot: OpenSlot) -> dict[str, JSON]:
    """SLOT for a dialog's state."""
    return {
        "schedule": slot.schedule, "practitioner": slot.practitioner,
        "provider": slot.provider_name, "start": slot.start.isoformat(),
        "end": slot.end.isoformat(), "zone": slot.zone,
    }  # fmt: skip


def slot_from_json(raw: JSON) -> OpenSlot:
    """Read back `slot_to_json` (ValueError on anything else)."""
    if not isinstance(raw, dict):
        raise ValueError("a slot is a JSON object")
    fields = {
        k: raw.get(k) for k in ("schedule", "practitioner", "provider", "start", "end", "zone")
    }
    if not all(isinstance(v, str) for v in fields.values()):
        raise ValueError("a slot's fields are strings")
    text = {k: str(v) for k, v in fields.items()}
    return OpenSlot(
        text["schedule"], text["practitioner"], text["provider"],
        datetime.fromisoformat(text["start"]).astimezone(UTC),
        datetime.fromisoformat(text["end"]).astimezone(UTC), text["zone"],
    )  # fmt: skip


@dataclass(frozen=True)
class Wanted:
    """A time range the patient asked for, in UTC: [start, end)."""

    start: datetime
    end: datetime
    exact: bool = False  # a time was named ("friday 2pm"): a slot starting then is the one


def wanted_range(text: str, now: datetime, zone: ZoneInfo, language: Language) -> Wanted | None:
    """The range a date phrase names ("tomorrow afternoon": 12:00-18:00 tomorrow; "friday
    2pm": from 14:00 to the end of that day), or None when it names no time."""
    words = normalise(text)
    part = next((p for p in sorted(_PARTS, key=len, reverse=True) if p in words), None)
    rest = words.replace(part, " ").strip() if part else words
    if rest in ("this", "ce", "cet", "cette", "today"):
        rest = ""
    if not rest or rest.isdigit():
        if part is None:
            return None
        rest = {"en": "today", "fr": "aujourd'hui"}[language]
    rest = _FRENCH_HOUR.sub(lambda m: f" à {m.group(1)}:{m.group(2) or '00'} ", rest)
    local_now = now.astimezone(zone)
    parsed = dateparser.parse(
        rest,
        languages=[language],
        settings={"PREFER_DATES_FROM": "future",
                  "RELATIVE_BASE": local_now.replace(tzinfo=None)},
    )  # fmt: skip
    if parsed is None:
        return None
    day = parsed.date()
    if part is not None:
        lo, hi = _PARTS[part]
        start = datetime.combine(day, time(lo), zone)
        end = datetime.combine(day, time(0), zone) + timedelta(hours=hi)
    elif _EXPLICIT_TIME.search(text):
        start = datetime.combine(day, parsed.time(), zone)
        end = datetime.combine(day + timedelta(days=1), time(0), zone)
        return Wanted(start.astimezone(UTC), end.astimezone(UTC), exact=True)
    else:
        start = datetime.combine(day, time(0), zone)
        end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return Wanted(start.astimezone(UTC), end.astimezone(UTC))


def picked(
    text: str, value: JSON, offered: Sequence[OpenSlot], zone: ZoneInfo, language: Language
) -> OpenSlot | None:
    """The offered slot a reply names: a card's {"slot": key}, a button label, or its number."""
    if isinstance(value, dict) and isinstance(value.get("slot"), str):
        return next((s for s in offered if s.key == value["slot"]), None)
    words = normalise(text)
    for slot in offered:
        if normalise(slot_label(slot, zone, language)) == words:
            return slot
    if words.isdigit() and 1 <= int(words) <= len(offered):
        return offered[int(words) - 1]
    return None


def warm() -> None:
    """Pay dateparser's first-call cost (loading its languages) at start-up, not in a turn."""
    for language in ("en", "fr"):
        dateparser.parse("tomorrow" if language == "en" else "demain", languages=[language])
