"""FHIRPath Patch (FHIR R4 `fhirpatch.html`) on a subset of FHIRPath (pure).

The operations are all five: add, insert, delete, replace, move. Their paths are the
subset of FHIRPath that names elements: `Type.element.element`, each step optionally with
an index (`Patient.name[0].given`), and a choice element by its plain name
(`Observation.value`). Any other expression (functions such as `where()`, operators,
`ofType`) is refused with a 400 naming the subset, never guessed at.

A value is a `value[x]` part, or nested parts for an element of a complex type (as the
specification's examples give a HumanName or a backbone element). Whether an element
repeats (so `add` appends a list item, and a value built from parts holds a list) comes
from the resource's model in fhir.resources.
"""

from __future__ import annotations

import copy
import re
import typing
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from integrations.fhir_store.outcome import StoreError, invalid

_STEP = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)(?:\[(\d+)\])?$")
_SUBSET = "element names with an optional [index] (e.g. Patient.name[0].given)"


def _unprocessable(diagnostics: str) -> StoreError:
    return StoreError(422, diagnostics, "processing")


@dataclass(frozen=True)
class _Step:
    name: str
    index: int | None


@dataclass
class _Spot:
    """One element a path selects: the object holding it, the JSON key it is under, and
    the list index when it is an item of a repeating element."""

    holder: dict[str, Any]
    key: str
    index: int | None

    def get(self) -> Any:
        value = self.holder[self.key]
        return value[self.index] if self.index is not None else value


def _parse_path(resource_type: str, path: str) -> list[_Step]:
    steps: list[_Step] = []
    for i, text in enumerate(path.split(".")):
        match = _STEP.match(text)
        if match is None:
            raise invalid(f"FHIRPath {path!r} is outside the supported subset: {_SUBSET}")
        index = int(match.group(2)) if match.group(2) is not None else None
        steps.append(_Step(match.group(1), index))
        if i == 0 and (match.group(1) != resource_type or index is not None):
            raise invalid(f"FHIRPath {path!r} must start with {resource_type}")
    return steps[1:]


def _model_fields(cls: Any) -> dict[str, Any]:
    return dict(getattr(cls, "model_fields", {}))


def _element_type(cls: Any, name: str) -> tuple[bool, Any]:
    """Whether element NAME of model CLS repeats, and the model class of its items (None
    for primitives)."""
    field = _model_fields(cls).get(name)
    if field is None:
        return False, None
    annotation = field.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    inner = args[0] if args else annotation
    repeats = typing.get_origin(inner) is list
    if repeats:
        inner = typing.get_args(inner)[0]
    type_name = getattr(inner, "__name__", "")
    item_cls: Any = None
    if type_name.endswith("Type") and type_name != "Type":
        try:
            item_cls = get_fhir_model_class(type_name[: -len("Type")])
        except (KeyError, ValueError):
            item_cls = None
    return repeats, item_cls


def _json_key(cls: Any, holder: dict[str, Any], name: str) -> str:
    """The JSON key of element NAME in HOLDER: NAME, or for a choice element the
    `name[x]` key it has (`value` -> `valueQuantity`)."""
    if name in holder or name in _model_fields(cls):
        return name
    for key in holder:
        if key.startswith(name) and key[len(name) : len(name) + 1].isupper():
            return key
    return name


def _select(
    document: dict[str, Any], resource_type: str, steps: list[_Step]
) -> tuple[list[_Spot], Any]:
    """The elements STEPS select, and the model class of the last step's items."""
    current: list[tuple[dict[str, Any], Any]] = [(document, get_fhir_model_class(resource_type))]
    spots: list[_Spot] = []
    cls: Any = None
    for step in steps:
        spots = []
        below: list[tuple[dict[str, Any], Any]] = []
        for holder, holder_cls in current:
            key = _json_key(holder_cls, holder, step.name)
            _, cls = _element_type(holder_cls, key)
            if key not in holder:
                continue
            value = holder[key]
            if isinstance(value, list):
                indexes = [step.index] if step.index is not None else list(range(len(value)))
                spots += [_Spot(holder, key, i) for i in indexes if 0 <= i < len(value)]
            elif step.index in (None, 0):
                spots.append(_Spot(holder, key, None))
        below = [(s.get(), cls) for s in spots if isinstance(s.get(), dict)]
        current = below
    return spots, cls


