"""Checks an Observation's JSON against the fixed values of an R4 vital-signs profile."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from tests.corpora import corpus

PROFILES_DIR = corpus("fhir_r4", "hl7_r4_vitalsigns_profiles")


@cache
def profiles() -> dict[str, dict[str, Any]]:
    """Profile URL -> StructureDefinition."""
    out: dict[str, dict[str, Any]] = {}
    for path in PROFILES_DIR.glob("*.json"):
        definition: dict[str, Any] = json.loads(path.read_text())
        out[definition["url"]] = definition
    return out


def _fixed(element: dict[str, Any]) -> Any:
    for key, value in element.items():
        if key.startswith(("fixed", "pattern")):
            return value
    return None


def _codings(node: dict[str, Any] | None) -> list[dict[str, Any]]:
    return list((node or {}).get("coding", []))


def check_against_profile(resource: dict[str, Any], url: str) -> list[str]:
    """Problems found: every fixed system/code/unit of the profile must appear in `resource`."""
    problems: list[str] = []
    definition = profiles()[url]
    for element in definition["snapshot"]["element"]:
        fixed = _fixed(element)
        if fixed is None:
            continue
        eid: str = element["id"]
        leaf = eid.rsplit(".", 1)[-1]
        if eid.startswith("Observation.category:VSCat.coding."):
            if not any(c.get(leaf) == fixed for cat in resource["category"] for c in _codings(cat)):
                problems.append(f"{eid} != {fixed}")
        elif eid.startswith("Observation.code.coding:"):
            if not any(c.get(leaf) == fixed for c in _codings(resource["code"])):
                problems.append(f"{eid} != {fixed}")
        elif eid.startswith("Observation.value[x]:valueQuantity."):
            quantity = resource.get("valueQuantity")
            if quantity is not None and quantity.get(leaf) != fixed:
                problems.append(f"{eid}: {quantity.get(leaf)} != {fixed}")
        elif eid.startswith("Observation.component:"):
            slice_name = eid.split(":")[1].split(".")[0]
            code_element = next(
                e
                for e in definition["snapshot"]["element"]
                if e["id"].startswith(f"Observation.component:{slice_name}.code.coding:")
                and e["id"].endswith(".code")
                and _fixed(e) is not None
            )
            slice_code = _fixed(code_element)
            matches = [
                comp
                for comp in resource.get("component", [])
                if any(c.get("code") == slice_code for c in _codings(comp["code"]))
            ]
            if not matches:
                problems.append(f"no component for slice {slice_name} ({slice_code})")
                continue
            for comp in matches:
                if ".code.coding:" in eid:
                    if not any(c.get(leaf) == fixed for c in _codings(comp["code"])):
                        problems.append(f"{eid} != {fixed}")
                elif (
                    ".value[x]." in eid
                    and "valueQuantity" in comp
                    and comp["valueQuantity"].get(leaf) != fixed
                ):
                    problems.append(f"{eid}: {comp['valueQuantity'].get(leaf)} != {fixed}")
    return problems
