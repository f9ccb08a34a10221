"""The one base URL under which carebot's own code systems, identifiers and extensions live."""

from __future__ import annotations

# Canonical, not a web address that must resolve: RFC 2606 keeps example.org for such use.
CAREBOT_BASE_URL = "https://carebot.example.org/fhir"
