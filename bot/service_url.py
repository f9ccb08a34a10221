"""Which Bot Connector serviceUrls the bot may call, and how a URL under one is built.

A serviceUrl arrives in the activity body, so it is attacker input until a signed claim or
the allow-list vouches for it. It is accepted only as a bare base: http(s), a host, an
optional port and a plain path; no user info, query, fragment, `.`/`..` segment or
percent-escape that could move a reply off the base (`http://x/admin?y=`, `http://x/a/..`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from yarl import URL

# Hosts of the Bot Framework's channel services (Teams public and government clouds,
# Direct Line, Web Chat and the other channels under botframework.com).
BOT_FRAMEWORK_ORIGINS: tuple[str, ...] = (
    "https://smba.trafficmanager.net",
    "https://*.botframework.com",
    "https://smba.infra.gcc.teams.microsoft.com",
    "https://smba.infra.gov.teams.microsoft.us",
    "https://smba.infra.dod.teams.microsoft.us",
)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_ID_CHARS = 1024

_SERVICE_URL = re.compile(
    r"(?P<scheme>https?)://(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<path>/[A-Za-z0-9._~/-]*)?"
)
_ORIGIN = re.compile(
    r"(?P<scheme>https?)://(?P<host>(?:\*\.)?[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?/?"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ServiceUrlError(ValueError):
    """A serviceUrl the bot will not call."""


@dataclass(frozen=True)
class ServiceUrl:
    """A checked serviceUrl: scheme, lower-case host (no brackets), port and base path."""

    raw: str
    scheme: str
    host: str
    port: int
    path: str

    @property
    def is_loopback(self) -> bool:
        """True for http(s)://127.0.0.1, localhost or [::1]."""
        return self.host in LOOPBACK_HOSTS


def parse_service_url(raw: str) -> ServiceUrl:
    """The checked form of RAW, or ServiceUrlError saying what is wrong with it."""
    match = _SERVICE_URL.fullmatch(raw)
    if match is None:
        raise ServiceUrlError(
            "serviceUrl must be http(s)://host[:port][/path] without query, fragment or escapes"
        )
    path = match["path"] or "/"
    if any(segment in (".", "..") for segment in path.split("/")):
        raise ServiceUrlError("serviceUrl may not hold '.' or '..' path segments")
    port = int(match["port"]) if match["port"] else _DEFAULT_PORTS[match["scheme"]]
    if not 0 < port < 65536:
        raise ServiceUrlError("serviceUrl has an invalid port")
    host = match["host"].lower().strip("[]")
    return ServiceUrl(raw=raw, scheme=match["scheme"], host=host, port=port, path=path)


def _origin_matches(origin: str, url: ServiceUrl) -> bool:
    match = _ORIGIN.fullmatch(origin.strip())
    if match is None or match["scheme"] != url.scheme:
        return False
    port = int(match["port"]) if match["port"] else _DEFAULT_PORTS[match["scheme"]]
    if port != url.port:
        return False
    host = match["host"].lower().strip("[]")
    if host.startswith("*."):
        return url.host.endswith(host[1:]) and len(url.host) > len(host) - 1
    return url.host == host


def origin_allowed(url: ServiceUrl, origins: Sequence[str]) -> bool:
    """True when URL's scheme, host and port match one of ORIGINS (`https://*.x.com` allowed)."""
    return any(_origin_matches(origin, url) for origin in origins)


def valid_origin(origin: str) -> bool:
    """True when ORIGIN is written the way `origin_allowed` reads it."""
    return _ORIGIN.fullmatch(origin.strip()) is not None


def _segment(value: str, what: str) -> str:
    if not value or value in (".", "..") or len(value) > MAX_ID_CHARS:
        raise ServiceUrlError(f"{what} is empty, '.', '..' or too long")
    # Ids hold ':', '@' and ';' (Teams threads): sent percent-encoded, as the channel expects.
    return quote(value, safe="")


def activities_url(service_url: str, conversation_id: str, activity_id: str | None) -> URL:
    """`{serviceUrl}/v3/conversations/{id}/activities[/{activity}]`, never off the base."""
    base = parse_service_url(service_url)
    path = base.path.rstrip("/") + "/v3/conversations/"
    path += _segment(conversation_id, "conversation id") + "/activities"
    if activity_id:
        path += "/" + _segment(activity_id, "activity id")
    host = f"[{base.host}]" if ":" in base.host else base.host
    return URL.build(scheme=base.scheme, host=host, port=base.port, path=path, encoded=True)


def conversations_url(service_url: str) -> URL:
    """`{serviceUrl}/v3/conversations` (create conversation), never off the base."""
    base = parse_service_url(service_url)
    path = base.path.rstrip("/") + "/v3/conversations"
    host = f"[{base.host}]" if ":" in base.host else base.host
    return URL.build(scheme=base.scheme, host=host, port=base.port, path=path, encoded=True)
