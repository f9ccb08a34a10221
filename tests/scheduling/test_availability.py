"""Slot starts laid on weekly hours in the provider's zone, across DST changes (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from integrations.scheduling.availability import WeeklyHours, candidate_starts, weekly_hours

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = timedelta(hours=1)


def _starts(hours: tuple[WeeklyHours, ...], lo: datetime, hi: datetime) -> list[datetime]:
    return list(candidate_starts(hours, PARIS, HOUR, lo, hi))


def test_available_time_json_becomes_weekly_hours() -> None:
    raw = [
        {"daysOfWeek": ["mon", "fri"], "availableStartTime": "09:00:00",
         "availableEndTime": "12:00:00"},
        {"daysOfWeek": ["sat"], "allDay": True},
        {"daysOfWeek": ["sun"]},  # no hours: not a working time
    ]  # fmt: skip
    assert weekly_hours(raw) == (
        WeeklyHours(frozenset({"mon", "fri"}), time(9), time(12)),
        WeeklyHours(frozenset({"sat"}), time(0), time.max),
    )
    with pytest.raises(ValueError, match="daysOfWeek"):
        weekly_hours([{"daysOfWeek": ["monday"], "availableStartTime": "09:00:00",
                       "availableEndTime": "10:00:00"}])  # fmt: skip


def test_slots_lie_in_the_window_on_working_days_only() -> None:
    hours = (WeeklyHours(frozenset({"mon"}), time(9), time(12)),)
    lo = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)  # Monday 09:30 Paris
    hi = datetime(2026, 12, 14, 23, 0, tzinfo=UTC)
    assert _starts(hours, lo, hi) == [
        datetime(2026, 12, 7, 9, 0, tzinfo=UTC),  # 10:00 Paris (09:00 had started)
        datetime(2026, 12, 7, 10, 0, tzinfo=UTC),
        datetime(2026, 12, 14, 8, 0, tzinfo=UTC),
        datetime(2026, 12, 14, 9, 0, tzinfo=UTC),
        datetime(2026, 12, 14, 10, 0, tzinfo=UTC),
    ]
    horizon = (None, date(2026, 12, 14))  # the planning horizon ends before the next Monday
    assert len(list(candidate_starts(hours, PARIS, HOUR, lo, hi, horizon))) == 2


@pytest.mark.parametrize(
    ("sunday", "before", "after"),
    [
        # Europe: last Sunday of March 2026 (UTC+1 -> +2), of October (UTC+2 -> +1)
        (date(2026, 3, 29), 8, 7),
        (date(2026, 10, 25), 7, 8),
    ],
)
def test_a_9am_clinic_opens_at_9_paris_on_both_sides_of_each_change(
    sunday: date, before: int, after: int
) -> None:
    hours = (WeeklyHours(frozenset({"sat", "mon"}), time(9), time(10)),)
    lo = datetime.combine(sunday - timedelta(days=1), time(0), UTC)
    hi = lo + timedelta(days=3)
    saturday, monday = _starts(hours, lo, hi)
    assert (saturday.hour, monday.hour) == (before, after)
    assert saturday.astimezone(PARIS).time() == monday.astimezone(PARIS).time() == time(9)


@pytest.mark.parametrize(
    ("moment", "new_york_hour"),
    [
        # 2026-03-09: US already on EDT (since 8 March), Paris still CET: 09:00 Paris = 04:00
        (datetime(2026, 3, 9, 8, 0, tzinfo=UTC), 4),
        # 2026-03-30: both on summer time: 09:00 Paris = 03:00 New York
        (datetime(2026, 3, 30, 7, 0, tzinfo=UTC), 3),
        # 2026-10-26: Paris back on CET, US still EDT (until 1 November): 04:00
        (datetime(2026, 10, 26, 8, 0, tzinfo=UTC), 4),
        # 2026-11-02: both on winter time: 03:00
        (datetime(2026, 11, 2, 8, 0, tzinfo=UTC), 3),
    ],
)
def test_a_paris_slot_told_in_new_york_around_both_changes(
    moment: datetime, new_york_hour: int
) -> None:
    hours = (WeeklyHours(frozenset({"mon"}), time(9), time(10)),)
    day = moment.date()
    lo = datetime.combine(day, time(0), UTC)
    (start,) = _starts(hours, lo, lo + timedelta(days=1))
    assert start == moment
    assert start.astimezone(NEW_YORK).hour == new_york_hour


def test_local_times_that_do_not_exist_are_skipped() -> None:
    hours = (WeeklyHours(frozenset({"sun"}), time(1), time(4)),)
    lo = datetime(2026, 3, 28, 0, 0, tzinfo=UTC)
    starts = _starts(hours, lo, lo + timedelta(days=2))
    # 02:00-03:00 does not exist in Paris on 29 March: 01:00 and 03:00 remain
    assert [s.astimezone(PARIS).hour for s in starts] == [1, 3]
