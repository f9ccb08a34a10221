"""What the store says of its SMART authorization server (pure): the
`.well-known/smart-configuration` document (SMART App Launch 2.0 section 2.0.6) and the
CapabilityStatement's `rest.security`.

The endpoints live on the service that mounts the store (its portal and staff sign-in
approve the requests): they are set with `SMART_PATH` on the store's app; without it the
store has no authorization server and serves neither.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

SMART_PATH = web.AppKey("fhir_smart_path", str)
"""Where the service that mounts the store answers OAuth (e.g. "/auth", on its origin)."""

CAPABILITIES = (
    "launch-standalone",
    "client-public",
    "client-confidential-asymmetric",
    "context-standalone-patient",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
    "permission-offline",
    "sso-openid-connect",
)
SCOPES_SUPPORTED = (
    "openid",
    "fhirUser",
    "launch/patient",
    "offline_access",
    "patient/*.rs",
    "patient/*.cruds",
    "user/*.rs",
    "system/*.rs",
    "system/*.cruds",
)
SECURITY_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def endpoints(origin: str, path: str) -> dict[str, str]:
    """The OAuth endpoints under PATH of ORIGIN (`scheme://host[:port]`)."""
    root = origin.rstrip("/") + path
    return {
        "issuer": origin.rstrip("/"),
        "jwks_uri": f"{root}/jwks",
        "authorization_endpoint": f"{root}/authorize",
        "token_endpoint": f"{root}/token",
        "revocation_endpoint": f"{root}/revoke",
    }


def smart_configuration(origin: str, path: str) -> dict[str, Any]:
    """The `.well-known/smart-configuration` document."""
    return {
        **endpoints(origin, path),
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "response_types_supported": ["code"],
        "scopes_supported": list(SCOPES_SUPPORTED),
        "code_challenge_methods_supported": ["S256"],
        "capabilities": list(CAPABILITIES),
    }


def security(origin: str | None, path: str | None) -> dict[str, Any]:
    """The CapabilityStatement's `rest.security` (the SMART extension when the service
    answers OAuth)."""
    out: dict[str, Any] = {
        "cors": False,
        "service": [{"coding": [{"system": SECURITY_SERVICE, "code": "SMART-on-FHIR"}]}],
        "description": "SMART App Launch 2.0 and Backend Services; registered clients' tokens",
    }
    if origin is not None and path is not None:
        urls = endpoints(origin, path)
        out["extension"] = [
            {
                "url": OAUTH_URIS,
                "extension": [
                    {"url": "authorize", "valueUri": urls["authorization_endpoint"]},
                    {"url": "token", "valueUri": urls["token_endpoint"]},
                    {"url": "revoke", "valueUri": urls["revocation_endpoint"]},
                ],
            }
        ]
    return out
