"""SMART App Launch against the running service, as an outside app does it over HTTP:
the standalone patient launch with PKCE, the token's `patient`, id_token and refresh token,
query-restricted v2 scopes, and the refusals (code reuse, PKCE and redirect_uri mismatch,
scope escalation at refresh, revoked refresh tokens)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from sqlalchemy import select

from integrations.fhir_store.tables import FhirResourceRow, FhirVersionRow
from tests.bot.service import DEMO_PASSWORD
from tests.security.smart_flow import (
    REDIRECT_URI,
    VITAL_SIGNS,
    authorize_url,
    hidden_fields,
    pkce,
    redirect_params,
    sign_in_and_decide,
    token_request,
)
from tests.security.smart_world import SmartWorld, browser_session, smart_world

LAUNCH = "launch/patient openid fhirUser offline_access patient/Observation.rs patient/Patient.rs"


async def _code(world: SmartWorld, scope: str = LAUNCH) -> tuple[str, str]:
    verifier, challenge = pkce()
    async with browser_session() as http:
        url = authorize_url(world.base, world.app_id, scope, challenge, "st-1")
        params = await sign_in_and_decide(http, url, "alice", DEMO_PASSWORD)
    assert params["state"] == "st-1"
    return params["code"], verifier


def _exchange(world: SmartWorld, code: str, verifier: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        "client_id": world.app_id,
        **extra,
    }


async def _fhir(base: str, token: str, path: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/fhir/{path}", headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        return response.status, await response.json(content_type=None)


async def _audit_clients(world: SmartWorld) -> list[str]:
    async with world.services.sessions() as session:
        rows = (
            await session.execute(
                select(FhirVersionRow.content)
                .join(
                    FhirResourceRow,
                    (FhirResourceRow.res_id == FhirVersionRow.res_id)
                    & (FhirResourceRow.res_type == FhirVersionRow.res_type),
                )
                .where(FhirVersionRow.res_type == "AuditEvent")
            )
        ).scalars()
        return [str(r) for r in rows]


async def test_a_patient_launch_gives_a_token_for_that_patient(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with smart_world(tmp_path, database_url) as world, aiohttp.ClientSession() as http:
        code, verifier = await _code(world)
        status, body = await token_request(http, world.base, _exchange(world, code, verifier))
        assert status == 200, body
        assert body["patient"] == "demo-patient-alice"
        assert body["token_type"] == "Bearer"
        assert set(body["scope"].split()) == set(LAUNCH.split())
        # the id_token is signed by the key the service publishes, and names the patient
        async with http.get(f"{world.base}/auth/jwks") as response:
            jwks = await response.json()
        key = jwt.PyJWK(jwks["keys"][0])
        claims = jwt.decode(body["id_token"], key, algorithms=["RS256"], audience=world.app_id)
        assert claims["fhirUser"] == "Patient/demo-patient-alice"
        assert claims["iss"] == world.base
        token = body["access_token"]
        status, bundle = await _fhir(world.base, token, "Observation?category=vital-signs")
        assert status == 200
        assert [e["resource"]["id"] for e in bundle["entry"]] == ["alice-hr"]
        assert (await _fhir(world.base, token, "Observation/alice-hr"))[0] == 200
        assert (await _fhir(world.base, token, "Observation/david-hr"))[0] in (403, 404)
        assert (await _fhir(world.base, token, "Patient/demo-patient-david"))[0] in (403, 404)
        # every access was audited, naming the app
        events = await _audit_clients(world)
        assert sum("smart:vitals-app" in e for e in events) >= 4
        # the refresh token rotates: the new one works, the old one no longer
        refresh = body["refresh_token"]
        form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": world.app_id}
        status, renewed = await token_request(http, world.base, form)
        assert status == 200, renewed
        assert renewed["refresh_token"] != refresh and renewed["patient"] == "demo-patient-alice"
        status, again = await token_request(http, world.base, form)
        assert status == 400 and again["error"] == "invalid_grant"
    for secret in (code, verifier, token, refresh, renewed["refresh_token"]):
        assert secret not in caplog.text


async def test_a_code_works_once(tmp_path: Path, sqlite_url: str) -> None:
    async with smart_world(tmp_path, sqlite_url) as world, aiohttp.ClientSession() as http:
        code, verifier = await _code(world)
        first = await token_request(http, world.base, _exchange(world, code, verifier))
        assert first[0] == 200
        status, body = await token_request(http, world.base, _exchange(world, code, verifier))
        assert status == 400 and body["error"] == "invalid_grant"
        # the reuse also revoked the refresh tokens issued from that code
        form = {
            "grant_type": "refresh_token",
            "refresh_token": first[1]["refresh_token"],
            "client_id": world.app_id,
        }
        status, body = await token_request(http, world.base, form)
        assert status == 400 and body["error"] == "invalid_grant"


async def test_a_wrong_pkce_verifier_burns_the_code(tmp_path: Path, sqlite_url: str) -> None:
    async with smart_world(tmp_path, sqlite_url) as world, aiohttp.ClientSession() as http:
        code, verifier = await _code(world)
        wrong, _ = pkce()
        status, body = await token_request(http, world.base, _exchange(world, code, wrong))
        assert status == 400 and body["error"] == "invalid_grant"
        status, body = await token_request(http, world.base, _exchange(world, code, verifier))
        assert status == 400, "a code is spent by its first attempt"


async def test_a_redirect_uri_must_match(tmp_path: Path, sqlite_url: str) -> None:
    async with smart_world(tmp_path, sqlite_url) as world, browser_session() as http:
        _, challenge = pkce()
        url = authorize_url(world.base, world.app_id, LAUNCH, challenge, "s")
        bad = url.replace("callback", "callback%2Fevil")
        async with http.get(bad, allow_redirects=False) as response:
            assert response.status == 400
            assert "Location" not in response.headers
        code, verifier = await _code(world)
        form = _exchange(world, code, verifier, redirect_uri=REDIRECT_URI + "/other")
        status, body = await token_request(http, world.base, form)
        assert status == 400 and body["error"] == "invalid_grant"


async def test_a_refresh_cannot_widen_the_scopes(tmp_path: Path, sqlite_url: str) -> None:
    scope = "launch/patient offline_access patient/Observation.rs"
    async with smart_world(tmp_path, sqlite_url) as world, aiohttp.ClientSession() as http:
        code, verifier = await _code(world, scope)
        status, body = await token_request(http, world.base, _exchange(world, code, verifier))
        assert status == 200 and "Patient.rs" not in body["scope"]
        form = {
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": world.app_id,
            "scope": "launch/patient offline_access patient/*.rs",
        }
        status, refused = await token_request(http, world.base, form)
        assert status == 400 and refused["error"] == "invalid_scope"
        # narrower is fine, and the refused attempt did not spend the token
        form["scope"] = "patient/Observation.rs"
        status, narrowed = await token_request(http, world.base, form)
        assert status == 200 and narrowed["scope"] == "patient/Observation.rs"


async def test_a_revoked_refresh_token_is_refused(tmp_path: Path, sqlite_url: str) -> None:
    async with smart_world(tmp_path, sqlite_url) as world, aiohttp.ClientSession() as http:
        code, verifier = await _code(world)
        _, body = await token_request(http, world.base, _exchange(world, code, verifier))
        refresh = body["refresh_token"]
        async with http.post(
            f"{world.base}/auth/revoke", data={"token": refresh, "client_id": world.app_id}
        ) as response:
            assert response.status == 200
        form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": world.app_id}
        status, refused = await token_request(http, world.base, form)
        assert status == 400 and refused["error"] == "invalid_grant"


async def test_a_query_restricted_scope_reads_only_inside_it(
    tmp_path: Path, database_url: str
) -> None:
    scope = f"launch/patient patient/Observation.rs?category={VITAL_SIGNS}"
    async with smart_world(tmp_path, database_url) as world, aiohttp.ClientSession() as http:
        code, verifier = await _code(world, scope)
        status, body = await token_request(http, world.base, _exchange(world, code, verifier))
        assert status == 200, body
        token = body["access_token"]
        status, bundle = await _fhir(world.base, token, "Observation")
        assert status == 200
        assert [e["resource"]["id"] for e in bundle.get("entry", [])] == ["alice-hr"]
        assert (await _fhir(world.base, token, "Observation/alice-hr"))[0] == 200
        assert (await _fhir(world.base, token, "Observation/alice-lab"))[0] == 404
        status, bundle = await _fhir(world.base, token, "Observation?category=laboratory")
        assert status == 200 and not bundle.get("entry")
        status, _ = await _fhir(world.base, token, "Observation/alice-lab/_history/1")
        assert status == 404
        assert (await _fhir(world.base, token, "Patient/demo-patient-alice"))[0] == 403


async def test_a_denial_tells_the_app(tmp_path: Path, sqlite_url: str) -> None:
    async with smart_world(tmp_path, sqlite_url) as world, browser_session() as http:
        _, challenge = pkce()
        url = authorize_url(world.base, world.app_id, LAUNCH, challenge, "st-9")
        params = await sign_in_and_decide(http, url, "alice", DEMO_PASSWORD, decision="deny")
        assert params == {
            "error": "access_denied",
            "error_description": "the person denied access",
            "state": "st-9",
        }


async def test_a_staff_member_signs_in_through_the_staff_area(
    tmp_path: Path, sqlite_url: str
) -> None:
    scope = "openid fhirUser user/Observation.rs user/Patient.cruds"
    async with smart_world(tmp_path, sqlite_url) as world, browser_session() as http:
        verifier, challenge = pkce()
        url = authorize_url(world.base, world.app_id, scope, challenge, "st")
        async with http.get(url, allow_redirects=False) as response:
            assert response.headers["Location"].startswith("/staff/smart/authorize?")
        params = await sign_in_and_decide(http, url, "dr.chen", DEMO_PASSWORD)
        status, body = await token_request(
            http, world.base, _exchange(world, params["code"], verifier)
        )
        assert status == 200, body
        # a staff token only reads, even when more was asked (and registered: user/*.rs)
        assert body["scope"] == "fhirUser openid user/Observation.rs"
        assert "patient" not in body and "refresh_token" not in body
        claims = jwt.decode(body["id_token"], options={"verify_signature": False})
        assert claims["fhirUser"] == "Practitioner/demo-practitioner-chen"
        status, bundle = await _fhir(world.base, body["access_token"], "Observation")
        assert status == 200
        ids = sorted(e["resource"]["id"] for e in bundle["entry"])
        assert ids == ["alice-hr", "alice-lab"], "only the practitioner's patients"


async def test_a_patient_cannot_approve_in_the_staff_area(tmp_path: Path, sqlite_url: str) -> None:
    async with smart_world(tmp_path, sqlite_url) as world, browser_session() as http:
        _, challenge = pkce()
        url = authorize_url(world.base, world.app_id, "user/*.rs", challenge, "st")
        async with http.get(url, allow_redirects=False) as response:
            area_url = response.headers["Location"]
        async with http.get(world.base + area_url) as response:
            fields = hidden_fields(await response.text())
        async with http.post(
            f"{world.base}/staff/login",
            data={"username": "alice", "password": DEMO_PASSWORD, **fields},
            allow_redirects=False,
        ) as response:
            assert response.status == 401, "the staff sign-in admits staff only"


async def test_the_store_publishes_its_smart_configuration(tmp_path: Path, sqlite_url: str) -> None:
    async with smart_world(tmp_path, sqlite_url) as world, aiohttp.ClientSession() as http:
        async with http.get(f"{world.base}/fhir/.well-known/smart-configuration") as response:
            assert response.status == 200
            config = await response.json()
        async with http.get(f"{world.base}/fhir/metadata") as response:
            security = (await response.json())["rest"][0]["security"]
    assert config["authorization_endpoint"] == f"{world.base}/auth/authorize"
    assert config["token_endpoint"] == f"{world.base}/auth/token"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert set(config["grant_types_supported"]) == {
        "authorization_code",
        "client_credentials",
        "refresh_token",
    }
    for capability in (
        "launch-standalone",
        "client-public",
        "client-confidential-asymmetric",
        "context-standalone-patient",
        "permission-v2",
        "permission-offline",
        "sso-openid-connect",
    ):
        assert capability in config["capabilities"]
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    assert uris["authorize"] == config["authorization_endpoint"]
    assert uris["token"] == config["token_endpoint"]


async def test_authorization_requests_without_pkce_or_aud_are_refused(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with smart_world(tmp_path, sqlite_url) as world, browser_session() as http:
        _, challenge = pkce()
        url = authorize_url(world.base, world.app_id, LAUNCH, challenge, "s")
        for old, new, error in (
            ("code_challenge_method=S256", "code_challenge_method=plain", "invalid_request"),
            (f"code_challenge={challenge}", "code_challenge=short", "invalid_request"),
            ("aud=http", "aud=https%3A%2F%2Fevil.example.org%2Ffhir&x=http", "invalid_request"),
            ("response_type=code", "response_type=token", "unsupported_response_type"),
        ):
            bad = url.replace(old, new)
            async with http.get(bad, allow_redirects=False) as response:
                area_url = response.headers["Location"]
            async with http.get(world.base + area_url, allow_redirects=False) as response:
                assert response.status == 303
                params = redirect_params(response.headers["Location"])
            assert params["error"] == error, (old, params)
            assert params["state"] == "s"
