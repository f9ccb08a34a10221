"""A pure, immutable builder of FHIR search queries.

query = (SearchQuery(Observation)
         .where(patient="Patient/1", code="http://loinc.org|8867-4")
         .where(date=["ge2024-01-01", "lt2024-01-08"])
         .sort("-date").count(50))
query.params()  # [("patient", "Patient/1"), ("code", ...), ("date", "ge..."), ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from fhir.resources.R4B.resource import Resource

T = TypeVar("T", bound=Resource)
Value = str | int | Sequence[str]


def _param_name(name: str) -> str:
    # Python names cannot hold '-' or ':'; `clinical_status` -> `clinical-status`,
    # `code__text` -> `code:text`.
    return name.replace("__", ":").replace("_", "-") if not name.startswith("_") else name


@dataclass(frozen=True)
class SearchQuery(Generic[T]):
    """Search criteria for one resource type; each method returns a new query."""

    resource: type[T]
    criteria: tuple[tuple[str, str], ...] = ()

    @property
    def resource_type(self) -> str:
        """The FHIR type searched."""
        return self.resource.get_resource_type()

    def where(self, **params: Value) -> SearchQuery[T]:
        """Add criteria; a list value repeats the parameter (AND), commas inside mean OR."""
        added: list[tuple[str, str]] = []
        for name, value in params.items():
            values = [value] if isinstance(value, (str, int)) else list(value)
            added.extend((_param_name(name), str(v)) for v in values)
        return replace(self, criteria=self.criteria + tuple(added))

    def param(self, name: str, value: str) -> SearchQuery[T]:
        """Add one criterion with a name Python keywords cannot spell."""
        return replace(self, criteria=(*self.criteria, (name, value)))

    def sort(self, *keys: str) -> SearchQuery[T]:
        """`_sort`; prefix a key with '-' for descending."""
        return self.param("_sort", ",".join(keys))

    def count(self, page_size: int) -> SearchQuery[T]:
        """`_count`: the page size."""
        return self.param("_count", str(page_size))

    def include(self, *targets: str) -> SearchQuery[T]:
        """`_include`, e.g. `Observation:patient`."""
        query = self
        for target in targets:
            query = query.param("_include", target)
        return query

    def params(self) -> list[tuple[str, str]]:
        """The query parameters, in order."""
        return list(self.criteria)

    def query_string(self) -> str:
        """The parameters URL-encoded (for If-None-Exist and conditional URLs)."""
        from urllib.parse import urlencode

        return urlencode(self.criteria)
