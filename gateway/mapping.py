"""Frames -> FHIR R4 Observations: the one pass both the gateway and its tests run (pure).

Each decoded frame goes one way, by its type: a stream sample (Heart Rate, PLX Continuous)
joins its minute in `stream_mapping` and is mapped when the minute closes; a spot reading
is mapped at once through the table in `spot_mapping`; features and cuff pressure yield
nothing (the frame is done, there is nothing to upload). The JSON itself is built by
`observation_json`. `mapper.Mapper` runs this pass over the buffer; `frames_to_observations`
over a finished list of frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.decoders import decode
from gateway.frames import DeviceBinding, Frame, ObservationRecord
from gateway.measurements import Decoded
from gateway.observation_json import Kind, observation_identifier
from gateway.spot_mapping import map_spot_frame
from gateway.stream_mapping import (
    STREAM_TYPES,
    GroupMode,
    MinuteAggregator,
    MinuteGroup,
    map_minute_group,
)

__all__ = [
    "FrameMapping",
    "GroupMode",
    "Kind",
    "Mapped",
    "frames_to_observations",
    "observation_identifier",
]


@dataclass(frozen=True, slots=True)
class Mapped:
    """The Observations of one device that buffer rows `seqs` yield (possibly none)."""

    device: str
    seqs: tuple[int, ...]
    records: tuple[ObservationRecord, ...]


class FrameMapping:
    """Takes decoded frames in order; hands back what each finished (a spot frame at once,
    a stream minute when it closes). Open minutes stay in memory until closed."""

    def __init__(
        self, binding_of: Callable[[str], DeviceBinding], mode: GroupMode = GroupMode.SUMMARY
    ) -> None:
        self._binding_of = binding_of
        self._mode = mode
        self._aggregator = MinuteAggregator()

    def add(self, frame: Frame, decoded: Decoded) -> list[Mapped]:
        """Take one frame; returns what it finished (itself, or minutes it closed)."""
        if isinstance(decoded, STREAM_TYPES):
            return [self._minute(group) for group in self._aggregator.add(frame, decoded)]
        records = map_spot_frame(frame, decoded, self._binding_of(frame.device))
        return [Mapped(frame.device, (frame.seq,), tuple(records))]

    def close_before(self, moment: datetime) -> list[Mapped]:
        """Close and map every minute that ended at or before `moment`."""
        return [self._minute(group) for group in self._aggregator.close_before(moment)]

    def close_all(self) -> list[Mapped]:
        """Close and map every open minute."""
        return self.close_before(datetime.max.replace(tzinfo=UTC))

    def _minute(self, group: MinuteGroup) -> Mapped:
        records = map_minute_group(group, self._binding_of(group.device), self._mode)
        return Mapped(group.device, tuple(f.seq for f, _ in group.frames), tuple(records))


def frames_to_observations(
    frames: Iterable[Frame],
    binding: DeviceBinding,
    mode: GroupMode = GroupMode.SUMMARY,
) -> list[ObservationRecord]:
    """Every Observation a finished sequence of frames yields (all minutes closed); pure."""
    mapping = FrameMapping(lambda _device: binding, mode)
    out: list[ObservationRecord] = []
    for frame in frames:
        for mapped in mapping.add(frame, decode(frame.uuid, frame.data)):
            out.extend(mapped.records)
    for mapped in mapping.close_all():
        out.extend(mapped.records)
    return out
