"""FHIR destination mapping templates (MedTech's `fhirmapping.json`): `CollectionFhir` of
`CodeValueFhir`, with value types SampledData, Quantity, String and CodeableConcept.

Loading checks every member and refuses the whole collection with every problem named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from integrations.iomt.template_json import TemplateError, as_list, as_object, read_json


class PeriodInterval(IntEnum):
    """How measurements are grouped into one Observation (minutes; MedTech's values)."""

    INSTANCE = 0
    HOUR = 60
    DAY = 1440
    CORRELATION_ID = -1


class ValueType(StrEnum):
    """The four value types of a CodeValueFhir template."""

    SAMPLED_DATA = "SampledData"
    QUANTITY = "Quantity"
    STRING = "String"
    CODEABLE_CONCEPT = "CodeableConcept"


@dataclass(frozen=True, slots=True)
class Code:
    """A coding of the template."""

    code: str
    system: str | None
    display: str | None

    def to_json(self) -> dict[str, str]:
        """The FHIR Coding."""
        out = {"code": self.code}
        if self.system:
            out["system"] = self.system
        if self.display:
            out["display"] = self.display
        return out


@dataclass(frozen=True, slots=True)
class ValueTemplate:
    """`value` of a template or component."""

    value_type: ValueType
    value_name: str
    unit: str | None = None
    default_period_ms: float | None = None
    code: str | None = None
    system: str | None = None
    text: str | None = None
    codes: tuple[Code, ...] = ()


@dataclass(frozen=True, slots=True)
class Component:
    """One `components[]` entry."""

    codes: tuple[Code, ...]
    value: ValueTemplate


@dataclass(frozen=True, slots=True)
class CodeValueFhir:
    """One CodeValueFhir template."""

    type_name: str
    period: PeriodInterval
    codes: tuple[Code, ...]
    value: ValueTemplate | None
    components: tuple[Component, ...]
    categories: tuple[tuple[tuple[Code, ...], str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class FhirTemplates:
    """A loaded `CollectionFhir`, by type name."""

    by_type: Mapping[str, CodeValueFhir]


def _codes(raw: Any, where: str) -> tuple[Code, ...]:
    out: list[Code] = []
    for index, entry in enumerate(as_list(raw if raw is not None else [], where)):
        node = as_object(entry, f"{where}[{index}]")
        code = node.get("code")
        if not isinstance(code, str) or not code.strip():
            raise TemplateError(f"{where}[{index}]: required property 'code' not found")
        out.append(Code(code, node.get("system"), node.get("display")))
    return tuple(out)


def _value(raw: Any, where: str) -> ValueTemplate:
    node = as_object(raw, where)
    name = node.get("valueName")
    if not isinstance(name, str) or not name.strip():
        raise TemplateError(f"{where}: required property 'valueName' not found")
    kind = next((v for v in ValueType if str(node.get("valueType", "")).lower() == v.lower()), None)
    if kind is None:
        raise TemplateError(f"{where}: unsupported valueType {node.get('valueType')!r}")
    period = node.get("defaultPeriod")
    if kind is ValueType.SAMPLED_DATA and (
        not isinstance(period, int | float) or isinstance(period, bool) or period <= 0
    ):
        raise TemplateError(f"{where}: SampledData needs a positive defaultPeriod (ms)")
    return ValueTemplate(
        value_type=kind,
        value_name=name,
        unit=node.get("unit"),
        default_period_ms=float(period) if isinstance(period, int | float) else None,
        code=node.get("code"),
        system=node.get("system"),
        text=node.get("text"),
        codes=_codes(node.get("codes"), f"{where}.codes"),
    )


def _period(raw: Any, where: str) -> PeriodInterval:
    if raw is None:
        raise TemplateError(f"{where}: required property 'periodInterval' not found")
    for period in PeriodInterval:
        if raw == period.value or str(raw).lower() in (period.name.lower(), "correlationid"):
            return PeriodInterval.CORRELATION_ID if str(raw).lower() == "correlationid" else period
    raise TemplateError(f"{where}: periodInterval {raw!r} is not 0, 60 or 1440")


def _code_value(raw: Any, where: str) -> CodeValueFhir:
    node = as_object(raw, where)
    if str(node.get("templateType", "")).lower() != "codevaluefhir":
        raise TemplateError(f"{where}: unsupported templateType {node.get('templateType')!r}")
    body = as_object(node.get("template"), f"{where}.template")
    errors: list[str] = []
    type_name = body.get("typeName")
    if not isinstance(type_name, str) or not type_name.strip():
        errors.append(f"{where}: required property 'typeName' not found")
    codes: tuple[Code, ...] = ()
    value: ValueTemplate | None = None
    components: list[Component] = []
    period = PeriodInterval.INSTANCE
    categories: list[tuple[tuple[Code, ...], str | None]] = []
    for check in range(5):
        try:
            if check == 0:
                period = _period(body.get("periodInterval"), where)
            elif check == 1:
                if not body.get("codes"):
                    raise TemplateError(f"{where}: required property 'codes' not found")
                codes = _codes(body.get("codes"), f"{where}.codes")
            elif check == 2 and body.get("value") is not None:
                value = _value(body["value"], f"{where}.value")
            elif check == 3:
                for index, entry in enumerate(as_list(body.get("components", []), where)):
                    comp = as_object(entry, f"{where}.components[{index}]")
                    components.append(
                        Component(
                            _codes(comp.get("codes"), f"{where}.components[{index}].codes"),
                            _value(comp.get("value"), f"{where}.components[{index}].value"),
                        )
                    )
            elif check == 4:
                for index, entry in enumerate(as_list(body.get("category", []), where)):
                    cat = as_object(entry, f"{where}.category[{index}]")
                    categories.append(
                        (
                            _codes(cat.get("codes"), f"{where}.category[{index}].codes"),
                            cat.get("text"),
                        )
                    )
        except TemplateError as error:
            errors.append(str(error))
    if errors:
        raise TemplateError("; ".join(errors))
    assert isinstance(type_name, str)
    return CodeValueFhir(type_name, period, codes, value, tuple(components), tuple(categories))


def parse_fhir_templates(data: Any) -> FhirTemplates:
    """Compile a `CollectionFhir` (parsed JSON); TemplateError lists every problem."""
    root = as_object(data, "FHIR template")
    if str(root.get("templateType", "")).lower() != "collectionfhir":
        raise TemplateError(
            f"FHIR template: templateType must be CollectionFhir, not {root.get('templateType')!r}"
        )
    members = as_list(root.get("template"), "CollectionFhir.template")
    by_type: dict[str, CodeValueFhir] = {}
    errors: list[str] = []
    for index, raw in enumerate(members):
        try:
            template = _code_value(raw, f"template[{index}]")
        except TemplateError as error:
            errors.append(str(error))
            continue
        if template.type_name in by_type:
            errors.append(f"template[{index}]: typeName {template.type_name!r} is mapped twice")
        by_type[template.type_name] = template
    if errors:
        raise TemplateError("; ".join(errors))
    return FhirTemplates(by_type)


def load_fhir_templates(text: str | bytes) -> FhirTemplates:
    """Parse and compile a FHIR mapping file's text."""
    return parse_fhir_templates(read_json(text))
