"""Rules fhir.resources does not check, taken from the R4 spec (pure).

Narrative XHTML (txt-1, txt-2), HTML in plain strings, Period start <= end (per-1),
RiskAssessment probability <= 100 (ras-2), contained ids, SNOMED CT identifier check
digits, the vital-signs profiles' required LOINC codes when a resource claims them, the
contexts of core extensions, and extension URLs from known publishers only.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from integrations.fhir_store.dates import DateFormatError, parse_range

XHTML_NS = "{http://www.w3.org/1999/xhtml}"
# FHIR R4 narrative: the HTML 4.0 formatting elements txt-1 allows.
_XHTML_ELEMENTS = frozenset(
    [
        "a",
        "abbr",
        "acronym",
        "b",
        "big",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "col",
        "colgroup",
        "dd",
        "dfn",
        "div",
        "dl",
        "dt",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "samp",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "tt",
        "ul",
        "var",
    ]
)
_HTML_IN_STRING = re.compile(r"<\s*/?\s*[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?\s*>")
_SNOMED_ID = re.compile(r"^[1-9]\d{5,17}$")
# Compositional grammar without terms: ids joined by : = , + { } ( ) and spaces.
_SNOMED_EXPRESSION = re.compile(r"^[\d:=,+{}() ]+$")
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
# Vital-signs profiles (hl7_r4_vitalsigns_profiles): the LOINC code each one requires.
_VITAL_PROFILES = {
    "http://hl7.org/fhir/StructureDefinition/heartrate": "8867-4",
    "http://hl7.org/fhir/StructureDefinition/oxygensat": "2708-6",
    "http://hl7.org/fhir/StructureDefinition/bp": "85354-9",
    "http://hl7.org/fhir/StructureDefinition/bodytemp": "8310-5",
    "http://hl7.org/fhir/StructureDefinition/resprate": "9279-1",
    "http://hl7.org/fhir/StructureDefinition/bodyweight": "29463-7",
    "http://hl7.org/fhir/StructureDefinition/bodyheight": "8302-2",
    "http://hl7.org/fhir/StructureDefinition/headcircum": "9843-4",
    "http://hl7.org/fhir/StructureDefinition/bmi": "39156-5",
}
# Vital signs (R4 observation-vitalsigns): a vital-signs Observation coded with a more
# specific concept must also carry the profile's LOINC code. Concept -> required LOINC.
# (LOINC 8331-1, oral temperature, is left out: Synthea's vital signs use it alone.)
_SPECIFIC_VITALS = {
    (SNOMED, "276885007"): "8310-5",
    (SNOMED, "386725007"): "8310-5",
    (SNOMED, "415945006"): "8310-5",
    (LOINC, "8328-7"): "8310-5",
    (LOINC, "8333-7"): "8310-5",
    (LOINC, "8329-5"): "8310-5",
    (LOINC, "8332-9"): "8310-5",
    (LOINC, "76534-7"): "85354-9",
    (LOINC, "76535-4"): "85354-9",
    (LOINC, "35094-2"): "85354-9",
    (SNOMED, "75367002"): "85354-9",
    (LOINC, "8889-8"): "8867-4",
    (SNOMED, "364075005"): "8867-4",
    (SNOMED, "86290005"): "9279-1",
    (LOINC, "3141-9"): "29463-7",
    (SNOMED, "27113001"): "29463-7",
}
# Core extensions that may only sit on one element (their StructureDefinition context).
_CORE = "http://hl7.org/fhir/StructureDefinition/"
_EXTENSION_CONTEXT = {
    _CORE + "humanname-mothers-family": "_family",
    _CORE + "humanname-fathers-family": "_family",
    _CORE + "humanname-own-name": "_family",
    _CORE + "humanname-own-prefix": "_family",
    _CORE + "humanname-partner-name": "_family",
    _CORE + "humanname-partner-prefix": "_family",
    _CORE + "patient-birthTime": "_birthDate",
}
# Publishers whose extensions the store accepts: HL7 (core and IGs), Synthea, and the
# documentation domains of RFC 2606 (our own base URL lives under example.org).
DEFAULT_EXTENSION_HOSTS = (
    "hl7.org",
    "fhir.org",
    "synthetichealth.github.io",
    "example.org",
    "example.com",
    "example.net",
)


def verhoeff_ok(number: str) -> bool:
    """True when NUMBER's last digit is its Verhoeff check digit (SNOMED CT identifiers)."""
    d = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ]
    p = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ]
    check = 0
    for index, digit in enumerate(reversed(number)):
        check = d[check][p[index % 8][int(digit)]]
    return check == 0


def snomed_id_ok(code: str) -> bool:
    """A SNOMED CT identifier (6-18 digits, Verhoeff check digit) or an expression of them."""
    if _SNOMED_ID.match(code):
        return verhoeff_ok(code)
    if not _SNOMED_EXPRESSION.match(code):
        return False
    ids = re.findall(r"\d{6,18}", code)
    return bool(ids) and all(verhoeff_ok(i) for i in ids)


