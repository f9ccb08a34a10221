"""Reading the FHIR change feed for scoring: which patients' vitals changed.

Pure. Where a reader is and which versions are new is `integrations.fhir.feed`'s, shared
with every follower of the feed; this module turns the new versions into `Changes`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from integrations.fhir.feed import FeedPosition, next_link, take_new, version_key
from scoring.windows import samples_from_observation

__all__ = ["Changes", "FeedPosition", "collect", "next_link", "take_in", "version_key"]

Json = dict[str, Any]


@dataclass
class Changes:
    """What a stretch of the feed changed: per patient, the earliest and latest vital
    sample time of the Observations written."""

    patients: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    entries: int = 0
    """Feed entries taken in (new versions of any type)."""

    def add(self, patient: str, low: datetime, high: datetime) -> None:
        """Widen PATIENT's range to cover [LOW, HIGH]."""
        old = self.patients.get(patient)
        self.patients[patient] = (
            (low, high) if old is None else (min(old[0], low), max(old[1], high))
        )


def _observation_range(resource: Any) -> tuple[str, datetime, datetime] | None:
    if not isinstance(resource, dict) or resource.get("resourceType") != "Observation":
        return None
    subject = str((resource.get("subject") or {}).get("reference", ""))
    samples = samples_from_observation(resource)
    if not subject.startswith("Patient/") or not samples:
        return None
    times = [s.at for s in samples]
    return subject.removeprefix("Patient/"), min(times), max(times)


def collect(changes: Changes, new: Iterable[Json]) -> None:
    """Take NEW feed versions (not taken in before) into CHANGES."""
    for entry in new:
        changes.entries += 1
        found = _observation_range(entry.get("resource"))
        if found is not None:
            changes.add(*found)


def take_in(
    entries: Iterable[Json], position: FeedPosition, overlap: timedelta, changes: Changes
) -> FeedPosition:
    """Add the new versions among ENTRIES (a history page, oldest first) to CHANGES; the
    position after them. Entries without `lastModified` cannot be placed and are skipped."""
    new, position = take_new(entries, position, overlap)
    collect(changes, new)
    return position
