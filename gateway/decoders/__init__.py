"""Pure GATT decoders: bytes as received in a notification or indication -> measurement.

Each decoder follows its characteristic's layout in the GATT Specification Supplement
(GSS v8, section cited per function). A frame must be exactly as long as its flags
announce (no missing and no trailing bytes), a Date Time must be within its ranges, and
a percentage, rate, pressure or concentration must be a number it can be (or an IEEE
11073 special value, kept for `dataAbsentReason`); anything else raises `DecodeError`.

    `framing`   the error, exact lengths, Date Time and range checks every decoder uses
    `layouts`   flag bits and frame sizes per flags byte
    `vitals`    heart rate, blood pressure, cuff pressure, temperature, weight, glucose
    `oximetry`  PLX spot-check, continuous and features
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.codes import CharacteristicUuid
from gateway.decoders.framing import DecodeError
from gateway.decoders.oximetry import (
    decode_plx_continuous,
    decode_plx_features,
    decode_plx_spot_check,
)
from gateway.decoders.vitals import (
    decode_blood_pressure,
    decode_glucose,
    decode_heart_rate,
    decode_intermediate_cuff_pressure,
    decode_temperature,
    decode_weight,
    decode_weight_scale_feature,
)
from gateway.measurements import Decoded

__all__ = [
    "DECODERS",
    "DecodeError",
    "decode",
    "decode_blood_pressure",
    "decode_glucose",
    "decode_heart_rate",
    "decode_intermediate_cuff_pressure",
    "decode_plx_continuous",
    "decode_plx_features",
    "decode_plx_spot_check",
    "decode_temperature",
    "decode_weight",
    "decode_weight_scale_feature",
]

_C = CharacteristicUuid
DECODERS: dict[CharacteristicUuid, Callable[[bytes], Decoded]] = {
    _C.HEART_RATE_MEASUREMENT: decode_heart_rate,
    _C.BLOOD_PRESSURE_MEASUREMENT: decode_blood_pressure,
    _C.INTERMEDIATE_CUFF_PRESSURE: decode_intermediate_cuff_pressure,
    _C.TEMPERATURE_MEASUREMENT: decode_temperature,
    _C.WEIGHT_MEASUREMENT: decode_weight,
    _C.WEIGHT_SCALE_FEATURE: decode_weight_scale_feature,
    _C.GLUCOSE_MEASUREMENT: decode_glucose,
    _C.PLX_SPOT_CHECK_MEASUREMENT: decode_plx_spot_check,
    _C.PLX_CONTINUOUS_MEASUREMENT: decode_plx_continuous,
    _C.PLX_FEATURES: decode_plx_features,
}


def decode(uuid: CharacteristicUuid, data: bytes) -> Decoded:
    """Decode a frame of any supported characteristic; `DecodeError` if it is malformed."""
    decoder = DECODERS.get(uuid)
    if decoder is None:
        raise DecodeError(uuid, "no decoder for this characteristic", data)
    return decoder(data if type(data) is bytes else bytes(data))
