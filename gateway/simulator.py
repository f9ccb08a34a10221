"""Virtual health devices that emit real GATT bytes (pure, deterministic per seed).

Each profile produces the frames a real device of that kind sends, encoded with
`gateway.encoders`, so they travel the same decode -> map path as radio traffic.
The true vitals come from `gateway.physiology`; the devices add sample noise and
occasional dropouts (no contact, probe off -> NaN, a strap taken off for a while).
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from gateway.codes import (
    BloodPressureStatus,
    CharacteristicUuid,
    GlucoseUnit,
    PlxDeviceSensorStatus,
    PlxMeasurementStatus,
    PlxSupportedFeatures,
    PressureUnit,
    ServiceUuid,
    SpecialValue,
    TemperatureType,
    TemperatureUnit,
    WeightScaleFeatures,
    WeightUnit,
)
from gateway.encoders import (
    encode_blood_pressure,
    encode_glucose,
    encode_heart_rate,
    encode_intermediate_cuff_pressure,
    encode_plx_continuous,
    encode_plx_features,
    encode_plx_spot_check,
    encode_temperature,
    encode_weight,
    encode_weight_scale_feature,
)
from gateway.frames import Frame
from gateway.ieee11073 import Numeric
from gateway.measurements import (
    BloodPressureMeasurement,
    GattDateTime,
    GlucoseMeasurement,
    HeartRateMeasurement,
    IntermediateCuffPressure,
    PlxContinuousMeasurement,
    PlxFeatures,
    PlxSpotCheckMeasurement,
    TemperatureMeasurement,
    WeightMeasurement,
    WeightScaleFeature,
)
from gateway.physiology import Physiology, vitals_at


class Profile(StrEnum):
    """The kinds of virtual device."""

    HEART_RATE = "heart-rate"
    PULSE_OXIMETER = "pulse-oximeter"
    BLOOD_PRESSURE = "blood-pressure"
    THERMOMETER = "thermometer"
    WEIGHT_SCALE = "weight-scale"
    GLUCOSE_METER = "glucose-meter"


PROFILE_SERVICE: dict[Profile, ServiceUuid] = {
    Profile.HEART_RATE: ServiceUuid.HEART_RATE,
    Profile.PULSE_OXIMETER: ServiceUuid.PULSE_OXIMETER,
    Profile.BLOOD_PRESSURE: ServiceUuid.BLOOD_PRESSURE,
    Profile.THERMOMETER: ServiceUuid.HEALTH_THERMOMETER,
    Profile.WEIGHT_SCALE: ServiceUuid.WEIGHT_SCALE,
    Profile.GLUCOSE_METER: ServiceUuid.GLUCOSE,
}


@dataclass(frozen=True, slots=True)
class Schedule:
    """How often each kind of reading is taken (seconds)."""

    continuous_period_s: float = 1.0
    blood_pressure_every_s: float = 1800.0
    temperature_every_s: float = 1800.0
    weight_every_s: float = 86400.0
    glucose_every_s: float = 4 * 3600.0
    spot_check_every_s: float = 900.0
    # Continuous devices are worn in sessions: None means always worn.
    wear_session_s: float | None = None
    wear_sessions_per_day: int = 4


@dataclass(frozen=True, slots=True)
class VirtualDevice:
    """One simulated peripheral: identity, profile and the patient it measures."""

    address: str
    profile: Profile
    physiology: Physiology = field(default_factory=Physiology)
    seed: int = 1
    manufacturer: str = "carebot simulated devices"
    model: str = ""
    serial: str = ""

    @property
    def name(self) -> str:
        """The advertised local name."""
        return f"carebot-{self.profile.value}-{self.address[-5:].replace(':', '')}"

    @property
    def model_number(self) -> str:
        """Device Information: Model Number String."""
        return self.model or f"SIM-{self.profile.value.upper()}"

    @property
    def serial_number(self) -> str:
        """Device Information: Serial Number String."""
        return self.serial or f"SN{self.address.replace(':', '')}"

    @property
    def service(self) -> ServiceUuid:
        """The primary health service it exposes."""
        return PROFILE_SERVICE[self.profile]


def feature_frames(device: VirtualDevice) -> dict[CharacteristicUuid, bytes]:
    """Values of the device's readable feature characteristics."""
    if device.profile is Profile.PULSE_OXIMETER:
        supported = (
            PlxSupportedFeatures.MEASUREMENT_STATUS_SUPPORTED
            | PlxSupportedFeatures.DEVICE_SENSOR_STATUS_SUPPORTED
            | PlxSupportedFeatures.SPOT_CHECK_TIME_STAMP_SUPPORTED
            | PlxSupportedFeatures.PULSE_AMPLITUDE_INDEX_SUPPORTED
        )
        features = PlxFeatures(
            supported,
            PlxMeasurementStatus.VALIDATED_DATA | PlxMeasurementStatus.MEASUREMENT_UNAVAILABLE,
            PlxDeviceSensorStatus.SENSOR_DISCONNECTED | PlxDeviceSensorStatus.LOW_PERFUSION,
        )
        return {CharacteristicUuid.PLX_FEATURES: encode_plx_features(features)}
    if device.profile is Profile.WEIGHT_SCALE:
        feature = WeightScaleFeature(
            WeightScaleFeatures.TIME_STAMP_SUPPORTED | WeightScaleFeatures.BMI_SUPPORTED,
            7,
            3,
            0,
        )
        return {CharacteristicUuid.WEIGHT_SCALE_FEATURE: encode_weight_scale_feature(feature)}
    return {}


