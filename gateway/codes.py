"""Bluetooth SIG numbers, flag layouts and the FHIR codes the gateway emits, in one place.

Bit layouts cite the GATT Specification Supplement (GSS v8, 2023) section of each
characteristic; FHIR codes follow the R4 vital-signs profiles (DESIGN.md).
"""

from __future__ import annotations

from enum import Enum, IntEnum, IntFlag, StrEnum

from integrations.codes import CAREBOT_BASE_URL

BLUETOOTH_BASE_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"


def uuid16_to_uuid128(uuid16: int) -> str:
    """The 128-bit string form of a 16-bit SIG UUID (Core Spec Vol 3 Part B 2.5.1)."""
    return f"0000{uuid16:04x}{BLUETOOTH_BASE_UUID_SUFFIX}"


class ServiceUuid(IntEnum):
    """16-bit service UUIDs (Assigned Numbers 3.4.2)."""

    DEVICE_INFORMATION = 0x180A
    HEART_RATE = 0x180D
    HEALTH_THERMOMETER = 0x1809
    BLOOD_PRESSURE = 0x1810
    GLUCOSE = 0x1808
    WEIGHT_SCALE = 0x181D
    PULSE_OXIMETER = 0x1822


class CharacteristicUuid(IntEnum):
    """16-bit characteristic UUIDs (Assigned Numbers 3.8.1)."""

    GLUCOSE_MEASUREMENT = 0x2A18
    TEMPERATURE_MEASUREMENT = 0x2A1C
    BLOOD_PRESSURE_MEASUREMENT = 0x2A35
    INTERMEDIATE_CUFF_PRESSURE = 0x2A36
    HEART_RATE_MEASUREMENT = 0x2A37
    PLX_SPOT_CHECK_MEASUREMENT = 0x2A5E
    PLX_CONTINUOUS_MEASUREMENT = 0x2A5F
    PLX_FEATURES = 0x2A60
    WEIGHT_MEASUREMENT = 0x2A9D
    WEIGHT_SCALE_FEATURE = 0x2A9E
    MODEL_NUMBER_STRING = 0x2A24
    SERIAL_NUMBER_STRING = 0x2A25
    MANUFACTURER_NAME_STRING = 0x2A29


def parse_characteristic_uuid(text: str) -> CharacteristicUuid:
    """Read '2A35', '0x2a35' or the 128-bit form; ValueError for other characteristics."""
    cleaned = text.strip().lower()
    if cleaned.endswith(BLUETOOTH_BASE_UUID_SUFFIX) and len(cleaned) == 36:
        cleaned = cleaned[4:8]
    cleaned = cleaned.removeprefix("0x")
    try:
        return CharacteristicUuid(int(cleaned, 16))
    except ValueError:
        raise ValueError(f"not a supported characteristic UUID: {text!r}") from None


# Which service carries which measurement characteristic, and whether it notifies
# (stream) or indicates (stored measurement) -- each service specification, section 3.
SERVICE_MEASUREMENTS: dict[ServiceUuid, tuple[CharacteristicUuid, ...]] = {
    ServiceUuid.HEART_RATE: (CharacteristicUuid.HEART_RATE_MEASUREMENT,),
    ServiceUuid.HEALTH_THERMOMETER: (CharacteristicUuid.TEMPERATURE_MEASUREMENT,),
    ServiceUuid.BLOOD_PRESSURE: (
        CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT,
        CharacteristicUuid.INTERMEDIATE_CUFF_PRESSURE,
    ),
    ServiceUuid.GLUCOSE: (CharacteristicUuid.GLUCOSE_MEASUREMENT,),
    ServiceUuid.WEIGHT_SCALE: (CharacteristicUuid.WEIGHT_MEASUREMENT,),
    ServiceUuid.PULSE_OXIMETER: (
        CharacteristicUuid.PLX_SPOT_CHECK_MEASUREMENT,
        CharacteristicUuid.PLX_CONTINUOUS_MEASUREMENT,
    ),
}

# Feature characteristics read once after connecting.
SERVICE_FEATURES: dict[ServiceUuid, CharacteristicUuid] = {
    ServiceUuid.PULSE_OXIMETER: CharacteristicUuid.PLX_FEATURES,
    ServiceUuid.WEIGHT_SCALE: CharacteristicUuid.WEIGHT_SCALE_FEATURE,
}


