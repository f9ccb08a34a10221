"""`carebot fhir clients` for SMART clients: register an app (redirect URIs) and a backend
service (JWKS file or URL), list them, remove one; bad options change nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bot.test_cli import _carebot
from tests.security.smart_flow import new_key

APP = "launch/patient openid fhirUser offline_access patient/*.rs"


def test_smart_clients_are_added_listed_and_removed(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(new_key("ES384").jwks), encoding="utf-8")
    app = _carebot(
        tmp_path, "fhir", "clients", "add", "vitals-app", "--scope", APP,
        "--redirect-uri", "https://app.example.org/callback",
        "--redirect-uri", "http://127.0.0.1:8765/cb",
    )  # fmt: skip
    assert app.returncode == 0, app.stderr
    app_id = app.stdout.strip()
    assert len(app_id) == 32
    backend = _carebot(
        tmp_path, "fhir", "clients", "add", "lab-sync", "--scope", "system/Observation.rs",
        "--jwks", str(jwks),
    )  # fmt: skip
    assert backend.returncode == 0, backend.stderr
    by_url = _carebot(
        tmp_path, "fhir", "clients", "add", "lab-url", "--scope", "system/*.rs",
        "--jwks", "https://lab.example.org/.well-known/jwks.json",
    )  # fmt: skip
    assert by_url.returncode == 0, by_url.stderr
    listed = _carebot(tmp_path, "fhir", "clients", "list")
    lines = {line.split("\t")[0]: line for line in listed.stdout.splitlines()}
    assert lines["vitals-app"] == (
        f"vitals-app\tactive\t{APP} client_id={app_id} "
        "redirect_uris=https://app.example.org/callback http://127.0.0.1:8765/cb"
    )
    assert lines["lab-sync"].endswith(" jwks=registered")
    assert lines["lab-url"].endswith(" jwks=https://lab.example.org/.well-known/jwks.json")
    removed = _carebot(tmp_path, "fhir", "clients", "remove", "vitals-app")
    assert removed.returncode == 0, removed.stderr
    listed = _carebot(tmp_path, "fhir", "clients", "list")
    assert "vitals-app\trevoked" in listed.stdout


def test_bad_smart_registrations_are_refused(tmp_path: Path) -> None:
    private = new_key("RS384")
    jwks = private.jwks
    jwks["keys"][0]["d"] = "secret-part"
    leaked = tmp_path / "private.json"
    leaked.write_text(json.dumps(jwks), encoding="utf-8")
    cases = [
        (["--scope", APP, "--redirect-uri", "http://app.example.org/cb"], "https"),
        (["--scope", APP, "--redirect-uri", "https://a.example.org/cb#x"], "fragment"),
        (["--scope", "patient/*.rz", "--redirect-uri", "https://a.example.org/cb"], "scope"),
        (["--scope", "system/*.rs", "--jwks", str(tmp_path / "missing.json")], "cannot read"),
        (["--scope", "system/*.rs", "--jwks", str(leaked)], "private key"),
        (
            ["--scope", "patient/Observation.rs?nope=1", "--redirect-uri", "https://a.org/cb"],
            "unknown search parameter 'nope'",
        ),
    ]
    for options, message in cases:
        result = _carebot(tmp_path, "fhir", "clients", "add", "bad", *options)
        assert result.returncode == 2, (options, result.stdout)
        assert message in result.stderr, (options, result.stderr)
    good = new_key("RS384")
    public = tmp_path / "public.json"
    public.write_text(json.dumps(good.jwks), encoding="utf-8")
    result = _carebot(
        tmp_path, "fhir", "clients", "add", "b", "--scope", APP, "--jwks", str(public)
    )
    assert result.returncode == 2 and "system/ scopes only" in result.stderr
    assert _carebot(tmp_path, "fhir", "clients", "list").stdout == ""
