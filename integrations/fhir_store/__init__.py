"""Embedded FHIR R4 store on SQLAlchemy (SQLite default, PostgreSQL).

Public API:

- `create_fhir_app(sessionmaker) -> aiohttp.web.Application`: the REST API; mount it with
  `app.add_subapp("/fhir", create_fhir_app(sessionmaker))`. The database must be migrated
  (`integrations.persistence.migrate.migrate(url)` runs the `fhir` branch too).
- `await ensure_client(sessionmaker, "gateway", "system/Observation.write") -> str`: a bearer
  token for a named client (registered on first use; idempotent by name; it expires, and a
  revoked client stays revoked).
- `create_fhir_app(sessionmaker, access_key=AccessTokenKey(secret))`: the store also takes
  the service's short-lived signed tokens (`access_tokens`), which name the person they act
  for; the service reaches them through `integrations.fhir.access`.
- `FhirStore(sessionmaker)`: the same store in-process, without HTTP.

Every request needs `Authorization: Bearer <token>` (a registered client's, or signed) whose SMART
scopes (`system/*.read`, `system/Observation.write`, `patient/*.read` bound to one patient,
v2 `.cruds` letters too) cover it. Reads of latest vitals: `GET /fhir/Observation/$lastn?
patient=Patient/1&code=http://loinc.org|8867-4`. Change feed: `GET /fhir/_history?_since=
<instant>&_sort=_lastUpdated` returns every change after that instant in commit order.
"""

from integrations.fhir_store.app import create_fhir_app
from integrations.fhir_store.clients import add_client, ensure_client, list_clients, revoke_client
from integrations.fhir_store.store import FhirStore

__all__ = [
    "FhirStore",
    "add_client",
    "create_fhir_app",
    "ensure_client",
    "list_clients",
    "revoke_client",
]
