"""Device mapping templates (MedTech's `devicecontent.json`) and normalisation of messages.

A `CollectionContent` holds `JsonPathContent`, `IotJsonPathContent`,
`IotCentralJsonPathContent` and `CalculatedContent` templates (docs/Configuration.md). Loading
checks every member and refuses the whole collection with every problem named, as upstream's
`InvalidTemplateException` does; normalising a message is pure and returns `Measurement`s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.iomt.expressions import (
    Expression,
    ExpressionError,
    ExpressionLanguage,
    compile_expression,
)
from integrations.iomt.template_json import TemplateError, as_bool, as_list, as_object, read_json

# IoT Hub and IoT Central put device and time outside the body (upstream templates' defaults)
_IOT_HUB_DEVICE = "$.SystemProperties['iothub-connection-device-id']"
_IOT_HUB_TIME = "$.Properties['iothub-creation-time-utc']"
_IOT_CENTRAL_DEVICE = "$.deviceId"
_IOT_CENTRAL_TIME = "$.enqueuedTime"


class NormalizationError(ValueError):
    """A message matched a template but a measurement cannot be made from it."""


@dataclass(frozen=True, slots=True)
class Measurement:
    """One normalised reading: MedTech's `IMeasurement` (values are strings, None if absent)."""

    type: str
    occurrence: datetime
    device_id: str
    properties: tuple[tuple[str, str | None], ...]
    patient_id: str | None = None
    encounter_id: str | None = None
    correlation_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The measurement as JSON (stored between normalisation and FHIR mapping)."""
        return {
            "type": self.type,
            "occurrence": self.occurrence.isoformat(),
            "deviceId": self.device_id,
            "patientId": self.patient_id,
            "encounterId": self.encounter_id,
            "correlationId": self.correlation_id,
            "properties": [[name, value] for name, value in self.properties],
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Measurement:
        """Inverse of `to_json`."""
        return Measurement(
            type=data["type"],
            occurrence=datetime.fromisoformat(data["occurrence"]),
            device_id=data["deviceId"],
            properties=tuple((str(n), v) for n, v in data["properties"]),
            patient_id=data.get("patientId"),
            encounter_id=data.get("encounterId"),
            correlation_id=data.get("correlationId"),
        )


@dataclass(frozen=True, slots=True)
class ValueTemplate:
    """One `values[]` entry."""

    name: str
    expression: Expression
    required: bool


@dataclass(frozen=True, slots=True)
class ContentTemplate:
    """One device template of any of the four kinds, compiled."""

    kind: str
    type_name: str
    type_match: Expression
    device_id: Expression
    timestamp: Expression
    values: tuple[ValueTemplate, ...]
    patient_id: Expression | None = None
    encounter_id: Expression | None = None
    correlation_id: Expression | None = None
    matched_token: bool = False  # CalculatedContent evaluates against {message + matchedToken}


@dataclass(frozen=True, slots=True)
class DeviceTemplates:
    """A loaded `CollectionContent`."""

    templates: tuple[ContentTemplate, ...]

    def normalize(self, message: Mapping[str, Any]) -> list[Measurement]:
        """Every measurement every template makes of MESSAGE; NormalizationError if one fails."""
        out: list[Measurement] = []
        for template in self.templates:
            out.extend(_apply(template, message))
        return out


_KINDS = {
    "jsonpathcontent": "JsonPathContent",
    "iotjsonpathcontent": "IotJsonPathContent",
    "iotcentraljsonpathcontent": "IotCentralJsonPathContent",
    "calculatedcontent": "CalculatedContent",
}


def _language(raw: Any, where: str) -> ExpressionLanguage:
    for language in ExpressionLanguage:
        if isinstance(raw, str) and raw.lower() == language.lower():
            return language
    raise TemplateError(f"{where}: unknown expression language {raw!r} (JsonPath or JmesPath)")


def _expression(
    body: Mapping[str, Any], key: str, where: str, default: ExpressionLanguage, *, objects: bool
) -> Expression | None:
    raw = body.get(key)
    if raw is None:
        return None
    language = default
    if isinstance(raw, Mapping) and objects:
        if "language" in raw:
            language = _language(raw["language"], f"{where}.{key}")
        raw = raw.get("value")
    if not isinstance(raw, str) or not raw.strip():
        raise TemplateError(f"{where}: {key} must be a non-empty expression")
    try:
        return compile_expression(raw, language)
    except ExpressionError as error:
        raise TemplateError(f"{where}.{key}: {error}") from error


def _required(found: Expression | None, key: str, where: str) -> Expression:
    if found is None:
        raise TemplateError(f"{where}: required property '{key}' not found")
    return found


def _content_template(kind: str, body: Mapping[str, Any], where: str) -> ContentTemplate:
    calculated = kind == "CalculatedContent"
    default = ExpressionLanguage.JSON_PATH
    if calculated and "defaultExpressionLanguage" in body:
        default = _language(body["defaultExpressionLanguage"], where)

    def expr(key: str) -> Expression | None:
        return _expression(body, key, where, default, objects=calculated)

    type_name = body.get("typeName")
    if not isinstance(type_name, str) or not type_name.strip():
        raise TemplateError(f"{where}: required property 'typeName' not found")
    type_match = _required(expr("typeMatchExpression"), "typeMatchExpression", where)
    device_id, timestamp = expr("deviceIdExpression"), expr("timestampExpression")
    if kind == "IotJsonPathContent":
        device_id = device_id or compile_expression(_IOT_HUB_DEVICE, default)
        timestamp = timestamp or compile_expression(_IOT_HUB_TIME, default)
    elif kind == "IotCentralJsonPathContent":
        device_id = device_id or compile_expression(_IOT_CENTRAL_DEVICE, default)
        timestamp = timestamp or compile_expression(_IOT_CENTRAL_TIME, default)
    values: list[ValueTemplate] = []
    for index, raw in enumerate(as_list(body.get("values", []), f"{where}.values")):
        value_where = f"{where}.values[{index}]"
        entry = as_object(raw, value_where)
        name = entry.get("valueName")
        if not isinstance(name, str) or not name.strip():
            raise TemplateError(f"{value_where}: required property 'valueName' not found")
        expression = _required(
            _expression(entry, "valueExpression", value_where, default, objects=calculated),
            "valueExpression",
            value_where,
        )
        values.append(ValueTemplate(name, expression, as_bool(entry.get("required", False))))
    return ContentTemplate(
        kind=kind,
        type_name=type_name,
        type_match=type_match,
        device_id=_required(device_id, "deviceIdExpression", where),
        timestamp=_required(timestamp, "timestampExpression", where),
        values=tuple(values),
        patient_id=expr("patientIdExpression"),
        encounter_id=expr("encounterIdExpression"),
        correlation_id=expr("correlationIdExpression"),
        matched_token=calculated,
    )


def _member(raw: Any, where: str) -> ContentTemplate:
    node = as_object(raw, where)
    kind = _KINDS.get(str(node.get("templateType", "")).lower())
    if kind is None:
        raise TemplateError(f"{where}: unsupported templateType {node.get('templateType')!r}")
    return _content_template(kind, as_object(node.get("template"), f"{where}.template"), where)


def parse_device_templates(data: Any) -> DeviceTemplates:
    """Compile a `CollectionContent` (parsed JSON); TemplateError lists every problem."""
    root = as_object(data, "device template")
    if str(root.get("templateType", "")).lower() != "collectioncontent":
        raise TemplateError(
            f"device template: templateType must be CollectionContent, not {root.get('templateType')!r}"
        )
    members = as_list(root.get("template"), "CollectionContent.template")
    templates: list[ContentTemplate] = []
    errors: list[str] = []
    for index, raw in enumerate(members):
        try:
            templates.append(_member(raw, f"template[{index}]"))
        except TemplateError as error:
            errors.append(str(error))
    if errors:
        raise TemplateError("; ".join(errors))
    return DeviceTemplates(tuple(templates))


def load_device_templates(text: str | bytes) -> DeviceTemplates:
    """Parse and compile a device mapping file's text."""
    return parse_device_templates(read_json(text))


