"""Decoded measurements as JSON: snake_case names, units in the name, specials as strings."""

from __future__ import annotations

import dataclasses
import json
from enum import Enum, IntFlag

from gateway.codes import (
    GlucoseSampleLocation,
    GlucoseType,
    PressureUnit,
    SpecialValue,
    TemperatureType,
    TemperatureUnit,
    WeightUnit,
)
from gateway.measurements import (
    BloodPressureMeasurement,
    Decoded,
    GattDateTime,
    GlucoseMeasurement,
    HeartRateMeasurement,
    IntermediateCuffPressure,
    TemperatureMeasurement,
    WeightMeasurement,
    WeightScaleFeature,
)

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]

_RENAMES = {"bpm": "heart_rate_bpm"}
_PRESSURE_FIELDS = ("systolic", "diastolic", "mean_arterial_pressure", "cuff_pressure")
_PRESSURE_FIELDS_ICP = ("cuff_pressure", "unused_diastolic", "unused_mean_arterial_pressure")


def _unit_suffixes(decoded: Decoded) -> dict[str, str]:
    """Field -> unit suffix, for fields whose unit depends on a flag."""
    if isinstance(decoded, BloodPressureMeasurement | IntermediateCuffPressure):
        suffix = "mmhg" if decoded.unit is PressureUnit.MMHG else "kpa"
        return {name: suffix for name in (*_PRESSURE_FIELDS, *_PRESSURE_FIELDS_ICP)}
    if isinstance(decoded, TemperatureMeasurement):
        return {"temperature": "c" if decoded.unit is TemperatureUnit.CELSIUS else "f"}
    if isinstance(decoded, WeightMeasurement):
        si = decoded.unit is WeightUnit.SI
        return {"weight": "kg" if si else "lb", "height": "m" if si else "in", "bmi": "kg_m2"}
    if isinstance(decoded, GlucoseMeasurement) and decoded.unit is not None:
        return {"concentration": decoded.unit.value}
    return {}


def _flag_names(flags: IntFlag) -> list[JsonValue]:
    names: list[JsonValue] = [
        member.name.lower() for member in type(flags) if member.name and member in flags
    ]
    known = 0
    for member in type(flags):
        known |= member.value
    if int(flags) & ~known:
        names.append(f"reserved_0x{int(flags) & ~known:x}")
    return names


def _date_time(value: GattDateTime) -> dict[str, JsonValue]:
    out: dict[str, JsonValue] = {
        "year": value.year,
        "month": value.month,
        "day": value.day,
        "hour": value.hour,
        "minute": value.minute,
        "second": value.second,
    }
    instant = value.to_datetime()
    out["iso"] = instant.replace(tzinfo=None).isoformat() if instant else None
    return out


def _value(value: object) -> JsonValue:
    if value is None or (isinstance(value, bool | str) and not isinstance(value, Enum)):
        return value
    if isinstance(value, SpecialValue):
        return value.value
    if isinstance(value, IntFlag):
        return {"raw": int(value), "flags": _flag_names(value)}
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, GattDateTime):
        return _date_time(value)
    if isinstance(value, tuple):
        return [_value(item) for item in value]
    raise TypeError(f"no JSON form for {type(value).__name__}")


def to_json_object(decoded: Decoded) -> dict[str, JsonValue]:
    """The JSON object for a decoded measurement or feature."""
    suffixes = _unit_suffixes(decoded)
    out: dict[str, JsonValue] = {"type": _type_name(decoded)}
    for field in dataclasses.fields(decoded):
        value = getattr(decoded, field.name)
        name = field.name
        if name in suffixes:
            name = f"{name}_{suffixes[name]}"
        name = _RENAMES.get(name, name)
        out[name] = _value(value)
    if isinstance(decoded, HeartRateMeasurement):
        out["rr_intervals_raw_1_1024s"] = [round(rr * 1024) for rr in decoded.rr_intervals_s]
    if isinstance(decoded, WeightScaleFeature):
        out["weight_resolution_kg"] = decoded.weight_resolution_kg
        out["height_resolution_m"] = decoded.height_resolution_m
    if isinstance(decoded, TemperatureMeasurement) and decoded.temperature_type is not None:
        out["temperature_type_name"] = _enum_name(TemperatureType, decoded.temperature_type)
    if isinstance(decoded, GlucoseMeasurement):
        if decoded.glucose_type is not None:
            out["glucose_type_name"] = _enum_name(GlucoseType, decoded.glucose_type)
        if decoded.sample_location is not None:
            out["sample_location_name"] = _enum_name(GlucoseSampleLocation, decoded.sample_location)
    return out


def _enum_name(enum: type[TemperatureType | GlucoseType | GlucoseSampleLocation], raw: int) -> str:
    try:
        return enum(raw).name.lower()
    except ValueError:
        return "reserved"


def _type_name(decoded: Decoded) -> str:
    name = type(decoded).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def to_json_text(decoded: Decoded) -> str:
    """One JSON document (indented) for a decoded measurement."""
    return json.dumps(to_json_object(decoded), indent=2)