def _stamp(moment: datetime) -> GattDateTime:
    m = moment.astimezone(UTC)
    return GattDateTime(m.year, m.month, m.day, m.hour, m.minute, m.second)


def wear_intervals(
    schedule: Schedule, start: datetime, end: datetime, seed: int
) -> list[tuple[float, float]]:
    """The [start, end) epoch-second spans in which a continuous device is worn."""
    if schedule.wear_session_s is None:
        return [(start.timestamp(), end.timestamp())]
    spans: list[tuple[float, float]] = []
    day = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    slot = 86400 / schedule.wear_sessions_per_day
    while day < end:
        rng = random.Random(f"{seed}:{day.date().isoformat()}")
        for index in range(schedule.wear_sessions_per_day):
            offset = index * slot + rng.uniform(0, max(0.0, slot - schedule.wear_session_s))
            begin = day.timestamp() + offset
            finish = begin + schedule.wear_session_s
            lo, hi = max(begin, start.timestamp()), min(finish, end.timestamp())
            if lo < hi:
                spans.append((lo, hi))
        day += timedelta(days=1)
    return spans


def _ticks(spans: Sequence[tuple[float, float]], period: float) -> Iterator[float]:
    for lo, hi in spans:
        t = math.ceil(lo / period) * period
        while t < hi:
            yield t
            t += period


def _aligned_times(
    start: datetime, end: datetime, every: float, jitter: float, rng: random.Random
) -> Iterator[datetime]:
    epoch = start.timestamp()
    first = math.ceil(epoch / every) * every
    t = first
    while t < end.timestamp():
        yield datetime.fromtimestamp(t + rng.uniform(0, jitter), UTC)
        t += every


def _heart_rate_frames(
    device: VirtualDevice, start: datetime, end: datetime, schedule: Schedule
) -> Iterator[Frame]:
    rng = random.Random(f"{device.seed}:hr:{start.isoformat()}")
    off_until = 0.0
    energy = 0
    for t in _ticks(
        wear_intervals(schedule, start, end, device.seed), schedule.continuous_period_s
    ):
        if t < off_until:
            continue
        if rng.random() < 0.0005:  # strap taken off for 10-90 s
            off_until = t + rng.uniform(10, 90)
            continue
        moment = datetime.fromtimestamp(t, UTC)
        vitals = vitals_at(device.physiology, moment, device.seed)
        bpm = max(30, min(250, round(vitals.heart_rate_bpm + rng.gauss(0, 1.5))))
        contact = rng.random() > 0.01
        rr = tuple(round(60.0 / bpm + rng.gauss(0, 0.02), 4) for _ in range(rng.choice((1, 1, 2))))
        energy += 1
        m = HeartRateMeasurement(
            bpm, contact, energy if int(t) % 10 == 0 else None, rr if contact else ()
        )
        yield Frame(
            device.address,
            CharacteristicUuid.HEART_RATE_MEASUREMENT,
            encode_heart_rate(m),
            moment,
        )