def _one(spots: list[_Spot], path: str) -> _Spot:
    if len(spots) != 1:
        raise _unprocessable(f"path {path!r} selects {len(spots)} elements, not one")
    return spots[0]


def _parts(parameter: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    parts = parameter.get("part")
    if not isinstance(parts, list):
        raise invalid("each operation parameter needs parts")
    out: dict[str, list[dict[str, Any]]] = {}
    for part in parts:
        if not isinstance(part, dict) or not isinstance(part.get("name"), str):
            raise invalid("each part of an operation needs a name")
        out.setdefault(part["name"], []).append(part)
    return out


def _scalar(parts: dict[str, list[dict[str, Any]]], name: str) -> Any:
    found = parts.get(name, [])
    if len(found) != 1:
        return None
    values = [v for k, v in found[0].items() if k.startswith("value")]
    return values[0] if len(values) == 1 else None


def _typed_value(part: dict[str, Any], cls: Any) -> tuple[str, Any]:
    """The value of a value part and its type suffix (`Quantity` for `valueQuantity`;
    "" when given as nested parts)."""
    typed = [(k, v) for k, v in part.items() if k.startswith("value") and len(k) > 5]
    if len(typed) == 1:
        return typed[0][0][len("value") :], copy.deepcopy(typed[0][1])
    if typed:
        raise invalid("a value part has one value[x]")
    nested = part.get("part")
    if not isinstance(nested, list):
        raise invalid("a value part needs a value[x] or parts")
    out: dict[str, Any] = {}
    for item in nested:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise invalid("each part of a value needs a name")
        name = item["name"]
        suffix, value = _typed_value(item, _element_type(cls, name)[1])
        if not _place(out, cls, name, suffix, value):
            raise invalid(f"element {name!r} does not repeat")
    return "", out


def _place(holder: dict[str, Any], cls: Any, name: str, suffix: str, value: Any) -> bool:
    """Add VALUE as element NAME of HOLDER (of model CLS): appended when it repeats, set
    when it is absent (a choice element under `name` + SUFFIX); False when it is taken."""
    repeats, _ = _element_type(cls, name)
    key = name if name in _model_fields(cls) or not suffix else f"{name}{suffix}"
    if repeats:
        holder.setdefault(key, []).append(value)
    elif key in holder:
        return False
    else:
        holder[key] = value
    return True


def _value(parts: dict[str, list[dict[str, Any]]], cls: Any) -> tuple[str, Any]:
    found = parts.get("value", [])
    if len(found) != 1:
        raise invalid("the operation needs one value part")
    return _typed_value(found[0], cls)


def _index(parts: dict[str, list[dict[str, Any]]], name: str) -> int:
    value = _scalar(parts, name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise invalid(f"the operation needs a non-negative integer {name}")
    return value


def _collection(
    document: dict[str, Any], resource_type: str, steps: list[_Step], path: str
) -> tuple[list[Any], Any, dict[str, Any], str]:
    """The list a path names (for insert and move), its item class, holder and key."""
    if not steps or steps[-1].index is not None:
        raise invalid(f"path {path!r} must name a repeating element")
    if steps[:-1]:
        holders, holder_cls = _select(document, resource_type, steps[:-1])
        holder = _one(holders, path).get()
        if not isinstance(holder, dict):
            raise _unprocessable(f"path {path!r} does not lead to an element")
    else:
        holder, holder_cls = document, get_fhir_model_class(resource_type)
    key = _json_key(holder_cls, holder, steps[-1].name)
    repeats, item_cls = _element_type(holder_cls, key)
    if not repeats:
        raise _unprocessable(f"{path} does not repeat")
    items = holder.setdefault(key, [])
    return items, item_cls, holder, key


def _prune(node: Any) -> Any:
    """NODE without the empty objects and lists a deletion leaves (ele-1)."""
    if isinstance(node, dict):
        out = {k: _prune(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v not in ({}, [])}
    if isinstance(node, list):
        items = [_prune(v) for v in node]
        return [v for v in items if v not in ({}, [])]
    return node


def _apply_one(document: dict[str, Any], resource_type: str, parameter: dict[str, Any]) -> None:
    parts = _parts(parameter)
    kind = _scalar(parts, "type")
    path = _scalar(parts, "path")
    if not isinstance(path, str) or not path:
        raise invalid("each operation needs a path")
    steps = _parse_path(resource_type, path)
    if kind == "add":
        name = _scalar(parts, "name")
        if not isinstance(name, str) or not _STEP.match(name) or "[" in name:
            raise invalid("an add operation needs an element name")
        if steps:
            spots, holder_cls = _select(document, resource_type, steps)
            holder = _one(spots, path).get()
        else:
            holder, holder_cls = document, get_fhir_model_class(resource_type)
        if not isinstance(holder, dict):
            raise _unprocessable(f"path {path!r} does not lead to an element")
        suffix, value = _value(parts, _element_type(holder_cls, name)[1])
        if not _place(holder, holder_cls, name, suffix, value):
            raise _unprocessable(f"{path}.{name} already has a value")
    elif kind == "insert":
        items, item_cls, _, _ = _collection(document, resource_type, steps, path)
        index = _index(parts, "index")
        if index > len(items):
            raise _unprocessable(f"index {index} is beyond the {len(items)} items of {path}")
        items.insert(index, _value(parts, item_cls)[1])
    elif kind == "delete":
        spots, _ = _select(document, resource_type, steps)
        if not steps:
            raise invalid("the resource itself cannot be deleted by a patch")
        if len(spots) > 1:
            raise _unprocessable(f"path {path!r} selects {len(spots)} elements, not one")
        for spot in spots:
            if spot.index is None:
                del spot.holder[spot.key]
            else:
                del spot.holder[spot.key][spot.index]
    elif kind == "replace":
        if not steps:
            raise invalid("the resource itself cannot be replaced by a patch")
        spots, cls = _select(document, resource_type, steps)
        spot = _one(spots, path)
        suffix, value = _value(parts, cls)
        if spot.index is not None:
            spot.holder[spot.key][spot.index] = value
        elif suffix and spot.key != steps[-1].name and spot.key.startswith(steps[-1].name):
            del spot.holder[spot.key]  # a choice element may change its type
            spot.holder[f"{steps[-1].name}{suffix}"] = value
        else:
            spot.holder[spot.key] = value
    elif kind == "move":
        items, _, _, _ = _collection(document, resource_type, steps, path)
        source, destination = _index(parts, "source"), _index(parts, "destination")
        if source >= len(items) or destination >= len(items):
            raise _unprocessable(f"move {source} -> {destination} is outside {path}")
        items.insert(destination, items.pop(source))
    else:
        raise invalid(f"operation type {kind!r} is not add, insert, delete, replace or move")


def apply_fhirpath_patch(document: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """DOCUMENT after the FHIRPath Patch PARAMETERS (a new document)."""
    operations = parameters.get("parameter")
    if not isinstance(operations, list) or not operations:
        raise invalid("the FHIRPath Patch has no operations")
    resource_type = document["resourceType"]
    patched = copy.deepcopy(document)
    for parameter in operations:
        if not isinstance(parameter, dict) or parameter.get("name") != "operation":
            raise invalid("each parameter of a FHIRPath Patch is named 'operation'")
        _apply_one(patched, resource_type, parameter)
    pruned = _prune(patched)
    assert isinstance(pruned, dict)
    return pruned
