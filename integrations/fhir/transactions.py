"""Transaction bundles of idempotent writes (pure): `PUT <type>/<id>` of resources whose ids
are derived from their identity, so a bundle re-sent after a lost answer stores nothing twice."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def put_transaction(resources: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A transaction Bundle that PUTs each resource at its own `resourceType/id`."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
            for r in resources
        ],
    }