def _oximeter_frames(
    device: VirtualDevice, start: datetime, end: datetime, schedule: Schedule
) -> Iterator[Frame]:
    rng = random.Random(f"{device.seed}:plx:{start.isoformat()}")
    every = schedule.spot_check_every_s
    for moment in _aligned_times(start, end, every, 0.0, random.Random(0)):
        vitals = vitals_at(device.physiology, moment, device.seed)
        spot = PlxSpotCheckMeasurement(
            float(min(100, round(vitals.spo2_pct + rng.gauss(0, 0.5)))),
            float(round(vitals.heart_rate_bpm + rng.gauss(0, 1.0))),
            _stamp(moment),
            PlxMeasurementStatus.VALIDATED_DATA,
            PlxDeviceSensorStatus(0),
            round(rng.uniform(2, 8), 1),
        )
        yield Frame(
            device.address,
            CharacteristicUuid.PLX_SPOT_CHECK_MEASUREMENT,
            encode_plx_spot_check(spot),
            moment,
        )
    for t in _ticks(
        wear_intervals(schedule, start, end, device.seed), schedule.continuous_period_s
    ):
        moment = datetime.fromtimestamp(t, UTC)
        vitals = vitals_at(device.physiology, moment, device.seed)
        probe_off = rng.random() < 0.003
        spo2: Numeric = (
            SpecialValue.NAN
            if probe_off
            else float(min(100, round(vitals.spo2_pct + rng.gauss(0, 0.6))))
        )
        pulse: Numeric = (
            SpecialValue.NAN
            if probe_off
            else float(round(vitals.heart_rate_bpm + rng.gauss(0, 1.2)))
        )
        cont = PlxContinuousMeasurement(
            spo2,
            pulse,
            measurement_status=(
                PlxMeasurementStatus.MEASUREMENT_UNAVAILABLE
                if probe_off
                else PlxMeasurementStatus.VALIDATED_DATA
            ),
            device_sensor_status=(
                PlxDeviceSensorStatus.SENSOR_DISCONNECTED if probe_off else PlxDeviceSensorStatus(0)
            ),
        )
        yield Frame(
            device.address,
            CharacteristicUuid.PLX_CONTINUOUS_MEASUREMENT,
            encode_plx_continuous(cont),
            moment + timedelta(milliseconds=1),
        )


def _blood_pressure_frames(
    device: VirtualDevice, start: datetime, end: datetime, schedule: Schedule
) -> Iterator[Frame]:
    rng = random.Random(f"{device.seed}:bp:{start.isoformat()}")
    for moment in _aligned_times(start, end, schedule.blood_pressure_every_s, 30.0, rng):
        for step, pressure in enumerate((60, 110, 150, 170, 130, 95)):
            icp = IntermediateCuffPressure(
                float(pressure), PressureUnit.MMHG, SpecialValue.NAN, SpecialValue.NAN, user_id=1
            )
            yield Frame(
                device.address,
                CharacteristicUuid.INTERMEDIATE_CUFF_PRESSURE,
                encode_intermediate_cuff_pressure(icp),
                moment - timedelta(seconds=6 - step),
            )
        vitals = vitals_at(device.physiology, moment, device.seed)
        systolic = round(vitals.systolic_mmhg + rng.gauss(0, 4))
        diastolic = round(vitals.diastolic_mmhg + rng.gauss(0, 3))
        status = BloodPressureStatus(0)
        if rng.random() < 0.05:
            status |= BloodPressureStatus.BODY_MOVEMENT_DETECTED
        if vitals.heart_rate_bpm > 100:
            status |= BloodPressureStatus.PULSE_RATE_EXCEEDS_UPPER_LIMIT
        m = BloodPressureMeasurement(
            float(systolic),
            float(diastolic),
            float(round(diastolic + (systolic - diastolic) / 3)),
            PressureUnit.MMHG,
            _stamp(moment),
            float(round(vitals.heart_rate_bpm + rng.gauss(0, 2))),
            1,
            status,
        )
        yield Frame(
            device.address,
            CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT,
            encode_blood_pressure(m),
            moment,
        )


