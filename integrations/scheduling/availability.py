"""Candidate slot starts from a provider's weekly hours (PractitionerRole.availableTime) and
Schedule.planningHorizon (pure; the provider's local wall clock, DST included)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class WeeklyHours:
    """One availableTime entry: days of the week and local start and end times."""

    days: frozenset[str]
    start: time
    end: time


def weekly_hours(available_time: Sequence[dict[str, object]]) -> tuple[WeeklyHours, ...]:
    """The entries of PractitionerRole.availableTime (JSON) that have hours; allDay ones run
    00:00-24:00. Entries with unknown days are refused (ValueError)."""
    hours: list[WeeklyHours] = []
    for entry in available_time:
        days = entry.get("daysOfWeek") or list(WEEKDAYS)
        if not isinstance(days, list) or not all(d in WEEKDAYS for d in days):
            raise ValueError(f"availableTime.daysOfWeek not in {WEEKDAYS}: {days!r}")
        if entry.get("allDay") is True:
            start, end = time(0), time.max
        else:
            raw_start, raw_end = entry.get("availableStartTime"), entry.get("availableEndTime")
            if not isinstance(raw_start, str) or not isinstance(raw_end, str):
                continue
            start, end = time.fromisoformat(raw_start), time.fromisoformat(raw_end)
        hours.append(WeeklyHours(frozenset(str(d) for d in days), start, end))
    return tuple(hours)


def candidate_starts(
    hours: Sequence[WeeklyHours],
    zone: ZoneInfo,
    length: timedelta,
    start: datetime,
    end: datetime,
    horizon: tuple[date | None, date | None] = (None, None),
) -> Iterator[datetime]:
    """Slot starts (UTC) of LENGTH laid on the provider's local hours, in [START, END) and
    inside the planning HORIZON (local dates, end exclusive), earliest first.

    Slots are laid in local wall time: a 09:00 clinic opens at 09:00 on both sides of a DST
    change. A local time that does not exist (spring forward) is skipped."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    first_day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date()
    day = first_day
    while day <= last_day:
        in_horizon = (horizon[0] is None or day >= horizon[0]) and (
            horizon[1] is None or day < horizon[1]
        )
        weekday = WEEKDAYS[day.weekday()]
        if in_horizon:
            for entry in sorted(hours, key=lambda h: h.start):
                if weekday in entry.days:
                    yield from _day_starts(day, entry, zone, length, start, end)
        day += timedelta(days=1)


def _day_starts(
    day: date, entry: WeeklyHours, zone: ZoneInfo, length: timedelta, lo: datetime, hi: datetime
) -> Iterator[datetime]:
    local = datetime.combine(day, entry.start)
    closing = datetime.combine(day, entry.end)
    while local + length <= closing:
        aware = local.replace(tzinfo=zone)
        moment = aware.astimezone(UTC)
        exists = moment.astimezone(zone).replace(tzinfo=None) == local
        if exists and lo <= moment < hi:
            yield moment
        local += length