class SpecialValue(StrEnum):
    """IEEE 11073-20601 reserved values (Annex F.8) and the weight 'unsuccessful' marker."""

    NAN = "nan"
    NRES = "nres"
    POSITIVE_INFINITY = "+inf"
    NEGATIVE_INFINITY = "-inf"
    RESERVED = "reserved"
    UNSUCCESSFUL = "unsuccessful"  # Weight Measurement 0xFFFF (GSS 3.252)


# ---- Heart Rate Measurement 0x2A37 (GSS 3.113) -------------------------------------


class HeartRateFlags(IntFlag):
    """Flags byte of Heart Rate Measurement."""

    VALUE_UINT16 = 0x01
    SENSOR_CONTACT_DETECTED = 0x02
    SENSOR_CONTACT_SUPPORTED = 0x04
    ENERGY_EXPENDED_PRESENT = 0x08
    RR_INTERVALS_PRESENT = 0x10


# ---- Blood Pressure Measurement 0x2A35 / Intermediate Cuff Pressure 0x2A36 (GSS 3.31, 3.129)


class BloodPressureFlags(IntFlag):
    """Flags byte shared by Blood Pressure Measurement and Intermediate Cuff Pressure."""

    UNITS_KPA = 0x01
    TIME_STAMP_PRESENT = 0x02
    PULSE_RATE_PRESENT = 0x04
    USER_ID_PRESENT = 0x08
    MEASUREMENT_STATUS_PRESENT = 0x10


class BloodPressureStatus(IntFlag):
    """Measurement Status field; bits 3-4 are the two-bit pulse-rate range (1 high, 2 low)."""

    BODY_MOVEMENT_DETECTED = 0x0001
    CUFF_TOO_LOOSE = 0x0002
    IRREGULAR_PULSE_DETECTED = 0x0004
    PULSE_RATE_EXCEEDS_UPPER_LIMIT = 0x0008
    PULSE_RATE_BELOW_LOWER_LIMIT = 0x0010
    IMPROPER_MEASUREMENT_POSITION = 0x0020


class PressureUnit(StrEnum):
    """Unit of the pressure fields, from flag bit 0."""

    MMHG = "mmhg"
    KPA = "kpa"


USER_ID_UNKNOWN = 0xFF  # GSS 3.31.2.5: 255 means "unknown user"

# ---- Temperature Measurement 0x2A1C (GSS 3.216) ------------------------------------


class TemperatureFlags(IntFlag):
    """Flags byte of Temperature Measurement."""

    UNITS_FAHRENHEIT = 0x01
    TIME_STAMP_PRESENT = 0x02
    TEMPERATURE_TYPE_PRESENT = 0x04


class TemperatureUnit(StrEnum):
    """Unit of the temperature, from flag bit 0."""

    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class TemperatureType(IntEnum):
    """Temperature Type 0x2A1D (GSS 3.217)."""

    ARMPIT = 1
    BODY = 2
    EAR = 3
    FINGER = 4
    GASTROINTESTINAL_TRACT = 5
    MOUTH = 6
    RECTUM = 7
    TOE = 8
    TYMPANUM = 9


# ---- Weight Measurement 0x2A9D and Weight Scale Feature 0x2A9E (GSS 3.252, 3.253) --


class WeightFlags(IntFlag):
    """Flags byte of Weight Measurement."""

    UNITS_IMPERIAL = 0x01
    TIME_STAMP_PRESENT = 0x02
    USER_ID_PRESENT = 0x04
    BMI_AND_HEIGHT_PRESENT = 0x08


class WeightUnit(StrEnum):
    """Measurement system of weight and height, from flag bit 0."""

    SI = "si"  # kg and m
    IMPERIAL = "imperial"  # lb and in


class WeightScaleFeatures(IntFlag):
    """Low bits of Weight Scale Feature; bits 3-6 and 7-9 are resolutions."""

    TIME_STAMP_SUPPORTED = 0x01
    MULTIPLE_USERS_SUPPORTED = 0x02
    BMI_SUPPORTED = 0x04


# Weight resolution index (bits 3-6) -> (kg, lb); height index (bits 7-9) -> (m, in).
WEIGHT_RESOLUTIONS: dict[int, tuple[float, float]] = {
    1: (0.5, 1.0),
    2: (0.2, 0.5),
    3: (0.1, 0.2),
    4: (0.05, 0.1),
    5: (0.02, 0.05),
    6: (0.01, 0.02),
    7: (0.005, 0.01),
}
HEIGHT_RESOLUTIONS: dict[int, tuple[float, float]] = {
    1: (0.01, 1.0),
    2: (0.005, 0.5),
    3: (0.001, 0.1),
}

