"""Template expressions: JSONPath (Newtonsoft's dialect, as MedTech evaluates it) and JMESPath.

MedTech resolves JSONPath with Json.NET, whose filters accept `@name` for `@.name` and whose
recursive descent `$..[?(...)]` also tests the root token itself; `python-jsonpath` speaks RFC
9535, so an expression is rewritten once at load (`@name` -> `@.name`) and a `$..` expression
is evaluated over a one-element array holding the message, which puts the root among the
nodes the filter tests. JMESPath gets MedTech's custom functions (docs/CustomFunctions.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import jmespath
import jmespath.exceptions
import jsonpath
from jmespath import functions


class ExpressionLanguage(StrEnum):
    """The two expression languages of a CalculatedContent template."""

    JSON_PATH = "JsonPath"
    JMES_PATH = "JmesPath"


class ExpressionError(ValueError):
    """An expression that does not compile, or fails on a message."""


_BARE_MEMBER = re.compile(r"@(?=[A-Za-z_])")
_INT64 = (-(2**63), 2**63 - 1)


def _long(value: float) -> float:
    if not _INT64[0] <= value <= _INT64[1]:
        raise ExpressionError(f"result {value} does not fit a 64-bit integer")
    return value


def _iso(seconds: float) -> str:
    # MedTech writes "+0" for UTC (docs/CustomFunctions.md examples)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + "+0"


class _MedTechFunctions(functions.Functions):
    """MedTech's JMESPath custom functions (docs/CustomFunctions.md)."""

    @functions.signature({"types": ["number"]}, {"types": ["number"]})
    def _func_add(self, left: float, right: float) -> float:
        return _long(left + right)

    @functions.signature({"types": ["number"]}, {"types": ["number"]})
    def _func_subtract(self, left: float, right: float) -> float:
        return _long(left - right)

    @functions.signature({"types": ["number"]}, {"types": ["number"]})
    def _func_multiply(self, left: float, right: float) -> float:
        return _long(left * right)

    @functions.signature({"types": ["number"]}, {"types": ["number"]})
    def _func_divide(self, left: float, right: float) -> float:
        if right == 0:
            raise ExpressionError("divide by zero")
        return _long(left / right)

    @functions.signature({"types": ["number"]}, {"types": ["number"]})
    def _func_pow(self, left: float, right: float) -> float:
        return _long(float(left) ** right)

    @functions.signature({"types": ["string"]}, {"types": ["string"]}, {"types": ["number"]})
    def _func_insertString(self, original: str, to_insert: str, pos: float) -> str:
        index = int(pos)
        if index != pos or not 0 <= index <= len(original):
            raise ExpressionError(f"insertString position {pos} is out of range")
        return original[:index] + to_insert + original[index:]

    @functions.signature({"types": ["number"]})
    def _func_fromUnixTimestamp(self, seconds: float) -> str:
        return _iso(seconds)

    @functions.signature({"types": ["number"]})
    def _func_fromUnixTimestampMs(self, millis: float) -> str:
        return _iso(millis / 1000)


_JMES_OPTIONS = jmespath.Options(custom_functions=_MedTechFunctions())


_NAME = r"[A-Za-z_][\w-]*"
_MEMBER = rf"(?:\.{_NAME}|\['[^'\\]*'\])"
_CHAIN = re.compile(rf"^\$(?:{_MEMBER})*$")
_STEP = re.compile(rf"\.({_NAME})|\['([^'\\]*)'\]")
_EXISTS = re.compile(
    rf"^\$\.\.\[\?\(\s*@\.?{_NAME}(?:\.{_NAME})*(?:\s*&&\s*@\.?{_NAME}(?:\.{_NAME})*)*\s*\)\]$"
)
_TEST = re.compile(rf"@\.?({_NAME}(?:\.{_NAME})*)")
_MISSING = object()
Path = tuple[str, ...]


def _walk(token: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(token, dict):
            return _MISSING
        token = token.get(key, _MISSING)
        if token is _MISSING:
            return _MISSING
    return token


def _children(token: Any) -> list[Any]:
    if isinstance(token, dict):
        return list(token.values())
    return list(token) if isinstance(token, list) else []


def _scan(root: Any, tests: tuple[Path, ...]) -> list[Any]:
    """`$..[?(@a && @b.c)]` as RFC 9535 over `[root]`: for each node in document order (the
    root's wrapper first), its children that have every member (python-jsonpath's order)."""
    out: list[Any] = []
    stack: list[Any] = [[root]]
    while stack:
        node = stack.pop()
        children = _children(node)
        out.extend(
            c
            for c in children
            if isinstance(c, dict) and all(_walk(c, t) is not _MISSING for t in tests)
        )
        stack.extend(reversed([c for c in children if isinstance(c, dict | list)]))
    return out


def _fast_path(text: str) -> Any:
    """A direct evaluator for the two shapes templates use most (member chains and
    existence filters under `$..`), or None; tests check it against python-jsonpath."""
    if _CHAIN.match(text):
        path = tuple(a or b for a, b in _STEP.findall(text[1:]))
        return lambda token: [] if (found := _walk(token, path)) is _MISSING else [found]
    if _EXISTS.match(text):
        tests = tuple(tuple(t.split(".")) for t in _TEST.findall(text))
        return lambda token: _scan(token, tests)
    return None


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled expression; `find` returns every value it selects (maybe none)."""

    text: str
    language: ExpressionLanguage
    _compiled: Any
    _fast: Any = None

    def find(self, token: Any) -> list[Any]:
        """The values the expression selects in TOKEN (JSON data)."""
        if self._fast is not None:
            found: list[Any] = self._fast(token)
            return found
        return self.find_slow(token)

    def find_slow(self, token: Any) -> list[Any]:
        """`find` through the libraries only (the reference for the fast paths)."""
        try:
            if self.language is ExpressionLanguage.JMES_PATH:
                found = self._compiled.search(token, options=_JMES_OPTIONS)
                return [] if found is None else [found]
            scope = [token] if self.text.startswith("$..") else token
            return list(self._compiled.findall(scope))
        except ExpressionError:
            raise
        except (jmespath.exceptions.JMESPathError, jsonpath.JSONPathError, TypeError) as error:
            raise ExpressionError(f"{self.language} {self.text!r} failed: {error}") from error

    def first(self, token: Any) -> Any:
        """The first value selected, or None."""
        found = self.find(token)
        return found[0] if found else None


def compile_expression(text: str, language: ExpressionLanguage) -> Expression:
    """Compile TEXT in LANGUAGE; ExpressionError names what is wrong."""
    if not text.strip():
        raise ExpressionError("expression is empty")
    try:
        if language is ExpressionLanguage.JMES_PATH:
            return Expression(text, language, jmespath.compile(text))
        rewritten = _BARE_MEMBER.sub("@.", text)
        return Expression(text, language, jsonpath.compile(rewritten), _fast_path(text.strip()))
    except (jmespath.exceptions.JMESPathError, jsonpath.JSONPathError) as error:
        raise ExpressionError(
            f"{language} expression {text!r} does not compile: {error}"
        ) from error
