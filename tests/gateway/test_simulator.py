"""Simulator: real GATT bytes, plausible physiology, dropouts and deterioration."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

from gateway.codes import CharacteristicUuid, SpecialValue
from gateway.decoders import decode
from gateway.encoders import (
    encode_blood_pressure,
    encode_glucose,
    encode_plx_continuous,
    encode_plx_spot_check,
    encode_temperature,
    encode_weight,
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
from gateway.physiology import Episode, Physiology, vitals_at
from gateway.simulator import (
    Profile,
    Schedule,
    VirtualDevice,
    device_frames,
    feature_frames,
    merged_frames,
)

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def test_every_profile_emits_frames_that_decode() -> None:
    devices = [VirtualDevice(f"C0:FF:EE:00:03:0{i}", p, seed=i) for i, p in enumerate(Profile)]
    schedule = Schedule(
        blood_pressure_every_s=600,
        temperature_every_s=600,
        weight_every_s=1800,
        glucose_every_s=1800,
        spot_check_every_s=300,
    )
    frames = list(merged_frames(devices, T0, T0 + timedelta(hours=1), schedule))
    assert [f.received_at for f in frames] == sorted(f.received_at for f in frames)
    kinds = {f.uuid for f in frames}
    assert kinds >= {
        CharacteristicUuid.HEART_RATE_MEASUREMENT,
        CharacteristicUuid.PLX_CONTINUOUS_MEASUREMENT,
        CharacteristicUuid.PLX_SPOT_CHECK_MEASUREMENT,
        CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT,
        CharacteristicUuid.INTERMEDIATE_CUFF_PRESSURE,
        CharacteristicUuid.TEMPERATURE_MEASUREMENT,
        CharacteristicUuid.WEIGHT_MEASUREMENT,
        CharacteristicUuid.GLUCOSE_MEASUREMENT,
    }
    for frame in frames:
        decode(frame.uuid, frame.data)
    for device in devices:
        for uuid, data in feature_frames(device).items():
            decode(uuid, data)


def test_plausible_heart_rate_with_dropouts() -> None:
    device = VirtualDevice("C0:FF:EE:00:03:10", Profile.HEART_RATE, seed=3)
    frames = list(device_frames(device, T0, T0 + timedelta(hours=2)))
    hr = [decode(f.uuid, f.data) for f in frames]
    assert all(isinstance(m, HeartRateMeasurement) for m in hr)
    bpm = [m.bpm for m in hr if isinstance(m, HeartRateMeasurement)]
    assert 55 < statistics.mean(bpm) < 90
    assert statistics.stdev(bpm) > 1.0  # noise, not a constant
    no_contact = [
        m for m in hr if isinstance(m, HeartRateMeasurement) and m.sensor_contact is False
    ]
    assert no_contact  # some contact loss
    assert len(frames) < 7200  # some seconds missing (strap off)


def test_deterioration_episode_moves_vitals_the_right_way() -> None:
    episode = Episode(T0 + timedelta(hours=1), timedelta(hours=3))
    physiology = Physiology(episodes=(episode,))
    before = vitals_at(physiology, T0, 7)
    during = vitals_at(physiology, T0 + timedelta(hours=2, minutes=30), 7)
    assert during.heart_rate_bpm > before.heart_rate_bpm + 20
    assert during.spo2_pct < before.spo2_pct - 4
    assert during.temperature_c > before.temperature_c + 1.0
    assert during.systolic_mmhg < before.systolic_mmhg - 10


def test_oximeter_sends_nan_when_the_probe_is_off() -> None:
    device = VirtualDevice("C0:FF:EE:00:03:11", Profile.PULSE_OXIMETER, seed=5)
    frames = list(device_frames(device, T0, T0 + timedelta(hours=1)))
    decoded = [decode(f.uuid, f.data) for f in frames]
    continuous = [m for m in decoded if isinstance(m, PlxContinuousMeasurement)]
    assert any(m.spo2_pct is SpecialValue.NAN for m in continuous)
    numbers = [m.spo2_pct for m in continuous if isinstance(m.spo2_pct, float)]
    assert 90 <= statistics.mean(numbers) <= 100
    assert any(isinstance(m, PlxSpotCheckMeasurement) for m in decoded)


def test_encoders_write_what_the_decoders_read() -> None:
    """Encoders are checked against the vector-tested decoders, never the other way round."""
    device = VirtualDevice("C0:FF:EE:00:03:12", Profile.BLOOD_PRESSURE, seed=9)
    for frame in device_frames(device, T0, T0 + timedelta(hours=2)):
        m = decode(frame.uuid, frame.data)
        if isinstance(m, BloodPressureMeasurement):
            assert encode_blood_pressure(m) == frame.data
    samples = [
        (TemperatureMeasurement, encode_temperature, Profile.THERMOMETER),
        (WeightMeasurement, encode_weight, Profile.WEIGHT_SCALE),
        (GlucoseMeasurement, encode_glucose, Profile.GLUCOSE_METER),
    ]
    for kind, encoder, profile in samples:
        device = VirtualDevice("C0:FF:EE:00:03:13", profile, seed=2)
        for frame in device_frames(device, T0, T0 + timedelta(days=1)):
            m = decode(frame.uuid, frame.data)
            assert isinstance(m, kind)
            assert encoder(m) == frame.data  # type: ignore[operator]
    oximeter = VirtualDevice("C0:FF:EE:00:03:14", Profile.PULSE_OXIMETER, seed=2)
    for frame in device_frames(oximeter, T0, T0 + timedelta(minutes=20)):
        m = decode(frame.uuid, frame.data)
        if isinstance(m, PlxContinuousMeasurement):
            assert encode_plx_continuous(m) == frame.data
        elif isinstance(m, PlxSpotCheckMeasurement):
            assert encode_plx_spot_check(m) == frame.data
