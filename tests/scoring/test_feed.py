"""Reading the change feed: ties at the position are all taken in, none twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from scoring.feed import Changes, FeedPosition, take_in

T0 = "2026-12-01T10:00:00.000Z"
T1 = "2026-12-01T10:00:01.000Z"


def entry(rid: str, modified: str, patient: str = "p1", hour: int = 8) -> dict[str, Any]:
    return {
        "fullUrl": f"http://x/Observation/{rid}",
        "response": {"status": "201 Created", "etag": 'W/"1"', "lastModified": modified},
        "resource": {
            "resourceType": "Observation",
            "id": rid,
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{patient}"},
            "effectiveDateTime": f"2026-12-01T{hour:02d}:30:00Z",
            "valueQuantity": {"value": 80, "unit": "/min"},
        },
    }


def test_entries_sharing_the_position_instant_across_pages_are_all_taken_in_once() -> None:
    # an outside server stamps a transaction's versions alike; a page ends among them
    page1 = [entry("a", T0), entry("b", T0, "p2")]
    changes = Changes()
    position = take_in(page1, FeedPosition(), timedelta(0), changes)
    assert position.since == T0 and len(position.seen) == 2
    assert position.since_param(timedelta(0)) == T0  # _since is inclusive: read T0 again
    # the next read starts at T0: a and b come again, c (same instant) is new
    page2 = [entry("a", T0), entry("b", T0, "p2"), entry("c", T0, "p3"), entry("d", T1, "p4")]
    later = Changes()
    position = FeedPosition.from_json(position.to_json())
    position = take_in(page2, position, timedelta(0), later)
    assert sorted(later.patients) == ["p3", "p4"] and later.entries == 2
    assert position.since == T1 and len(position.seen) == 1  # only T1's versions kept
    nothing = Changes()
    assert take_in(page2, position, timedelta(0), nothing) == position
    assert nothing.entries == 0


def test_overlap_takes_in_a_late_version_stamped_before_the_position() -> None:
    changes = Changes()
    position = take_in([entry("a", T1)], FeedPosition(), timedelta(seconds=5), changes)
    assert position.since_param(timedelta(seconds=5)) == "2026-12-01T09:59:56Z"
    late = Changes()
    again = take_in([entry("z", T0, "p9"), entry("a", T1)], position, timedelta(seconds=5), late)
    assert list(late.patients) == ["p9"] and late.entries == 1
    assert again.since == T1 and len(again.seen) == 2
    # without the overlap a version stamped before the position is not taken in
    none = Changes()
    take_in([entry("z", T0, "p9")], FeedPosition(T1, frozenset()), timedelta(0), none)
    assert none.entries == 0


def test_a_patient_range_covers_every_changed_sample() -> None:
    changes = Changes()
    take_in([entry("a", T0, hour=9), entry("b", T1, hour=7)], FeedPosition(), timedelta(0), changes)
    low, high = changes.patients["p1"]
    assert low == datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
    assert high == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_entries_without_last_modified_or_vitals_move_only_the_position() -> None:
    patient = {"response": {"lastModified": T0}, "resource": {"resourceType": "Patient", "id": "x"}}
    changes = Changes()
    position = take_in([patient, {"response": {}}], FeedPosition(), timedelta(0), changes)
    assert position.since == T0 and changes.entries == 1 and not changes.patients
