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
from gateway.frames import DeviceBinding, ObservationRecord
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
    """Maps the buffer's unmapped frames of paired devices into its outbox.

    Open minutes are kept in memory between passes, so each pass reads only new frames;
    after a restart, or when pairings change, the state is rebuilt from the buffer.
    """

    def __init__(
        self, buffer: FrameBuffer, mode: GroupMode = GroupMode.SUMMARY, grace_s: float = 2.0
    ) -> None:
        self.buffer = buffer
        self.mode = mode
        self.grace = timedelta(seconds=grace_s)
        self._bindings: dict[str, DeviceBinding] | None = None
        self._aggregator = MinuteAggregator()
        self._after = 0
        self._walls: dict[int, float] = {}

    def _reset(self, bindings: dict[str, DeviceBinding] | None) -> None:
        self._bindings = bindings
        self._aggregator = MinuteAggregator()
        self._after = 0
        self._walls = {}

    def map_pending(self, now: datetime) -> MapResult:
        """One pass: map what can be mapped at `now`; returns counts."""
        bindings = self.buffer.bindings()
        if bindings != self._bindings:
            self._reset(bindings)
        try:
            return self._map(bindings, now)
        except BaseException:
            self._reset(None)  # rebuild from the buffer next time
            raise

    def _map(self, bindings: dict[str, DeviceBinding], now: datetime) -> MapResult:
        rows = self.buffer.unmapped_frames(bindings, self._after)
        mapped: list[int] = []
        bad: list[int] = []
        records: list[tuple[str, ObservationRecord, float]] = []

        def close(group: MinuteGroup) -> None:
            seqs = [frame.seq for frame, _ in group.frames]
            wall = max(self._walls.pop(s) for s in seqs)
            for record in map_minute_group(group, bindings[group.device], self.mode):
                records.append((group.device, record, wall))
            mapped.extend(seqs)

        for frame, wall in rows:
            self._after = max(self._after, frame.seq)
            try:
                measurement = decode(frame.uuid, frame.data)
            except DecodeError:
                bad.append(frame.seq)
                continue
            if isinstance(measurement, HeartRateMeasurement | PlxContinuousMeasurement):
                self._walls[frame.seq] = wall
                for group in self._aggregator.add(frame, measurement):
                    close(group)
                continue
            if isinstance(measurement, _SPOT):
                for record in map_spot_frame(frame, measurement, bindings[frame.device]):
                    records.append((frame.device, record, wall))
            mapped.append(frame.seq)  # features and cuff pressure: kept, nothing to upload
        for group in self._aggregator.close_before(now - self.grace):
            close(group)
        if mapped or bad:
            self.buffer.commit_mapping(mapped, records, bad)
        return MapResult(len(mapped), len(records), len(bad))
