"""Grouping normalised measurements into FHIR Observations (pure).

One Observation per device, type and period window (the reading's instant, its hour or its
day in UTC, or its correlation id), with a deterministic id and identifier, so the same
message twice yields the same resource. A late message in a window merges into the window's
existing Observation: SampledData positions are overwritten, other positions kept. A missing
or non-numeric value becomes `dataAbsentReason` (an `E` inside SampledData, as MedTech writes).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.codes import CAREBOT_BASE_URL
from integrations.iomt.device_templates import Measurement
from integrations.iomt.fhir_templates import (
    CodeValueFhir,
    Component,
    PeriodInterval,
    ValueTemplate,
    ValueType,
)

OBSERVATION_IDENTIFIER_SYSTEM = f"{CAREBOT_BASE_URL}/sid/iomt-observation"
TYPE_CODE_SYSTEM = f"{CAREBOT_BASE_URL}/CodeSystem/iomt-measurement-type"
DATA_ABSENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


@dataclass(frozen=True, slots=True)
class GroupKey:
    """What one Observation stands for."""

    device_id: str
    type_name: str
    start: datetime
    end: datetime
    correlation_id: str | None = None

    @property
    def identifier(self) -> str:
        """The Observation's identifier value: a digest of the key (stable everywhere)."""
        raw = json.dumps(
            [
                self.device_id,
                self.type_name,
                _stamp(self.start),
                _stamp(self.end),
                self.correlation_id,
            ]
            if self.correlation_id is None
            else [self.device_id, self.type_name, "correlation", self.correlation_id]
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:40]

    @property
    def resource_id(self) -> str:
        """The Observation's id."""
        return "iomt-" + self.identifier


@dataclass(frozen=True, slots=True)
class Subject:
    """Whom and what the Observation is about (resolved identity)."""

    patient_id: str
    device_resource_id: str
    encounter_id: str | None = None


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def window(period: PeriodInterval, moment: datetime) -> tuple[datetime, datetime]:
    """The [start, end) window of a period holding MOMENT (instance: the moment itself)."""
    moment = moment.astimezone(UTC)
    if period is PeriodInterval.HOUR:
        start = moment.replace(minute=0, second=0, microsecond=0)
        return start, start + timedelta(hours=1)
    if period is PeriodInterval.DAY:
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)
    return moment, moment


def group_key(template: CodeValueFhir, measurement: Measurement) -> GroupKey:
    """The Observation MEASUREMENT belongs to."""
    if template.period is PeriodInterval.CORRELATION_ID and measurement.correlation_id:
        return GroupKey(
            measurement.device_id,
            template.type_name,
            measurement.occurrence,
            measurement.occurrence,
            measurement.correlation_id,
        )
    start, end = window(template.period, measurement.occurrence)
    return GroupKey(measurement.device_id, template.type_name, start, end)


def group(
    templates: Mapping[str, CodeValueFhir], measurements: Iterable[Measurement]
) -> dict[GroupKey, list[Measurement]]:
    """Measurements by Observation (those whose type has no FHIR template are left out)."""
    out: dict[GroupKey, list[Measurement]] = {}
    for measurement in measurements:
        template = templates.get(measurement.type)
        if template is not None:
            out.setdefault(group_key(template, measurement), []).append(measurement)
    return out


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _absent(text: str | None) -> dict[str, Any]:
    code = "unknown" if text is None else "not-a-number"
    return {"coding": [{"system": DATA_ABSENT_SYSTEM, "code": code}], "text": code}