def xhtml_problems(div: str) -> list[str]:
    """What is wrong with a narrative div (txt-1, txt-2); empty when it is fine."""
    try:
        root = ET.fromstring(div)
    except ET.ParseError as error:
        return [f"narrative is not well-formed XHTML: {error}"]
    if root.tag != XHTML_NS + "div":
        return ["narrative must be an XHTML div"]
    problems: list[str] = []
    for element in root.iter():
        name = element.tag.removeprefix(XHTML_NS)
        if name not in _XHTML_ELEMENTS:
            problems.append(f"narrative element <{name}> is not allowed")
        for attribute, value in element.attrib.items():
            if attribute.lower().startswith("on") or value.strip().lower().startswith(
                "javascript:"
            ):
                problems.append(f"narrative attribute {attribute} is not allowed")
    if not "".join(root.itertext()).strip() and root.find(".//" + XHTML_NS + "img") is None:
        problems.append("narrative has no text (txt-2)")
    return problems


def _walk(node: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(parent path, key, value) for every member, lists flattened."""
    if isinstance(node, dict):
        for key, value in node.items():
            for item in value if isinstance(value, list) else [value]:
                yield path, key, item
                yield from _walk(item, f"{path}.{key}")


def _host(url: str) -> str:
    match = re.match(r"^[a-z][a-z0-9+.-]*://([^/:?#]+)", url)
    return match.group(1).lower() if match else ""


def _host_allowed(url: str, hosts: tuple[str, ...]) -> bool:
    if url.startswith("urn:"):
        return False
    host = _host(url)
    return any(host == h or host.endswith("." + h) for h in hosts)


def _period_problem(item: dict[str, Any], where: str) -> str | None:
    start, end = item.get("start"), item.get("end")
    if not (isinstance(start, str) and isinstance(end, str)):
        return None
    try:
        # FHIRPath `start <= end` fails when precisions differ and the ranges overlap
        if parse_range(start)[1] > parse_range(end)[1]:
            return f"{where}: start is after end (per-1)"
    except DateFormatError:
        return None
    return None


# Only values of the first and last representable years can leave the range in UTC.
_EDGE_YEAR = re.compile(r"^(0001|9999)-\d\d-\d\dT.*[+-]\d\d:\d\d$")


def _edge_date_problem(value: str, where: str) -> str | None:
    if not _EDGE_YEAR.match(value):
        return None
    try:
        parse_range(value)
    except DateFormatError:
        return f"{where}: {value!r} is out of range once converted to UTC"
    return None


def rule_problems(
    resource: dict[str, Any], extension_hosts: tuple[str, ...] = DEFAULT_EXTENSION_HOSTS
) -> list[str]:
    """Every rule this module checks, as messages; empty when the resource passes."""
    rtype = resource.get("resourceType", "")
    problems: list[str] = []
    for parent, key, value in _walk(resource, rtype):
        where = f"{parent}.{key}"
        if isinstance(value, str):
            if key == "div":
                problems.extend(xhtml_problems(value))
            elif _HTML_IN_STRING.search(value):
                problems.append(f"{where}: text looks like embedded HTML")
            elif (problem := _edge_date_problem(value, where)) is not None:
                problems.append(problem)
        elif isinstance(value, dict):
            problem = _period_problem(value, where)
            if problem:
                problems.append(problem)
            if key in ("coding",) and value.get("system") == SNOMED:
                code = value.get("code")
                if isinstance(code, str) and not snomed_id_ok(code):
                    problems.append(f"{where}: {code!r} is not a SNOMED CT identifier")
            if key in ("extension", "modifierExtension") and isinstance(value.get("url"), str):
                url = value["url"]
                context = _EXTENSION_CONTEXT.get(url)
                if context is not None and not parent.endswith("." + context):
                    problems.append(f"{where}: extension {url} is not allowed here")
                if "://" in url and not _host_allowed(url, extension_hosts):
                    problems.append(f"{where}: extension {url} is not known to this server")
            if key == "contained":
                cid = value.get("id")
                if isinstance(cid, str) and len(cid) > 64:
                    problems.append(f"{where}: contained id longer than 64 characters")
    if rtype == "RiskAssessment":
        for prediction in resource.get("prediction", []):
            probability = prediction.get("probabilityDecimal")
            if isinstance(probability, (int, float)) and probability > 100:
                problems.append("RiskAssessment.prediction.probabilityDecimal > 100 (ras-2)")
    if rtype == "Observation":
        problems.extend(_vital_profile_problems(resource))
    return problems


def _vital_profile_problems(resource: dict[str, Any]) -> list[str]:
    profiles = (resource.get("meta") or {}).get("profile") or []
    codes = {
        (c.get("system"), c.get("code")) for c in (resource.get("code") or {}).get("coding", [])
    }
    problems = []
    vital = any(
        c.get("code") == "vital-signs"
        for cat in resource.get("category", [])
        for c in cat.get("coding", [])
    )
    if vital:
        for concept in codes:
            magic = _SPECIFIC_VITALS.get(concept)
            if magic and (LOINC, magic) not in codes:
                problems.append(
                    f"Observation.code: a vital sign coded {concept[1]} also needs LOINC {magic}"
                )
    for profile in profiles:
        required = _VITAL_PROFILES.get(str(profile).split("|")[0])
        if required and (LOINC, required) not in codes:
            problems.append(f"Observation.code: profile {profile} requires LOINC {required}")
    return problems
