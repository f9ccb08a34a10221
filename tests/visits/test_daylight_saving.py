"""Slot times across daylight-saving changes, end to end: providers in Europe/Paris, the
patient told in America/New_York, on both change dates of each side (2026: the US on
8 March and 1 November, Europe on 29 March and 25 October)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.visits.conftest import ALICE, open_world

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("now", "first", "typed", "then"),
    [
        # before the US change (EST, UTC-5; Paris CET, UTC+1): Sat 08:00 Paris = 02:00 NY
        (datetime(2026, 3, 7, 5, 0, tzinfo=UTC), "Sat 7 Mar 02:00 · Dr Karim Haddad",
         # after the US change (EDT, UTC-4), Paris still CET: Mon 09:00 Paris = 04:00 NY
         "monday", "Mon 9 Mar 04:00 · Dr Sarah Chen"),
        # before the European change: Sat 08:00 CET = 03:00 EDT
        (datetime(2026, 3, 28, 5, 0, tzinfo=UTC), "Sat 28 Mar 03:00 · Dr Karim Haddad",
         # after it (CEST, UTC+2): Tue 08:00 Paris = 02:00 NY
         "tuesday", "Tue 31 Mar 02:00 · Dr Karim Haddad"),
        # before the European end (CEST): Sat 08:00 Paris = 02:00 EDT
        (datetime(2026, 10, 24, 5, 0, tzinfo=UTC), "Sat 24 Oct 02:00 · Dr Karim Haddad",
         # after it (CET), NY still EDT: Tue 08:00 Paris = 03:00 NY
         "tuesday", "Tue 27 Oct 03:00 · Dr Karim Haddad"),
        # before the US end: Sat 31 Oct 08:00 CET = 03:00 EDT
        (datetime(2026, 10, 31, 5, 0, tzinfo=UTC), "Sat 31 Oct 03:00 · Dr Karim Haddad",
         # after it (EST): Tue 08:00 Paris = 02:00 NY
         "tuesday", "Tue 3 Nov 02:00 · Dr Karim Haddad"),
    ],
)  # fmt: skip
async def test_paris_slots_told_in_new_york_on_both_sides_of_each_change(
    tmp_path: Path, now: datetime, first: str, typed: str, then: str
) -> None:
    async with open_world(tmp_path, now, NEW_YORK) as world:
        chat = world.chat(ALICE)
        replies = await chat.send("book a visit")
        assert "(America/New_York time)" in replies[0]
        assert chat.last[-1].suggestions[0] == first
        await chat.send(typed)
        assert chat.last[-1].suggestions[0] == then


async def test_the_mails_tell_each_side_its_own_time(tmp_path: Path) -> None:
    # Monday 9 March 2026: New York on EDT already, Paris still on CET (5 hours apart)
    async with open_world(tmp_path, datetime(2026, 3, 9, 5, 0, tzinfo=UTC), NEW_YORK) as world:
        chat = world.chat(ALICE)
        await chat.send("book a visit")
        assert chat.last[-1].suggestions[0] == "Mon 9 Mar 04:00 · Dr Sarah Chen"
        await chat.send(chat.last[-1].suggestions[0])
        for answer in ("yes", "use my insurance", "yes", "Alice Martin"):
            await chat.send(answer)
        subjects = {m["To"]: m["Subject"] for m in world.mails()}
        assert subjects == {
            "alice@patients.example.org":
                "Your virtual visit on Monday 9 March 2026, 04:00 (America/New_York)",
            "dr.chen@clinic.example.org":
                "Your virtual visit on Monday 9 March 2026, 09:00 (Europe/Paris)",
        }  # fmt: skip
