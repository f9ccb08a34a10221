"""A week (or any span) of plausible historical readings for one simulated device (pure).

For demo seeding: the frames come from `gateway.simulator` as real GATT bytes and go
through the same decode -> map path as live traffic, so the Observations are exactly what
the live gateway would have stored. Continuous devices are worn in a few sessions a day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.frames import DeviceBinding, ObservationRecord
from gateway.mapping import GroupMode, frames_to_observations
from gateway.simulator import Schedule, VirtualDevice, device_frames

HISTORY_SCHEDULE = Schedule(
    continuous_period_s=1.0,
    blood_pressure_every_s=12 * 3600.0,
    temperature_every_s=8 * 3600.0,
    weight_every_s=24 * 3600.0,
    glucose_every_s=8 * 3600.0,
    spot_check_every_s=6 * 3600.0,
    wear_session_s=10 * 60.0,
    wear_sessions_per_day=3,
)


def week_of_readings(
    device: VirtualDevice,
    binding: DeviceBinding,
    end: datetime,
    days: float = 7.0,
    schedule: Schedule = HISTORY_SCHEDULE,
    mode: GroupMode = GroupMode.SUMMARY,
) -> list[ObservationRecord]:
    """Observations for `days` before `end` from one virtual device, oldest first."""
    frames = device_frames(device, end - timedelta(days=days), end, schedule)
    records = frames_to_observations(frames, binding, mode)
    return sorted(records, key=lambda r: (r.effective, r.identifier))