def _thermometer_frames(
    device: VirtualDevice, start: datetime, end: datetime, schedule: Schedule
) -> Iterator[Frame]:
    rng = random.Random(f"{device.seed}:temp:{start.isoformat()}")
    for moment in _aligned_times(start, end, schedule.temperature_every_s, 60.0, rng):
        vitals = vitals_at(device.physiology, moment, device.seed)
        m = TemperatureMeasurement(
            round(vitals.temperature_c + rng.gauss(0, 0.1), 2),
            TemperatureUnit.CELSIUS,
            _stamp(moment),
            int(TemperatureType.EAR),
        )
        yield Frame(
            device.address,
            CharacteristicUuid.TEMPERATURE_MEASUREMENT,
            encode_temperature(m),
            moment,
        )


def _scale_frames(
    device: VirtualDevice, start: datetime, end: datetime, schedule: Schedule
) -> Iterator[Frame]:
    rng = random.Random(f"{device.seed}:weight:{start.isoformat()}")
    height = device.physiology.height_m
    for moment in _aligned_times(start, end, schedule.weight_every_s, 600.0, rng):
        vitals = vitals_at(device.physiology, moment, device.seed)
        weight = round((vitals.weight_kg + rng.gauss(0, 0.2)) * 200) / 200
        m = WeightMeasurement(
            weight,
            WeightUnit.SI,
            _stamp(moment),
            1,
            round(weight / (height * height), 1),
            height,
        )
        yield Frame(device.address, CharacteristicUuid.WEIGHT_MEASUREMENT, encode_weight(m), moment)


def _glucose_frames(
    device: VirtualDevice, start: datetime, end: datetime, schedule: Schedule
) -> Iterator[Frame]:
    rng = random.Random(f"{device.seed}:glucose:{start.isoformat()}")
    sequence = int(start.timestamp() // schedule.glucose_every_s) % 0x10000
    for moment in _aligned_times(start, end, schedule.glucose_every_s, 300.0, rng):
        sequence = (sequence + 1) % 0x10000
        vitals = vitals_at(device.physiology, moment, device.seed)
        mg_dl = round(vitals.glucose_mg_dl + rng.gauss(0, 6))
        m = GlucoseMeasurement(
            sequence,
            _stamp(moment),
            0,
            mg_dl / 100000,  # kg/L
            GlucoseUnit.KG_PER_L,
            1,  # capillary whole blood
            1,  # finger
        )
        yield Frame(
            device.address, CharacteristicUuid.GLUCOSE_MEASUREMENT, encode_glucose(m), moment
        )


_GENERATORS = {
    Profile.HEART_RATE: _heart_rate_frames,
    Profile.PULSE_OXIMETER: _oximeter_frames,
    Profile.BLOOD_PRESSURE: _blood_pressure_frames,
    Profile.THERMOMETER: _thermometer_frames,
    Profile.WEIGHT_SCALE: _scale_frames,
    Profile.GLUCOSE_METER: _glucose_frames,
}


def device_frames(
    device: VirtualDevice, start: datetime, end: datetime, schedule: Schedule | None = None
) -> Iterator[Frame]:
    """Frames one virtual device sends in [start, end), in time order."""
    frames = _GENERATORS[device.profile](device, start, end, schedule or Schedule())
    return iter(sorted(frames, key=lambda f: f.received_at))


def merged_frames(
    devices: Sequence[VirtualDevice],
    start: datetime,
    end: datetime,
    schedule: Schedule | None = None,
) -> Iterator[Frame]:
    """Frames of several devices, merged in time order."""
    return heapq.merge(
        *(device_frames(d, start, end, schedule) for d in devices), key=lambda f: f.received_at
    )
