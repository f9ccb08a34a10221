"""MedTech templates from the upstream corpus load (or are refused), and the documentation's
payloads normalise to the values upstream documents (docs/Configuration.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from integrations.iomt.device_templates import (
    Measurement,
    NormalizationError,
    load_device_templates,
    parse_device_templates,
    parse_timestamp,
)
from integrations.iomt.expressions import ExpressionLanguage, compile_expression
from integrations.iomt.fhir_templates import (
    PeriodInterval,
    ValueType,
    load_fhir_templates,
    parse_fhir_templates,
)
from integrations.iomt.template_json import TemplateError, read_json
from tests.corpora import corpus


def inputs(name: str) -> Path:
    return corpus("iomt_fhir", "test_inputs", name)


def data(name: str) -> Any:
    return read_json(inputs(name).read_bytes())


def as_device_collection(raw: Any) -> Any:
    """A single upstream member template, put in the CollectionContent the loader requires."""
    kind = str(raw.get("templateType")) if isinstance(raw, dict) else ""
    if "Content" in kind and kind.lower() != "collectioncontent":
        return {"templateType": "CollectionContent", "template": [raw]}
    return raw


def as_fhir_collection(raw: Any) -> Any:
    if isinstance(raw, dict) and raw.get("templateType") == "CodeValueFhir":
        return {"templateType": "CollectionFhir", "template": [raw]}
    return raw


VALID_DEVICE = [
    "data_CalculatedFunctionContentTemplateValid.json",
    "data_CalculatedFunctionContentTemplateValidExpressionObject.json",
    "data_CalculatedFunctionContentTemplateValidOptional.json",
    "data_CollectionContentTemplateEmptyWithType.json",
    "data_CollectionContentTemplateMixed.json",
    "data_IotJsonPathContentTemplateValid.json",
    "data_IotJsonPathContentTemplateValidWithOptional.json",
    "data_JsonPathContentTemplateValid.json",
    "data_JsonPathContentTemplateValidWithOptional.json",
    "data_Documentation_CalculatedFunction_BloodPressure_Template.json",
    "data_Documentation_CalculatedFunction_HeartRate_Template.json",
    "data_Documentation_CalculatedFunction_MultipleMatches_Template.json",
    "data_Documentation_CalculatedFunction_MultipleMeasurements_Template.json",
    "data_Documentation_CalculatedFunction_TransformData_Template.json",
]
# file, a fragment of the error it must give
INVALID_DEVICE = [
    (
        "data_CalculatedFunctionContentTemplateValidInvalidAndMissingMembers.json",
        "typeMatchExpression",
    ),
    ("data_CollectionContentTemplateEmpty.json", "templateType must be CollectionContent"),
    (
        "data_CollectionContentTemplateInvalid.json",
        "template[1]: required property 'typeMatchExpression'",
    ),
    ("data_CollectionContentTemplateMixedValidity.json", "template[2]"),
    ("data_CollectionContentTemplateMultipleMocks.json", "unsupported templateType 'mockA'"),
    ("data_InvalidCollectionContentTemplateWithNoTemplateArray.json", "expected a JSON array"),
    ("data_InvalidJson.txt", "not valid JSON"),
    ("data_InvalidTemplateType.json", "templateType must be CollectionContent"),
    ("data_IotJsonPathContentTemplateInvalidMissingTypeMetadata.json", "'typeName' not found"),
    ("data_IotJsonPathContentTemplateInvalidMissingValueField.json", "'valueName' not found"),
    ("data_JsonPathContentTemplateInvalidMissingExpression.json", "'deviceIdExpression' not found"),
    ("data_CollectionFhirTemplateValid.json", "templateType must be CollectionContent"),
]
VALID_FHIR = [
    "data_CodeValueFhirTemplate_CodeableConceptAndStringComponent.json",
    "data_CodeValueFhirTemplate_CodeableConceptData.json",
    "data_CodeValueFhirTemplate_Components.json",
    "data_CodeValueFhirTemplate_Quantity.json",
    "data_CodeValueFhirTemplate_SampledData.json",
    "data_CodeValueFhirTemplate_String.json",
    "data_CollectionFhirTemplateEmptyWithType.json",
    "data_CollectionFhirTemplateValid.json",
]
INVALID_FHIR = [
    ("data_CodeValueFhirTemplateInvalid_MissingCodeField.json", "'codes' not found"),
    ("data_CodeValueFhirTemplateInvalid_MissingFields.json", "'typeName' not found"),
    ("data_CollectionFhirTemplateEmpty.json", "templateType must be CollectionFhir"),
    ("data_CollectionFhirTemplateInvalid.json", "template[3].codes[0]: required property 'code'"),
    ("data_CollectionFhirTemplateMixedValidity.json", "template[1]: required property 'typeName'"),
    ("data_CollectionFhirTemplateMultipleMocks.json", "unsupported templateType 'mockB'"),
    ("data_CollectionFhirTemplateMixed.json", "templateType must be CollectionFhir"),
    ("data_InvalidCollectionFhirTemplateWithNoTemplateArray.json", "expected a JSON array"),
    ("data_InvalidJson.txt", "not valid JSON"),
    ("data_InvalidTemplateType.json", "templateType must be CollectionFhir"),
]


def test_every_corpus_template_is_classified() -> None:
    """No template file of the corpus escapes these tests."""
    listed = set(VALID_DEVICE) | {f for f, _ in INVALID_DEVICE} | set(VALID_FHIR)
    listed |= {f for f, _ in INVALID_FHIR} | {"data_CollectionFhirTemplateMixed.json"}
    files = {p.name for p in inputs("").iterdir() if "Payload" not in p.name}
    assert files <= listed


@pytest.mark.parametrize("name", VALID_DEVICE)
def test_valid_device_templates_load(name: str) -> None:
    templates = parse_device_templates(as_device_collection(data(name)))
    members = (
        data(name)["template"] if data(name)["templateType"].lower() == "collectioncontent" else [1]
    )
    assert len(templates.templates) == len(members)


@pytest.mark.parametrize(("name", "error"), INVALID_DEVICE)
def test_invalid_device_templates_are_refused(name: str, error: str) -> None:
    with pytest.raises(TemplateError) as raised:
        load_device_templates(
            json.dumps(as_device_collection(data(name)))
            if name.endswith(".json")
            else inputs(name).read_bytes()
        )
    assert error in str(raised.value)


@pytest.mark.parametrize("name", VALID_FHIR)
def test_valid_fhir_templates_load(name: str) -> None:
    parse_fhir_templates(as_fhir_collection(data(name)))


@pytest.mark.parametrize(("name", "error"), INVALID_FHIR)
def test_invalid_fhir_templates_are_refused(name: str, error: str) -> None:
    text = inputs(name).read_bytes()
    raw = read_json(text) if name.endswith(".json") else None
    with pytest.raises(TemplateError) as raised:
        if raw is None:
            load_fhir_templates(text)
        else:
            parse_fhir_templates(as_fhir_collection(raw))
    assert error in str(raised.value)


@pytest.mark.parametrize("sample", ["basic", "sandbox"])
def test_sample_templates_load(sample: str) -> None:
    folder = corpus("iomt_fhir", "sample_templates", sample)
    device = load_device_templates((folder / "devicecontent.json").read_bytes())
    fhir = load_fhir_templates((folder / "fhirmapping.json").read_bytes())
    # every type the device mapping emits has its FHIR mapping
    assert {t.type_name for t in device.templates} <= set(fhir.by_type)


def test_fhir_template_details() -> None:
    bp = parse_fhir_templates(as_fhir_collection(data("data_CodeValueFhirTemplate_Quantity.json")))
    template = bp.by_type["bloodpressure"]
    assert template.period is PeriodInterval.HOUR
    assert [c.codes[0].code for c in template.components] == ["8867-4", "8480-6"]
    assert template.components[0].value.value_type is ValueType.QUANTITY
    assert template.components[0].value.code == "mm[Hg]"
    sampled = parse_fhir_templates(
        as_fhir_collection(data("data_CodeValueFhirTemplate_SampledData.json"))
    )
    value = sampled.by_type["heartrate"].value
    assert value is not None and value.default_period_ms == 5000 and value.unit == "bpm"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def normalise(template: str, payload: str) -> list[Measurement]:
    return load_device_templates(inputs(template).read_bytes()).normalize(data(payload))


def doc(name: str) -> tuple[str, str]:
    return (
        f"data_Documentation_CalculatedFunction_{name}_Template.json",
        f"data_Documentation_CalculatedFunction_{name}_Payload.json",
    )


def test_documentation_heart_rate() -> None:
    assert normalise(*doc("HeartRate")) == [
        Measurement("heartrate", at("2019-02-01T22:46:01.875+00:00"), "device123", (("hr", "78"),))
    ]


def test_documentation_blood_pressure() -> None:
    assert normalise(*doc("BloodPressure")) == [
        Measurement(
            "bloodpressure",
            at("2019-02-01T22:46:01.875+00:00"),
            "device123",
            (("systolic", "123"), ("diastolic", "87")),
        )
    ]


def test_documentation_multiple_matches_use_the_original_message_and_the_matched_token() -> None:
    assert normalise(*doc("MultipleMatches")) == [
        Measurement(
            "heartrate",
            at("2021-07-13T17:29:01.061144+00:00"),
            "device123",
            (("systolic", "120"), ("diastolic", "80")),
        ),
        Measurement(
            "heartrate",
            at("2021-07-13T17:28:01.061122+00:00"),
            "device123",
            (("systolic", "122"), ("diastolic", "82")),
        ),
    ]


def test_documentation_multiple_measurements_of_one_message() -> None:
    when = at("2019-02-01T22:46:01.875+00:00")
    assert normalise(*doc("MultipleMeasurements")) == [
        Measurement("heartrate", when, "device123", (("hr", "78"),)),
        Measurement("stepcount", when, "device123", (("steps", "2"),)),
    ]


def test_documentation_measurements_from_an_array() -> None:
    found = normalise(
        "data_Documentation_CalculatedFunction_HeartRate_Template.json",
        "data_Documentation_CalculatedFunction_MultipleMeasurements_FromArray_Payload.json",
    )
    assert [(m.occurrence.hour, m.properties) for m in found] == [
        (20, (("hr", "78"),)),
        (21, (("hr", "81"),)),
        (22, (("hr", "72"),)),
    ]


def test_documentation_transform_data_converts_inches_with_jmespath() -> None:
    found = normalise(*doc("TransformData"))
    assert [m.type for m in found] == ["heightInMeters", "heightInMeters"]
    heights = [float(dict(m.properties)["height"] or "nan") for m in found]
    assert heights == pytest.approx([78 * 0.0254, 1.9304])


def test_iot_hub_payload_takes_device_and_time_from_the_envelope() -> None:
    templates = parse_device_templates(
        as_device_collection(data("data_IotJsonPathContentTemplateValid.json"))
    )
    found = templates.normalize(data("data_IotHubPayloadExample.json"))
    assert found == [
        Measurement(
            "heartrate",
            at("2019-01-30T22:45:02.607374+00:00"),
            "ev-d795-1d04-55ae",
            (("hr", "203"),),
        )
    ]
    with pytest.raises(NormalizationError, match="timestamp"):
        templates.normalize(data("data_IotHubPayloadExampleMissingCreateTime.json"))


def test_iot_hub_multi_value_payload_with_the_mixed_collection() -> None:
    templates = load_device_templates(
        inputs("data_CollectionContentTemplateMixed.json").read_bytes()
    )
    found = templates.normalize(data("data_IotHubPayloadMultiValueExample.json"))
    # Body has systolic/diastolic/steps but no measurementdatetime, and no patientSteps: no match
    assert found == []


def test_required_value_missing_is_kept_absent_optional_is_left_out() -> None:
    templates = parse_device_templates(
        as_device_collection(
            {
                "templateType": "JsonPathContent",
                "template": {
                    "typeName": "hr",
                    "typeMatchExpression": "$..[?(@device)]",
                    "deviceIdExpression": "$.device",
                    "timestampExpression": "$.date",
                    "values": [
                        {"required": True, "valueExpression": "$.hr", "valueName": "hr"},
                        {"required": "false", "valueExpression": "$.note", "valueName": "note"},
                    ],
                },
            }
        )
    )
    found = templates.normalize({"Body": {"device": "d1", "date": "2024-01-01T00:00:00Z"}})
    assert found == [Measurement("hr", at("2024-01-01T00:00:00+00:00"), "d1", (("hr", None),))]


def test_custom_jmespath_functions_documented_results() -> None:
    def jmes(text: str, given: Any) -> Any:
        return compile_expression(text, ExpressionLanguage.JMES_PATH).first(given)

    assert jmes("insertString('mple', 'sa', `0`)", {}) == "sample"
    assert (
        jmes(
            "insertString(original, toInsert, pos)",
            {"original": "suess", "toInsert": "cc", "pos": 2},
        )
        == "success"
    )
    assert (
        jmes(
            "insertString(original, toInsert, length(original))",
            {"original": "myString", "toInsert": "!!"},
        )
        == "myString!!"
    )
    assert jmes("fromUnixTimestamp(unix)", {"unix": 1625677200}) == "2021-07-07T17:00:00+0"
    assert jmes("fromUnixTimestampMs(unix)", {"unix": 1626799080000}) == "2021-07-20T16:38:00+0"
    assert jmes("add(`10`, `10`)", {}) == 20
    with pytest.raises(ValueError, match="out of range"):
        jmes(
            "insertString(original, toInsert, pos)",
            {"original": "myString", "toInsert": "!!", "pos": 100},
        )


def test_timestamps() -> None:
    assert parse_timestamp("2019-02-01T24:46:01.8750000Z") == at("2019-02-02T00:46:01.875+00:00")
    assert parse_timestamp("2021-07-07T17:00:00+0") == at("2021-07-07T17:00:00+00:00")
    assert parse_timestamp("2021-07-07T19:00:00+02:00") == at("2021-07-07T17:00:00+00:00")
    with pytest.raises(NormalizationError):
        parse_timestamp("yesterday")


def _expressions(node: Any) -> list[str]:
    """Every JSONPath expression string in a template tree."""
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k.endswith("Expression") and isinstance(v, str)]
        return found + [e for v in node.values() for e in _expressions(v)]
    return [e for v in node for e in _expressions(v)] if isinstance(node, list) else []


def test_fast_paths_agree_with_python_jsonpath() -> None:
    """The direct evaluators give what the library gives, on every corpus expression and
    payload (and on nested, repeated, null-valued members)."""
    folder = inputs("")
    payloads = [data(p.name) for p in folder.iterdir() if "Payload" in p.name]
    payloads.append(
        {
            "Body": {
                "heartRate": None,
                "a": {"b": {"heartRate": 1, "endDate": 2}},
                "c": [{"heartRate": 3}],
            },
            "heartRate": "root",
            "telemetry": {"HeartRate": 5},
        }
    )
    texts: set[str] = set()
    for path in [*folder.iterdir(), *corpus("iomt_fhir", "sample_templates").rglob("*.json")]:
        if path.suffix == ".json" and "Payload" not in path.name:
            texts.update(_expressions(read_json(path.read_bytes())))
    fast = 0
    for text in sorted(texts):
        expression = compile_expression(text, ExpressionLanguage.JSON_PATH)
        fast += expression._fast is not None
        for payload in payloads:
            assert expression.find(payload) == expression.find_slow(payload), text
    assert fast >= len(texts) * 0.8
