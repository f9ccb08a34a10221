"""Reading a FHIR change feed (system `_history`, oldest first): where a reader is.

The feed is read from a `FeedPosition`: the newest `lastModified` already taken in, and
the versions taken in at or after `position - overlap`. FHIR's `_since` is inclusive, so
the next read starts at that instant (less the overlap) and skips only the versions
remembered there: several versions with one `lastModified` (a transaction on a server
that stamps them alike, a page that ends in the middle of them) are all taken in, none
twice. The overlap (zero for carebot's store, whose instants are unique and in commit
order) covers an outside server whose writes may become visible out of `lastModified`
order.

Pure, but for `read_feed`, the one read of a server's pages (through a `FhirClient`).
Every follower of the feed reads it this way: the scoring worker (`scoring.feed`), the
store's Subscription matcher (`integrations.fhir_store.subscription_matcher`) and the
alert detector (`integrations.alerts.detector`); each keeps its own position under its
own name in `integrations.persistence.feed_cursor`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from integrations.fhir.client import FhirClient

Json = dict[str, Any]


def parse_instant(text: str) -> datetime:
    """A FHIR dateTime/instant with a zone; a date alone is its midnight UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class FeedPosition:
    """Where a reader of the change feed is: nothing read yet when `since` is None."""

    since: str | None = None
    seen: frozenset[str] = frozenset()
    """Versions (`version_key`) already taken in, with `lastModified` >= since - overlap."""

    def to_json(self) -> str:
        """The position as stored."""
        return json.dumps({"since": self.since, "seen": sorted(self.seen)})

    @classmethod
    def from_json(cls, text: str | None) -> FeedPosition:
        """A stored position (None: the beginning)."""
        if not text:
            return cls()
        data = json.loads(text)
        return cls(data.get("since"), frozenset(data.get("seen", ())))

    def since_param(self, overlap: timedelta) -> str | None:
        """The `_since` to read from."""
        if self.since is None or not overlap:
            return self.since
        return _instant(parse_instant(self.since) - overlap)


def version_key(entry: Mapping[str, Any]) -> str:
    """One version's identity: its URL, version and instant."""
    response = entry.get("response") or {}
    url = entry.get("fullUrl") or (entry.get("request") or {}).get("url", "")
    resource = entry.get("resource") or {}
    if isinstance(resource, dict) and resource.get("id"):
        url = f"{resource.get('resourceType')}/{resource['id']}"
    version = response.get("etag") or (resource.get("meta") or {}).get("versionId", "")
    return f"{url}|{version}|{response.get('lastModified', '')}"


def take_new(
    entries: Iterable[Json], position: FeedPosition, overlap: timedelta
) -> tuple[list[Json], FeedPosition]:
    """The versions among ENTRIES (a history page, oldest first) not taken in before, and
    the position after them. Entries without `lastModified` cannot be placed and are
    skipped."""
    since = parse_instant(position.since) if position.since else None
    newest, newest_text = since, position.since
    seen = set(position.seen)
    new: list[Json] = []
    for entry in entries:
        modified = (entry.get("response") or {}).get("lastModified")
        if not modified:
            continue
        at = parse_instant(modified)
        key = version_key(entry)
        if key in seen or (since is not None and at < since - overlap):
            continue
        seen.add(key)
        new.append(entry)
        if newest is None or at > newest:
            newest, newest_text = at, modified
    if newest is None or newest_text is None:
        return new, position
    keep = frozenset(k for k in seen if parse_instant(k.rsplit("|", 1)[1]) >= newest - overlap)
    return new, FeedPosition(newest_text, keep)


def next_link(page: Mapping[str, Any] | None) -> str | None:
    """The URL of the page after PAGE, if any."""
    for link in (page or {}).get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None


def page_entries(page: Mapping[str, Any] | None) -> list[Json]:
    """The entries of a history page (none when it has none)."""
    entries = (page or {}).get("entry")
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


MAX_SEEN_PAGES = 50
"""Pages of versions already taken in (ties at the position) passed over in one read."""


async def read_feed(
    client: FhirClient,
    position: FeedPosition,
    *,
    page_size: int,
    overlap: timedelta = timedelta(0),
) -> tuple[list[Json], FeedPosition]:
    """Read CLIENT's system history from POSITION to the first page with new versions: those
    versions (oldest first) and the position after them."""
    params = [("_count", str(page_size)), ("_sort", "_lastUpdated")]
    since = position.since_param(overlap)
    if since:
        params.append(("_since", since))
    _, page = await client.request_json("GET", "_history", params=params)
    for _ in range(MAX_SEEN_PAGES):
        new, position = take_new(page_entries(page), position, overlap)
        url = next_link(page)
        if new or url is None:
            return new, position
        _, page = await client.request_json("GET", url)
    return [], position
