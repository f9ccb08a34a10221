"""OperationOutcome documents and the errors the store raises (pure)."""

from __future__ import annotations

from typing import Any


class StoreError(Exception):
    """A request the store refuses; carries the HTTP status and an OperationOutcome issue."""

    def __init__(
        self, status: int, diagnostics: str, code: str = "processing", expression: str = ""
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code
        self.expression = expression

    def outcome(self) -> dict[str, Any]:
        """The OperationOutcome describing this error."""
        return operation_outcome(
            "error" if self.status < 500 else "fatal", self.code, self.diagnostics, self.expression
        )


def operation_outcome(
    severity: str, code: str, diagnostics: str, expression: str = ""
) -> dict[str, Any]:
    """An OperationOutcome with one issue."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def not_found(resource_type: str, resource_id: str) -> StoreError:
    """404 for a resource that does not exist."""
    return StoreError(404, f"{resource_type}/{resource_id} not found", "not-found")


def invalid(diagnostics: str, expression: str = "") -> StoreError:
    """400 for content that is not valid FHIR."""
    return StoreError(400, diagnostics, "invalid", expression)
