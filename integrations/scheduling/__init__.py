"""Scheduling: the `Scheduler` Protocol and its adapters (FHIR Slots, the embedded default)."""

from integrations.scheduling.models import (
    Booking,
    Hold,
    OpenSlot,
    Scheduler,
    SlotTaken,
)

__all__ = ["Booking", "Hold", "OpenSlot", "Scheduler", "SlotTaken"]
