"""Turns buffered frames of paired devices into queued Observations (buffer I/O, pure mapping).

Runs after every new frame and on a timer. Spot measurements are mapped at once; continuous
streams wait until their minute is over (a later frame arrives, or the clock passes the
minute's end plus a grace period). Frames still in an open minute stay unmapped, so a
restarted gateway rebuilds the same minute from the buffer. Mapping and marking the frames
happen in one SQLite transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.buffer import FrameBuffer
from gateway.decoders import DecodeError, decode
from gateway.frames import ObservationRecord
from gateway.mapping import (
    GroupMode,
    MinuteAggregator,
    MinuteGroup,
    map_minute_group,
    map_spot_frame,
)
from gateway.measurements import (
    BloodPressureMeasurement,
    GlucoseMeasurement,
    HeartRateMeasurement,
    PlxContinuousMeasurement,
    PlxSpotCheckMeasurement,
    TemperatureMeasurement,
    WeightMeasurement,
)

_SPOT = (
    BloodPressureMeasurement,
    TemperatureMeasurement,
    WeightMeasurement,
    GlucoseMeasurement,
    PlxSpotCheckMeasurement,
)


@dataclass(frozen=True, slots=True)
class MapResult:
    """What one mapping pass did."""

    frames: int
    observations: int
    undecodable: int


class Mapper:
    """Maps the buffer's unmapped frames of paired devices into its outbox."""

    def __init__(
        self, buffer: FrameBuffer, mode: GroupMode = GroupMode.SUMMARY, grace_s: float = 2.0
    ) -> None:
        self.buffer = buffer
        self.mode = mode
        self.grace = timedelta(seconds=grace_s)

    def map_pending(self, now: datetime) -> MapResult:
        """One pass: map what can be mapped at `now`; returns counts."""
        bindings = self.buffer.bindings()
        rows = self.buffer.unmapped_frames(bindings)
        if not rows:
            return MapResult(0, 0, 0)
        walls = {frame.seq: wall for frame, wall in rows}
        aggregator = MinuteAggregator()
        mapped: list[int] = []
        bad: list[int] = []
        records: list[tuple[str, ObservationRecord, float]] = []

        def close(group: MinuteGroup) -> None:
            binding = bindings[group.device]
            seqs = [frame.seq for frame, _ in group.frames]
            wall = max(walls[s] for s in seqs)
            for record in map_minute_group(group, binding, self.mode):
                records.append((group.device, record, wall))
            mapped.extend(seqs)

        for frame, wall in rows:
            binding = bindings[frame.device]
            try:
                measurement = decode(frame.uuid, frame.data)
            except DecodeError:
                bad.append(frame.seq)
                continue
            if isinstance(measurement, HeartRateMeasurement | PlxContinuousMeasurement):
                for group in aggregator.add(frame, measurement):
                    close(group)
                continue
            if isinstance(measurement, _SPOT):
                for record in map_spot_frame(frame, measurement, binding):
                    records.append((frame.device, record, wall))
            mapped.append(frame.seq)  # features and cuff pressure: kept, nothing to upload
        for group in aggregator.close_before(now - self.grace):
            close(group)
        self.buffer.commit_mapping(mapped, records, bad)
        return MapResult(len(mapped), len(records), len(bad))
