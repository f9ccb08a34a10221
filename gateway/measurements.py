"""Decoded GATT measurements: one frozen dataclass per characteristic, every field kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.codes import (
    HEIGHT_RESOLUTIONS,
    WEIGHT_RESOLUTIONS,
    BloodPressureStatus,
    GlucoseSensorStatus,
    GlucoseUnit,
    PlxDeviceSensorStatus,
    PlxMeasurementStatus,
    PlxSupportedFeatures,
    PressureUnit,
    TemperatureUnit,
    WeightScaleFeatures,
    WeightUnit,
)
from gateway.ieee11073 import Numeric


@dataclass(frozen=True, slots=True)
class GattDateTime:
    """Date Time 0x2A08 (GSS 3.70): year, month or day 0 means 'not known' (kept as None)."""

    year: int | None
    month: int | None
    day: int | None
    hour: int
    minute: int
    second: int

    def to_datetime(self) -> datetime | None:
        """The instant, read as UTC (devices carry no zone); None if the date is incomplete."""
        if self.year is None or self.month is None or self.day is None:
            return None
        try:
            return datetime(
                self.year, self.month, self.day, self.hour, self.minute, self.second, tzinfo=UTC
            )
        except ValueError:
            return None  # e.g. 31 February: a device clock we cannot trust


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    """Heart Rate Measurement 0x2A37; sensor_contact None when the sensor cannot tell."""

    bpm: int
    sensor_contact: bool | None = None
    energy_expended_kj: int | None = None
    rr_intervals_s: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class BloodPressureMeasurement:
    """Blood Pressure Measurement 0x2A35; pressures in `unit`."""

    systolic: Numeric
    diastolic: Numeric
    mean_arterial_pressure: Numeric
    unit: PressureUnit
    timestamp: GattDateTime | None = None
    pulse_rate_bpm: Numeric | None = None
    user_id: int | None = None
    status: BloodPressureStatus | None = None


@dataclass(frozen=True, slots=True)
class IntermediateCuffPressure:
    """Intermediate Cuff Pressure 0x2A36; the diastolic and mean fields are unused (NaN)."""

    cuff_pressure: Numeric
    unit: PressureUnit
    unused_diastolic: Numeric
    unused_mean_arterial_pressure: Numeric
    timestamp: GattDateTime | None = None
    pulse_rate_bpm: Numeric | None = None
    user_id: int | None = None
    status: BloodPressureStatus | None = None


@dataclass(frozen=True, slots=True)
class TemperatureMeasurement:
    """Temperature Measurement 0x2A1C; temperature_type as Temperature Type 0x2A1D."""

    temperature: Numeric
    unit: TemperatureUnit
    timestamp: GattDateTime | None = None
    temperature_type: int | None = None


@dataclass(frozen=True, slots=True)
class WeightMeasurement:
    """Weight Measurement 0x2A9D; SI means kg and m, imperial lb and in."""

    weight: float | None  # None: "measurement unsuccessful" (0xFFFF)
    unit: WeightUnit
    timestamp: GattDateTime | None = None
    user_id: int | None = None
    bmi: float | None = None
    height: float | None = None


@dataclass(frozen=True, slots=True)
class WeightScaleFeature:
    """Weight Scale Feature 0x2A9E; resolution indexes as sent (0 = not specified)."""

    features: WeightScaleFeatures
    weight_resolution_index: int
    height_resolution_index: int
    raw: int

    @property
    def weight_resolution_kg(self) -> float | None:
        """Weight resolution in kg, if specified."""
        entry = WEIGHT_RESOLUTIONS.get(self.weight_resolution_index)
        return entry[0] if entry else None

    @property
    def height_resolution_m(self) -> float | None:
        """Height resolution in m, if specified."""
        entry = HEIGHT_RESOLUTIONS.get(self.height_resolution_index)
        return entry[0] if entry else None


@dataclass(frozen=True, slots=True)
class GlucoseMeasurement:
    """Glucose Measurement 0x2A18; time_offset in minutes from base_time."""

    sequence_number: int
    base_time: GattDateTime
    time_offset_minutes: int | None = None
    concentration: Numeric | None = None
    unit: GlucoseUnit | None = None
    glucose_type: int | None = None
    sample_location: int | None = None
    sensor_status: GlucoseSensorStatus | None = None
    context_information_follows: bool = False


@dataclass(frozen=True, slots=True)
class PlxSpotCheckMeasurement:
    """PLX Spot-check Measurement 0x2A5E."""

    spo2_pct: Numeric
    pulse_rate_bpm: Numeric
    timestamp: GattDateTime | None = None
    measurement_status: PlxMeasurementStatus | None = None
    device_sensor_status: PlxDeviceSensorStatus | None = None
    pulse_amplitude_index_pct: Numeric | None = None
    device_clock_not_set: bool = False


@dataclass(frozen=True, slots=True)
class PlxContinuousMeasurement:
    """PLX Continuous Measurement 0x2A5F: normal, fast and slow SpO2/PR averages."""

    spo2_pct: Numeric
    pulse_rate_bpm: Numeric
    spo2_fast_pct: Numeric | None = None
    pulse_rate_fast_bpm: Numeric | None = None
    spo2_slow_pct: Numeric | None = None
    pulse_rate_slow_bpm: Numeric | None = None
    measurement_status: PlxMeasurementStatus | None = None
    device_sensor_status: PlxDeviceSensorStatus | None = None
    pulse_amplitude_index_pct: Numeric | None = None


@dataclass(frozen=True, slots=True)
class PlxFeatures:
    """PLX Features 0x2A60: what the oximeter supports."""

    supported: PlxSupportedFeatures
    measurement_status_support: PlxMeasurementStatus | None = None
    device_sensor_status_support: PlxDeviceSensorStatus | None = None


Measurement = (
    HeartRateMeasurement
    | BloodPressureMeasurement
    | IntermediateCuffPressure
    | TemperatureMeasurement
    | WeightMeasurement
    | GlucoseMeasurement
    | PlxSpotCheckMeasurement
    | PlxContinuousMeasurement
)
Feature = WeightScaleFeature | PlxFeatures
Decoded = Measurement | Feature