# ---- Glucose Measurement 0x2A18 (GSS 3.106) ----------------------------------------


class GlucoseFlags(IntFlag):
    """Flags byte of Glucose Measurement."""

    TIME_OFFSET_PRESENT = 0x01
    CONCENTRATION_TYPE_LOCATION_PRESENT = 0x02
    UNITS_MOL_PER_L = 0x04
    SENSOR_STATUS_PRESENT = 0x08
    CONTEXT_INFORMATION_FOLLOWS = 0x10


class GlucoseUnit(StrEnum):
    """Unit of the glucose concentration, from flag bit 2."""

    KG_PER_L = "kg_per_l"
    MOL_PER_L = "mol_per_l"


class GlucoseType(IntEnum):
    """Low nibble of the Type-Sample Location field."""

    CAPILLARY_WHOLE_BLOOD = 1
    CAPILLARY_PLASMA = 2
    VENOUS_WHOLE_BLOOD = 3
    VENOUS_PLASMA = 4
    ARTERIAL_WHOLE_BLOOD = 5
    ARTERIAL_PLASMA = 6
    UNDETERMINED_WHOLE_BLOOD = 7
    UNDETERMINED_PLASMA = 8
    INTERSTITIAL_FLUID = 9
    CONTROL_SOLUTION = 10


class GlucoseSampleLocation(IntEnum):
    """High nibble of the Type-Sample Location field."""

    FINGER = 1
    ALTERNATE_SITE_TEST = 2
    EARLOBE = 3
    CONTROL_SOLUTION = 4
    NOT_AVAILABLE = 15


class GlucoseSensorStatus(IntFlag):
    """Sensor Status Annunciation field."""

    DEVICE_BATTERY_LOW = 0x0001
    SENSOR_MALFUNCTION = 0x0002
    SAMPLE_SIZE_INSUFFICIENT = 0x0004
    STRIP_INSERTION_ERROR = 0x0008
    STRIP_TYPE_INCORRECT = 0x0010
    RESULT_TOO_HIGH = 0x0020
    RESULT_TOO_LOW = 0x0040
    TEMPERATURE_TOO_HIGH = 0x0080
    TEMPERATURE_TOO_LOW = 0x0100
    READ_INTERRUPTED = 0x0200
    GENERAL_DEVICE_FAULT = 0x0400
    TIME_FAULT = 0x0800


# ---- Pulse oximetry 0x2A5E / 0x2A5F / 0x2A60 (GSS 3.174, 3.173, 3.172) -------------


class PlxSpotCheckFlags(IntFlag):
    """Flags byte of PLX Spot-check Measurement."""

    TIME_STAMP_PRESENT = 0x01
    MEASUREMENT_STATUS_PRESENT = 0x02
    DEVICE_SENSOR_STATUS_PRESENT = 0x04
    PULSE_AMPLITUDE_INDEX_PRESENT = 0x08
    DEVICE_CLOCK_NOT_SET = 0x10


class PlxContinuousFlags(IntFlag):
    """Flags byte of PLX Continuous Measurement."""

    SPO2PR_FAST_PRESENT = 0x01
    SPO2PR_SLOW_PRESENT = 0x02
    MEASUREMENT_STATUS_PRESENT = 0x04
    DEVICE_SENSOR_STATUS_PRESENT = 0x08
    PULSE_AMPLITUDE_INDEX_PRESENT = 0x10


class PlxMeasurementStatus(IntFlag):
    """PLX Measurement Status (bits 0-4 reserved)."""

    MEASUREMENT_ONGOING = 0x0020
    EARLY_ESTIMATED_DATA = 0x0040
    VALIDATED_DATA = 0x0080
    FULLY_QUALIFIED_DATA = 0x0100
    DATA_FROM_MEASUREMENT_STORAGE = 0x0200
    DATA_FOR_DEMONSTRATION = 0x0400
    DATA_FOR_TESTING = 0x0800
    CALIBRATION_ONGOING = 0x1000
    MEASUREMENT_UNAVAILABLE = 0x2000
    QUESTIONABLE_MEASUREMENT = 0x4000
    INVALID_MEASUREMENT = 0x8000