_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(Z|[+-]\d{2}:?\d{2}|[+-]\d+)?$"
)


def parse_timestamp(raw: Any) -> datetime:
    """A device timestamp as UTC: ISO 8601 with up to 7 fraction digits (.NET), hour 24, "+0"."""
    text = str(raw).strip() if isinstance(raw, str | int | float) else ""
    match = _TIME.match(text)
    if match is None:
        raise NormalizationError(f"timestamp {text[:40]!r} is not an ISO 8601 date-time")
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    micros = int(((match.group(7) or "") + "000000")[:6])
    zone = match.group(8) or "Z"
    offset = timedelta(0)
    if zone not in ("Z", "+0", "-0"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "").ljust(4, "0")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4]))
    try:
        base = datetime(year, month, day, 0, minute, second, micros, tzinfo=UTC)
    except ValueError as error:
        raise NormalizationError(f"timestamp {text[:40]!r}: {error}") from error
    if hour > 24:
        raise NormalizationError(f"timestamp {text[:40]!r}: hour out of range")
    return base + timedelta(hours=hour) - offset


def _text(value: Any) -> str | None:
    """A value as MedTech's normalised string: JSON scalars as their JSON text, else None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _optional(expression: Expression | None, token: Any) -> str | None:
    return None if expression is None else _text(expression.first(token))


def _apply(template: ContentTemplate, message: Mapping[str, Any]) -> list[Measurement]:
    try:
        matches = template.type_match.find(message)
    except ExpressionError as error:
        raise NormalizationError(f"{template.type_name}: {error}") from error
    out: list[Measurement] = []
    for match in matches:
        token: Any = {**message, "matchedToken": match} if template.matched_token else match
        where = f"{template.kind} {template.type_name!r}"
        try:
            device = _text(template.device_id.first(token))
            if device is None:
                raise NormalizationError(f"{where}: deviceIdExpression found no device id")
            stamp = template.timestamp.first(token)
            if stamp is None:
                raise NormalizationError(f"{where}: timestampExpression found no timestamp")
            properties: list[tuple[str, str | None]] = []
            for value in template.values:
                text = _text(value.expression.first(token))
                if text is not None or value.required:
                    # a missing required value is kept as absent: it becomes dataAbsentReason
                    properties.append((value.name, text))
            out.append(
                Measurement(
                    type=template.type_name,
                    occurrence=parse_timestamp(stamp),
                    device_id=device,
                    properties=tuple(properties),
                    patient_id=_optional(template.patient_id, token),
                    encounter_id=_optional(template.encounter_id, token),
                    correlation_id=_optional(template.correlation_id, token),
                )
            )
        except ExpressionError as error:
            raise NormalizationError(f"{where}: {error}") from error
    return out


def normalize_all(
    templates: DeviceTemplates, messages: Sequence[Mapping[str, Any]]
) -> list[Measurement]:
    """Normalise several messages (raises on the first that fails)."""
    return [m for message in messages for m in templates.normalize(message)]
