"""Continuous streams -> one Observation per device, characteristic and minute (pure).

Heart Rate Measurement (~1 Hz) and PLX Continuous frames are grouped per minute of
receipt time by `MinuteAggregator`; each closed minute becomes one Observation whose value
is the mean, with minimum, maximum and sample count as components. `GroupMode.SAMPLED_DATA`
adds the samples themselves as a SampledData component (FHIR R4 §2.24.0.x SampledData).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from gateway.codes import (
    GATEWAY_CODE_SYSTEM,
    UCUM,
    CharacteristicUuid,
    SpecialValue,
    VitalCode,
)
from gateway.frames import DeviceBinding, Frame, ObservationRecord
from gateway.ieee11073 import Numeric
from gateway.measurements import HeartRateMeasurement, PlxContinuousMeasurement
from gateway.observation_json import (
    SPO2_EXTRA,
    Json,
    Kind,
    absent,
    coding,
    flag_codings,
    observation,
    observation_identifier,
    quantity,
    vital_code,
)

StreamMeasurement = HeartRateMeasurement | PlxContinuousMeasurement
STREAM_TYPES = (HeartRateMeasurement, PlxContinuousMeasurement)


class GroupMode(StrEnum):
    """How a minute of continuous samples becomes one Observation."""

    SUMMARY = "summary"
    SAMPLED_DATA = "sampled-data"


@dataclass(slots=True)
class MinuteGroup:
    """The samples of one continuous characteristic of one device in one minute."""

    device: str
    uuid: CharacteristicUuid
    minute: datetime
    frames: list[tuple[Frame, StreamMeasurement]] = field(default_factory=list)


def minute_of(moment: datetime) -> datetime:
    """The start of the UTC minute holding a moment."""
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _summary(
    binding: DeviceBinding,
    group: MinuteGroup,
    kind: Kind,
    vital: VitalCode,
    unit: str,
    ucum: str,
    samples: Sequence[float | None],
    mode: GroupMode,
    status: Sequence[Json],
    code_extra: Sequence[Json] = (),
) -> ObservationRecord:
    values = [s for s in samples if s is not None]
    period = (group.minute, group.minute + timedelta(minutes=1))
    body: Json
    if values:
        body = {"valueQuantity": quantity(statistics.fmean(values), unit, ucum)}
        components: list[Json] = [
            {
                "code": {"coding": [coding(GATEWAY_CODE_SYSTEM, "minimum", "minimum")]},
                "valueQuantity": quantity(min(values), unit, ucum),
            },
            {
                "code": {"coding": [coding(GATEWAY_CODE_SYSTEM, "maximum", "maximum")]},
                "valueQuantity": quantity(max(values), unit, ucum),
            },
        ]
    else:
        body = {"dataAbsentReason": absent(SpecialValue.NAN)}
        components = []
    components.append(
        {
            "code": {"coding": [coding(GATEWAY_CODE_SYSTEM, "sample-count", "sample count")]},
            "valueInteger": len(samples),
        }
    )
    if mode is GroupMode.SAMPLED_DATA:
        # One slot per second of the minute; "E" marks seconds with no usable sample.
        slots = ["E"] * 60
        for (frame, _), sample in zip(group.frames, samples, strict=True):
            if sample is not None:
                slots[min(59, frame.received_at.astimezone(UTC).second)] = f"{sample:g}"
        components.append(
            {
                "code": vital_code(vital, code_extra),
                "valueSampledData": {
                    "origin": {"value": 0, "unit": unit, "system": UCUM, "code": ucum},
                    "period": 1000,
                    "dimensions": 1,
                    "data": " ".join(slots),
                },
            }
        )
    body["component"] = components
    return observation(
        binding,
        kind,
        observation_identifier(binding.device_id, kind, group.minute),
        vital,
        period,
        body,
        status,
        code_extra,
    )


def _number(value: Numeric | None) -> float | None:
    return None if value is None or isinstance(value, SpecialValue) else float(value)


def map_minute_group(
    group: MinuteGroup, binding: DeviceBinding, mode: GroupMode = GroupMode.SUMMARY
) -> list[ObservationRecord]:
    """Observations summarising one minute of a continuous stream."""
    if group.uuid is CharacteristicUuid.HEART_RATE_MEASUREMENT:
        samples: list[float | None] = []
        no_contact = 0
        for _, m in group.frames:
            assert isinstance(m, HeartRateMeasurement)
            # A strap that reports no skin contact gives no usable beat rate.
            if m.sensor_contact is False:
                no_contact += 1
                samples.append(None)
            else:
                samples.append(float(m.bpm))
        status = (
            [
                coding(
                    GATEWAY_CODE_SYSTEM,
                    "sensor-contact-lost",
                    f"no contact in {no_contact} samples",
                )
            ]
            if no_contact
            else []
        )
        return [
            _summary(
                binding,
                group,
                Kind.HEART_RATE_MINUTE,
                VitalCode.HEART_RATE,
                "beats/minute",
                "/min",
                samples,
                mode,
                status,
            )
        ]
    spo2: list[float | None] = []
    pulse: list[float | None] = []
    flags: list[Json] = []
    seen: set[str] = set()
    for _, m in group.frames:
        assert isinstance(m, PlxContinuousMeasurement)
        spo2.append(_number(m.spo2_pct))
        pulse.append(_number(m.pulse_rate_bpm))
        for flag in flag_codings(m.measurement_status, m.device_sensor_status):
            if flag["code"] not in seen:
                seen.add(flag["code"])
                flags.append(flag)
    return [
        _summary(
            binding,
            group,
            Kind.SPO2_MINUTE,
            VitalCode.OXYGEN_SATURATION,
            "%",
            "%",
            spo2,
            mode,
            flags,
            SPO2_EXTRA,
        ),
        _summary(
            binding,
            group,
            Kind.PULSE_RATE_MINUTE,
            VitalCode.HEART_RATE,
            "beats/minute",
            "/min",
            pulse,
            mode,
            flags,
        ),
    ]


class MinuteAggregator:
    """Collects continuous frames per (device, characteristic, minute); hands back closed minutes."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, CharacteristicUuid], MinuteGroup] = {}

    def add(self, frame: Frame, measurement: StreamMeasurement) -> list[MinuteGroup]:
        """Add a frame; returns the group it closed, if it starts a new minute."""
        key = (frame.device, frame.uuid)
        minute = minute_of(frame.received_at)
        group = self._open.get(key)
        closed: list[MinuteGroup] = []
        if group is not None and group.minute != minute:
            closed.append(group)
            group = None
        if group is None:
            group = MinuteGroup(frame.device, frame.uuid, minute)
            self._open[key] = group
        group.frames.append((frame, measurement))
        return closed

    def close_before(self, moment: datetime) -> list[MinuteGroup]:
        """Close every group whose minute ended at or before `moment`."""
        closed = [g for g in self._open.values() if g.minute + timedelta(minutes=1) <= moment]
        for group in closed:
            del self._open[(group.device, group.uuid)]
        return closed