class PlxDeviceSensorStatus(IntFlag):
    """PLX Device and Sensor Status (24 bits; 16-23 reserved)."""

    EXTENDED_DISPLAY_UPDATE_ONGOING = 0x0001
    EQUIPMENT_MALFUNCTION = 0x0002
    SIGNAL_PROCESSING_IRREGULARITY = 0x0004
    INADEQUATE_SIGNAL = 0x0008
    POOR_SIGNAL = 0x0010
    LOW_PERFUSION = 0x0020
    ERRATIC_SIGNAL = 0x0040
    NONPULSATILE_SIGNAL = 0x0080
    QUESTIONABLE_PULSE = 0x0100
    SIGNAL_ANALYSIS_ONGOING = 0x0200
    SENSOR_INTERFERENCE = 0x0400
    SENSOR_UNCONNECTED_TO_USER = 0x0800
    UNKNOWN_SENSOR_CONNECTED = 0x1000
    SENSOR_DISPLACED = 0x2000
    SENSOR_MALFUNCTIONING = 0x4000
    SENSOR_DISCONNECTED = 0x8000


class PlxSupportedFeatures(IntFlag):
    """PLX Features: Supported Features field."""

    MEASUREMENT_STATUS_SUPPORTED = 0x0001
    DEVICE_SENSOR_STATUS_SUPPORTED = 0x0002
    SPOT_CHECK_STORAGE_SUPPORTED = 0x0004
    SPOT_CHECK_TIME_STAMP_SUPPORTED = 0x0008
    SPO2PR_FAST_SUPPORTED = 0x0010
    SPO2PR_SLOW_SUPPORTED = 0x0020
    PULSE_AMPLITUDE_INDEX_SUPPORTED = 0x0040
    MULTIPLE_BONDS_SUPPORTED = 0x0080


# ---- FHIR -------------------------------------------------------------------------

GATEWAY_CODE_SYSTEM = f"{CAREBOT_BASE_URL}/CodeSystem/gateway"
OBSERVATION_IDENTIFIER_SYSTEM = f"{CAREBOT_BASE_URL}/sid/device-observation"
DEVICE_IDENTIFIER_SYSTEM = f"{CAREBOT_BASE_URL}/sid/ble-device"
EFFECTIVE_TIME_EXTENSION = f"{CAREBOT_BASE_URL}/StructureDefinition/effective-time-source"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT_REASON_SYSTEM = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
VITAL_SIGNS_PROFILE = "http://hl7.org/fhir/StructureDefinition/vitalsigns"


class EffectiveTimeSource(StrEnum):
    """Where an Observation's effective time came from."""

    DEVICE = "device-clock"
    RECEIPT = "gateway-receipt"


class VitalCode(Enum):
    """(LOINC code, display, UCUM unit, profile URL) of each vital we emit."""

    HEART_RATE = (
        "8867-4",
        "Heart rate",
        "/min",
        "http://hl7.org/fhir/StructureDefinition/heartrate",
    )
    OXYGEN_SATURATION = (
        "2708-6",
        "Oxygen saturation in Arterial blood",
        "%",
        "http://hl7.org/fhir/StructureDefinition/oxygensat",
    )
    BLOOD_PRESSURE_PANEL = (
        "85354-9",
        "Blood pressure panel with all children optional",
        "",
        "http://hl7.org/fhir/StructureDefinition/bp",
    )
    SYSTOLIC = ("8480-6", "Systolic blood pressure", "mm[Hg]", "")
    DIASTOLIC = ("8462-4", "Diastolic blood pressure", "mm[Hg]", "")
    MEAN_ARTERIAL_PRESSURE = ("8478-0", "Mean blood pressure", "mm[Hg]", "")
    BODY_TEMPERATURE = (
        "8310-5",
        "Body temperature",
        "Cel",
        "http://hl7.org/fhir/StructureDefinition/bodytemp",
    )
    BODY_WEIGHT = (
        "29463-7",
        "Body weight",
        "kg",
        "http://hl7.org/fhir/StructureDefinition/bodyweight",
    )
    BODY_HEIGHT = ("8302-2", "Body height", "m", "")
    BMI = ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", "")
    GLUCOSE = ("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", "")
    GLUCOSE_MOLAR = ("15074-8", "Glucose [Moles/volume] in Blood", "mmol/L", "")

    @property
    def loinc(self) -> str:
        """The LOINC code."""
        return self.value[0]

    @property
    def display(self) -> str:
        """The LOINC display name."""
        return self.value[1]

    @property
    def ucum(self) -> str:
        """The UCUM unit code."""
        return self.value[2]

    @property
    def profile(self) -> str:
        """The R4 vital-signs profile URL, or '' when none applies."""
        return self.value[3]


PULSE_OXIMETRY_LOINC = "59408-5"  # "Oxygen saturation in Arterial blood by Pulse oximetry"