def _format(value: float) -> str:
    return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _sampled(
    value: ValueTemplate,
    start: datetime,
    end: datetime,
    readings: Sequence[tuple[datetime, str | None]],
    existing: Mapping[str, Any] | None,
) -> dict[str, Any]:
    period_ms = value.default_period_ms or 1000.0
    span_ms = max((end - start).total_seconds() * 1000, period_ms)
    size = max(1, math.ceil(span_ms / period_ms))
    data = ["E"] * size
    if existing is not None:
        old = str(existing.get("data", "")).split()
        if existing.get("period") == period_ms:
            data[: min(size, len(old))] = old[:size]
    for moment, text in sorted(readings, key=lambda r: r[0]):
        index = int((moment - start).total_seconds() * 1000 // period_ms)
        index = min(max(index, 0), size - 1)
        number = _number(text)
        data[index] = "E" if number is None else _format(number)
    origin: dict[str, Any] = {"value": 0}
    if value.unit:
        origin["unit"] = value.unit
    return {"origin": origin, "period": period_ms, "dimensions": 1, "data": " ".join(data)}


def _value_fields(
    value: ValueTemplate,
    key: GroupKey,
    readings: Sequence[tuple[datetime, str | None]],
    existing: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The `value[x]` (or `dataAbsentReason`) of an Observation or component."""
    if value.value_type is ValueType.SAMPLED_DATA:
        old = existing.get("valueSampledData") if existing else None
        return {"valueSampledData": _sampled(value, key.start, key.end, readings, old)}
    # Quantity, String, CodeableConcept take the latest reading in the group
    text = max(readings, key=lambda r: r[0])[1] if readings else None
    if value.value_type is ValueType.CODEABLE_CONCEPT:
        concept: dict[str, Any] = {"coding": [c.to_json() for c in value.codes]}
        if value.text:
            concept["text"] = value.text
        return {"valueCodeableConcept": concept}
    if value.value_type is ValueType.STRING:
        return {"valueString": text} if text is not None else {"dataAbsentReason": _absent(None)}
    number = _number(text)
    if number is None:
        return {"dataAbsentReason": _absent(text)}
    quantity: dict[str, Any] = {"value": number}
    for field, content in (("unit", value.unit), ("system", value.system), ("code", value.code)):
        if content:
            quantity[field] = content
    return {"valueQuantity": quantity}


def _readings(measurements: Sequence[Measurement], name: str) -> list[tuple[datetime, str | None]]:
    return [
        (m.occurrence, dict(m.properties).get(name))
        for m in measurements
        if name in dict(m.properties)
    ]


def _component(
    component: Component,
    key: GroupKey,
    measurements: Sequence[Measurement],
    existing: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    readings = _readings(measurements, component.value.value_name)
    if not readings and existing is None:
        return None
    fields = (
        _value_fields(component.value, key, readings, existing)
        if readings
        else dict(existing or {})
    )
    fields.pop("code", None)
    return {"code": {"coding": [c.to_json() for c in component.codes]}, **fields}


def _existing_component(
    existing: Mapping[str, Any] | None, component: Component
) -> dict[str, Any] | None:
    if existing is None:
        return None
    wanted = {(c.system, c.code) for c in component.codes}
    for item in existing.get("component", []):
        codings = item.get("code", {}).get("coding", [])
        if {(c.get("system"), c.get("code")) for c in codings} == wanted:
            return dict(item)
    return None


def _period_of(
    key: GroupKey, measurements: Sequence[Measurement], existing: Mapping[str, Any] | None
) -> tuple[datetime, datetime]:
    if key.correlation_id is None:
        return key.start, key.end
    moments = [m.occurrence for m in measurements]
    if existing is not None and "effectivePeriod" in existing:
        moments += [
            datetime.fromisoformat(existing["effectivePeriod"]["start"].replace("Z", "+00:00")),
            datetime.fromisoformat(existing["effectivePeriod"]["end"].replace("Z", "+00:00")),
        ]
    return min(moments), max(moments)


def build_observation(
    template: CodeValueFhir,
    key: GroupKey,
    measurements: Sequence[Measurement],
    subject: Subject,
    existing: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Observation for KEY: EXISTING (its stored JSON, if any) with MEASUREMENTS merged in."""
    start, end = _period_of(key, measurements, existing)
    key = GroupKey(key.device_id, key.type_name, start, end, key.correlation_id)
    codings = [c.to_json() for c in template.codes]
    codings.append(
        {"system": TYPE_CODE_SYSTEM, "code": template.type_name, "display": template.type_name}
    )
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": key.resource_id,
        "identifier": [{"system": OBSERVATION_IDENTIFIER_SYSTEM, "value": key.identifier}],
        "status": "final",
    }
    if template.categories:
        resource["category"] = [
            {"coding": [c.to_json() for c in codes], **({"text": text} if text else {})}
            for codes, text in template.categories
        ]
    resource["code"] = {"coding": codings, "text": template.type_name}
    resource["subject"] = {"reference": f"Patient/{subject.patient_id}"}
    if subject.encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{subject.encounter_id}"}
    if template.period is PeriodInterval.INSTANCE:
        resource["effectiveDateTime"] = _stamp(start)
    else:
        resource["effectivePeriod"] = {"start": _stamp(start), "end": _stamp(end)}
    resource["device"] = {"reference": f"Device/{subject.device_resource_id}"}
    if template.value is not None:
        readings = _readings(measurements, template.value.value_name)
        if readings:
            resource.update(_value_fields(template.value, key, readings, existing))
        elif existing is not None:
            resource.update(
                {
                    k: v
                    for k, v in existing.items()
                    if k.startswith("value") or k == "dataAbsentReason"
                }
            )
        else:
            resource["dataAbsentReason"] = _absent(None)
    components = [
        c
        for component in template.components
        if (c := _component(component, key, measurements, _existing_component(existing, component)))
        is not None
    ]
    if components:
        resource["component"] = components
    return resource


def same_content(stored: Mapping[str, Any], built: Mapping[str, Any]) -> bool:
    """Whether STORED (from the server, with `meta`) already says what BUILT says."""
    return {k: v for k, v in stored.items() if k not in ("meta", "text")} == dict(built)
