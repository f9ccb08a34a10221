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
from gateway.mapping import FrameMapping, GroupMode, Mapped


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
        self._mapping = FrameMapping(dict[str, DeviceBinding]().__getitem__, mode)
        self._after = 0
        self._walls: dict[int, float] = {}

    def _reset(self, bindings: dict[str, DeviceBinding] | None) -> None:
        self._bindings = bindings
        self._mapping = FrameMapping((bindings or {}).__getitem__, self.mode)
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

        def done(results: list[Mapped]) -> None:
            for result in results:
                # A minute's Observations are as late as its last frame's arrival.
                wall = max(self._walls.pop(seq) for seq in result.seqs)
                records.extend((result.device, record, wall) for record in result.records)
                mapped.extend(result.seqs)

        for frame, wall in rows:
            self._after = max(self._after, frame.seq)
            try:
                decoded = decode(frame.uuid, frame.data)
            except DecodeError:
                bad.append(frame.seq)
                continue
            self._walls[frame.seq] = wall
            done(self._mapping.add(frame, decoded))
        done(self._mapping.close_before(now - self.grace))
        if mapped or bad:
            self.buffer.commit_mapping(mapped, records, bad)
        return MapResult(len(mapped), len(records), len(bad))
