"""The FHIR client's policy: retries with Retry-After, OAuth2 client credentials, errors."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fhir.resources.R4B.patient import Patient

from integrations.fhir import (
    BearerAuth,
    ClientCredentialsAuth,
    FhirClient,
    InvalidResource,
    ResourceNotFound,
)
from integrations.fhir.errors import ServerError, TooManyRequests
from tests.fhir.conftest import serve

PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female"}


@dataclass
class Script:
    """What the fake server answers, request by request, and what it saw."""

    statuses: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    seen: list[tuple[str, str, float, str]] = field(default_factory=list)
    tokens_issued: int = 0
    public_key: object = None


SCRIPT = web.AppKey("script", Script)


async def _fhir(request: web.Request) -> web.Response:
    script: Script = request.app[SCRIPT]
    script.seen.append(
        (
            request.method,
            request.path_qs,
            time.monotonic(),
            request.headers.get("Authorization", ""),
        )
    )
    if script.statuses:
        status, headers = script.statuses.pop(0)
        body = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "throttled", "diagnostics": f"said {status}"}],
        }
        return web.json_response(body, status=status, headers=headers)
    return web.json_response(PATIENT, content_type="application/fhir+json")


async def _token(request: web.Request) -> web.Response:
    script: Script = request.app[SCRIPT]
    form = await request.post()
    assert form["grant_type"] == "client_credentials"
    claims = jwt.decode(
        str(form["client_assertion"]),
        script.public_key,  # type: ignore[arg-type]
        algorithms=["RS384"],
        audience=str(request.url),
    )
    assert claims["iss"] == claims["sub"] == "gateway-1"
    script.tokens_issued += 1
    return web.json_response(
        {
            "access_token": f"at-{script.tokens_issued}",
            "token_type": "bearer",
            "expires_in": 300,
            "scope": form["scope"],
        }
    )


@pytest.fixture
async def fake() -> AsyncIterator[tuple[str, Script]]:
    app = web.Application()
    script = Script()
    app[SCRIPT] = script
    app.router.add_post("/token", _token)
    app.router.add_route("*", "/fhir/{tail:.*}", _fhir)
    runner, url = await serve(app)
    yield url, script
    await runner.cleanup()


async def test_idempotent_reads_retry_and_honour_retry_after(fake: tuple[str, Script]) -> None:
    url, script = fake
    script.statuses = [(429, {"Retry-After": "0.3"}), (503, {})]
    async with httpx.AsyncClient() as http:
        client = FhirClient(f"{url}/fhir", http=http, auth=BearerAuth("t"), backoff_s=0.01)
        patient = await client.read(Patient, "p1")
    assert patient.gender == "female"
    times = [t for _, _, t, _ in script.seen]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.29
    assert all(auth == "Bearer t" for *_, auth in script.seen)


async def test_retries_give_up_and_posts_are_not_retried(fake: tuple[str, Script]) -> None:
    url, script = fake
    async with httpx.AsyncClient() as http:
        client = FhirClient(f"{url}/fhir", http=http, max_attempts=2, backoff_s=0.01)
        script.statuses = [(503, {}), (503, {})]
        with pytest.raises(ServerError) as error:
            await client.read(Patient, "p1")
        assert error.value.diagnostics == "said 503"
        script.seen.clear()
        script.statuses = [(429, {"Retry-After": "0"})]
        with pytest.raises(TooManyRequests):
            await client.create(Patient.model_validate(PATIENT))
        assert len(script.seen) == 1  # a plain POST could create twice: never retried
        script.seen.clear()
        script.statuses = [(429, {"Retry-After": "0"})]
        await client.create(Patient.model_validate(PATIENT), if_none_exist="identifier=a|b")
        assert len(script.seen) == 2  # guarded by If-None-Exist: safe to repeat
        script.statuses = [(404, {}), (400, {})]
        with pytest.raises(ResourceNotFound):
            await client.read(Patient, "p1")
        with pytest.raises(InvalidResource):
            await client.read(Patient, "p1")


async def test_client_credentials_with_jwt_assertion(fake: tuple[str, Script]) -> None:
    url, script = fake
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    script.public_key = key.public_key()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    auth = ClientCredentialsAuth(
        f"{url}/token", "gateway-1", ["system/Observation.write"], private_key=pem, key_id="k1"
    )
    async with httpx.AsyncClient() as http:
        client = FhirClient(f"{url}/fhir", http=http, auth=auth)
        await client.read(Patient, "p1")
        await client.read(Patient, "p1")
        assert script.tokens_issued == 1  # cached
        script.statuses = [(401, {})]
        await client.read(Patient, "p1")  # refreshed once after a 401
    assert script.tokens_issued == 2
    assert [auth for *_, auth in script.seen] == [
        "Bearer at-1",
        "Bearer at-1",
        "Bearer at-1",
        "Bearer at-2",
    ]


# ---- links off the base URL are never followed (fhir-py's _build_request_url) ----------


def test_within_base_accepts_only_urls_under_the_base() -> None:
    from integrations.fhir.client import within_base

    base = "https://fhir.example.org/r4"
    assert within_base(base, "https://fhir.example.org/r4")
    assert within_base(base, "https://fhir.example.org/r4/Patient?_getpagesoffset=20")
    assert within_base(base, "https://FHIR.example.org:443/r4/Patient/1")
    for outside in (
        "https://evil.example/r4/Patient",
        "http://fhir.example.org/r4/Patient",  # another scheme
        "https://fhir.example.org:8443/r4/Patient",  # another port
        "https://fhir.example.org/r4x/Patient",
        "https://fhir.example.org/admin",
        "https://fhir.example.org/r4/../admin",
        "https://fhir.example.org/r4/%2e%2e/admin",
        "https://user:pw@fhir.example.org/r4/Patient",
        "https://fhir.example.org.evil.example/r4/Patient",
        "not a url at all: \x00",
    ):
        assert not within_base(base, outside), outside


async def test_a_next_link_or_location_off_the_base_is_refused_and_the_token_stays_home() -> None:
    from fhir.resources.R4B.observation import Observation

    from integrations.fhir import BearerAuth, FhirClient, SearchQuery
    from integrations.fhir.errors import OffBaseUrl

    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        if request.method == "POST":  # a create answered with a Location elsewhere
            return httpx.Response(201, headers={"Location": "https://evil.example/fhir/Patient/1"})
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "link": [{"relation": "next", "url": "https://evil.example/fhir/Observation?page=2"}],
            "entry": [],
        }
        return httpx.Response(200, json=bundle)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        fhir = FhirClient("https://fhir.test/fhir", http=http, auth=BearerAuth("secret-token"))
        with pytest.raises(OffBaseUrl):
            await fhir.search_all(SearchQuery(Observation))
        with pytest.raises(OffBaseUrl):
            async for _ in fhir.search_pages_json(SearchQuery(Observation)):
                pass
        with pytest.raises(OffBaseUrl):
            await fhir.create(Patient.model_validate({"resourceType": "Patient"}))
    assert set(hosts) == {"fhir.test"}, "a request went off the base URL"
