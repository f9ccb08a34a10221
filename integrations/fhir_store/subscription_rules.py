"""R4 Subscriptions with the rest-hook channel: what is accepted, and what is sent (pure).

A Subscription is checked as it is written (`accept_subscription`): its criteria are a
search of a stored type (`Type?params`, parsed by the store's own search plan builder, so
a criteria is exactly a search), its channel a rest-hook to an http(s) endpoint, its
headers `Name: value` lines. The server takes a `requested` subscription on (R4: the
server sets `active` once it is set up); `off` and `error` are kept as sent.

A notification is sent as R4's rest-hook says (subscription.html, Channels): without a
payload, a POST to the endpoint with no body (the subscriber searches for what changed);
with one, the endpoint is read as a service base and the resource is PUT to
`[endpoint]/[type]/[id]`. Every notification carries its stable id in
`NOTIFICATION_ID_HEADER`: delivery is at least once, and a receiver that saw an id before
can drop the repeat.

Retries back off exponentially (`DeliveryPolicy`); after the configured failures, or once
the retry period has passed since the first failure, the subscription goes to `error`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from integrations.fhir_store.access import STORE_WRITTEN, Access
from integrations.fhir_store.dates import DateFormatError, parse_range
from integrations.fhir_store.outcome import StoreError, invalid
from integrations.fhir_store.params import RESULT_PARAMS, STORED_TYPES
from integrations.fhir_store.query import SearchPlan, build_plan

SUBSCRIPTION = "Subscription"
REST_HOOK = "rest-hook"
FHIR_JSON = "application/fhir+json"
NOTIFICATION_ID_HEADER = "X-Carebot-Notification-Id"
# Subscriptions in these states are matched: an `error` one keeps gathering its queue, so
# a reactivated subscription resumes with the first notification it could not deliver.
MATCHED_STATUSES = ("active", "error")
_STATUSES = ("requested", "active", "error", "off")
_PAYLOADS = (FHIR_JSON, "application/json", "application/json+fhir")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# headers the notification itself sets: a subscriber cannot replace them
_RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "transfer-encoding", NOTIFICATION_ID_HEADER.lower()}
)


def unprocessable(diagnostics: str, expression: str = "") -> StoreError:
    """422 for a Subscription that is valid FHIR but cannot be served."""
    return StoreError(422, diagnostics, "not-supported", expression)


@dataclass(frozen=True)
class Criteria:
    """A Subscription's criteria: the type and the search parameters it names."""

    resource_type: str
    params: tuple[tuple[str, str], ...]

    def plan(self, ids: list[str], count: int) -> SearchPlan:
        """The search finding which of IDS (current versions) match these criteria."""
        params = [*self.params, ("_id", ",".join(ids)), ("_count", str(count))]
        return build_plan(self.resource_type, params)


@dataclass(frozen=True)
class RestHook:
    """Where and how notifications of one Subscription go."""

    endpoint: str
    payload: str | None
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SubscriptionSpec:
    """A checked Subscription."""

    status: str
    criteria: Criteria
    channel: RestHook
    end: datetime | None  # naive UTC

    def matches_at(self, now: datetime) -> bool:
        """True when changes at NOW (naive UTC) are matched against it."""
        return self.status in MATCHED_STATUSES and (self.end is None or now < self.end)


def parse_criteria(text: Any) -> Criteria:
    """`Type?params` as a search the store can run; 400 or 422 otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise invalid("Subscription.criteria is required", "Subscription.criteria")
    rtype, _, query = text.strip().partition("?")
    if rtype not in STORED_TYPES or rtype in STORE_WRITTEN:
        raise unprocessable(f"criteria type {rtype!r} is not one a Subscription can follow")
    params = parse_qsl(query, keep_blank_values=True)
    shaping = sorted({name for name, _ in params if name.split(":")[0] in RESULT_PARAMS})
    if shaping:
        raise unprocessable(f"criteria take search filters only, not {shaping}")
    if any(name == "_id" for name, _ in params):
        raise unprocessable("criteria cannot name _id")
    build_plan(rtype, params)  # an unknown parameter or a bad value is a 400 here
    return Criteria(rtype, tuple(params))


def _endpoint(value: Any) -> str:
    if not isinstance(value, str):
        raise invalid("a rest-hook needs channel.endpoint", "Subscription.channel.endpoint")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise unprocessable("channel.endpoint must be an http or https URL")
    if parts.username or parts.password:
        raise unprocessable("put credentials in channel.header, not in the endpoint URL")
    return value


def parse_header(line: Any) -> tuple[str, str]:
    """One `channel.header` line (`Name: value`) as a header."""
    if not isinstance(line, str) or "\r" in line or "\n" in line:
        raise invalid("channel.header lines are single-line strings", "Subscription.channel")
    name, colon, value = line.partition(":")
    name = name.strip()
    if not colon or not _HEADER_NAME.match(name):
        raise invalid("channel.header lines are 'Name: value'", "Subscription.channel.header")
    if name.lower() in _RESERVED_HEADERS:
        raise unprocessable(f"channel.header cannot set {name}")
    return name, value.strip()


def _end(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_range(str(value))[0]
    except DateFormatError as error:
        raise invalid(f"Subscription.end: {error}", "Subscription.end") from error


def parse_subscription(document: dict[str, Any]) -> SubscriptionSpec:
    """A Subscription as the store serves it; 400 or 422 for one it cannot."""
    status = document.get("status")
    if status not in _STATUSES:
        raise invalid(f"Subscription.status must be one of {list(_STATUSES)}")
    channel = document.get("channel")
    if not isinstance(channel, dict):
        raise invalid("Subscription.channel is required", "Subscription.channel")
    if channel.get("type") != REST_HOOK:
        raise unprocessable("only the rest-hook channel is supported", "Subscription.channel.type")
    payload = channel.get("payload")
    if payload is not None and str(payload).split(";")[0].strip() not in _PAYLOADS:
        raise unprocessable(f"channel.payload must be {FHIR_JSON} or absent")
    headers = channel.get("header") or []
    if not isinstance(headers, list):
        headers = [headers]
    hook = RestHook(
        _endpoint(channel.get("endpoint")),
        str(payload) if payload is not None else None,
        tuple(parse_header(h) for h in headers),
    )
    return SubscriptionSpec(
        str(status), parse_criteria(document.get("criteria")), hook, _end(document.get("end"))
    )


def accept_subscription(document: dict[str, Any], access: Access) -> dict[str, Any]:
    """DOCUMENT as stored when a caller with ACCESS writes it: checked, `requested` taken on
    as `active`. A caller may only follow a type it may read (403)."""
    spec = parse_subscription(document)
    if not access.sees_type(spec.criteria.resource_type):
        raise StoreError(
            403, f"a Subscription needs read access to {spec.criteria.resource_type}", "forbidden"
        )
    if spec.status == "requested":
        return {**document, "status": "active"}
    return document


@dataclass(frozen=True)
class DeliveryPolicy:
    """How notifications are retried: after FIRST_RETRY_S, doubling up to MAX_RETRY_S;
    given up after MAX_FAILURES failures in a row (0: no limit) or once RETRY_PERIOD_S
    have passed since the first of them. One attempt waits at most TIMEOUT_S."""

    first_retry_s: float = 1.0
    max_retry_s: float = 900.0
    retry_period_s: float = 24 * 3600.0
    max_failures: int = 0
    timeout_s: float = 10.0
    poll_s: float = 0.5
    """How often the feed and the queue are looked at when nothing wakes them."""
    dispatchers: int = 4
    """Delivery loops per process on PostgreSQL (on SQLite: one)."""
    lease_s: float = 30.0
    """How long a claim lasts unrenewed: how soon a dead dispatcher's work passes on."""

    def delay(self, failures: int) -> float:
        """Seconds before the next attempt after FAILURES failures in a row."""
        return float(min(self.max_retry_s, self.first_retry_s * 2 ** max(0, min(failures - 1, 40))))

    def gives_up(self, failures: int, failing_for_s: float) -> bool:
        """True when FAILURES in a row over FAILING_FOR_S seconds are enough to stop."""
        if self.max_failures and failures >= self.max_failures:
            return True
        return failing_for_s >= self.retry_period_s


@dataclass(frozen=True)
class Notification:
    """One HTTP request of a rest-hook notification."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


def notification(
    hook: RestHook, notification_id: str, reference: str, body: bytes | None
) -> Notification:
    """The request notifying HOOK of REFERENCE (`Type/id`); BODY is the resource's JSON
    when the hook has a payload."""
    headers = dict(hook.headers)
    headers[NOTIFICATION_ID_HEADER] = notification_id
    if hook.payload is None or body is None:
        return Notification("POST", hook.endpoint, headers, None)
    rtype, _, rid = reference.partition("/")
    url = f"{hook.endpoint.rstrip('/')}/{quote(rtype)}/{quote(rid)}"
    headers["Content-Type"] = f"{FHIR_JSON}; charset=utf-8"
    return Notification("PUT", url, headers, body)


def error_text(failures: int, failing_for_s: float, last: str) -> str:
    """Subscription.error when delivery stops (no endpoint, header or content in it)."""
    return (
        f"delivery stopped after {failures} failed attempts over {failing_for_s:.0f} s; "
        f"last: {last}"
    )
