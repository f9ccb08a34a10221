"""The alert detector: follows the FHIR change feed (`integrations.fhir.feed.read_feed`, its
shared position in `integrations.persistence.feed_cursor`, feed name `alerts`) and turns each alert version into a Task
and its outbox deliveries.

Each `poll_once()`: take the feed (one detector reads it at a time), read the next page,
decide which versions are alerts (`rules.detect`), write each alert's Task (a conditional
create on the version that raised it: a stretch read again writes nothing twice), and in
ONE transaction enqueue the deliveries and move the feed's position. A detector that dies
midway leaves the position where it was; the next one reads the stretch again and its
Tasks and outbox keys already exist.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from integrations.accounts import AccountRepository, Role
from integrations.alerts.codes import REVIEW, TASK_CODE_SYSTEM, UNASSIGNED, AlertKind, Channel
from integrations.alerts.deliveries import Delivery, delivery_key
from integrations.alerts.resources import alert_identifier, kind_of, task_for
from integrations.alerts.routing import Route, RoutingDefaults, route
from integrations.alerts.rules import Alert, detect, needs_previous
from integrations.fhir.client import FhirClient
from integrations.fhir.errors import FhirError
from integrations.fhir.feed import read_feed
from integrations.persistence.conversation_refs import ConversationRefStore
from integrations.persistence.feed_cursor import FeedCursor
from integrations.persistence.outbox import enqueue

log = logging.getLogger(__name__)
Json = dict[str, Any]
FEED_NAME = "alerts"
TEAMS_CHANNEL = "msteams"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DetectorConfig:
    """How the detector reads the feed."""

    page_size: int = 200
    poll_interval_s: float = 0.2
    overlap: timedelta = timedelta(0)


@dataclass(frozen=True)
class Reach:
    """A care manager's account (None: no care-manager account), whether a Teams
    conversation is stored for it, and their mail address."""

    account: str | None
    teams: bool
    address: str | None


class Recipients:
    """Who gets an alert and on which channels: the owner's inbox always, their Teams chat
    when a Teams conversation is stored for their account, their mail when their
    Practitioner has an address; the unassigned queue only in the inbox."""

    def __init__(
        self, fhir: FhirClient, accounts: AccountRepository, references: ConversationRefStore
    ) -> None:
        self._fhir = fhir
        self._accounts = accounts
        self._references = references
        self._reach: dict[str, Reach] = {}

    async def _address(self, practitioner: str) -> str | None:
        try:
            _, data = await self._fhir.request_json("GET", practitioner)
        except FhirError as error:
            if error.status in (404, 410):
                return None  # no such Practitioner (yet): inbox, and Teams if linked
            raise
        for telecom in (data or {}).get("telecom") or []:
            if telecom.get("system") == "email" and isinstance(telecom.get("value"), str):
                return str(telecom["value"])
        return None

    async def deliveries(self, alert: Alert, task: str, recipient: str | None) -> list[Delivery]:
        """The deliveries of ALERT (Task TASK) to RECIPIENT (None: the queue)."""

        def one(channel: Channel, who: str, account: str | None = None, **more: str) -> Delivery:
            return Delivery(
                key=delivery_key(alert.focus, alert.version, who, channel),
                task=task, kind=alert.kind, focus=alert.focus, patient=alert.patient,
                recipient=who, channel=channel, at=alert.at, account=account, **more,
            )  # fmt: skip

        if recipient is None:
            return [one(Channel.INBOX, UNASSIGNED)]
        reach = await self.reach(recipient)
        found = [one(Channel.INBOX, recipient, reach.account)]
        if reach.teams and reach.account:
            found.append(one(Channel.TEAMS, recipient, reach.account))
        if reach.address:
            found.append(one(Channel.MAIL, recipient, reach.account, address=reach.address))
        return found

    async def reach(self, recipient: str) -> Reach:
        """How RECIPIENT is reached now (looked up once per detector page)."""
        cached = self._reach.get(recipient)
        if cached is not None:
            return cached
        account = await self._accounts.by_fhir_reference(recipient)
        account_id = account.id if account and account.role is Role.CARE_MANAGER else None
        teams = bool(
            account_id and await self._references.latest(account_id, channel_id=TEAMS_CHANNEL)
        )
        found = Reach(account_id, teams, await self._address(recipient))
        self._reach[recipient] = found
        return found

    def forget(self) -> None:
        """Look recipients up afresh (at each page: accounts and links change)."""
        self._reach.clear()


class AlertDetector:
    """Reads the change feed in turn with other detectors; writes Tasks, enqueues deliveries."""

    def __init__(
        self,
        fhir: FhirClient,
        cursor: FeedCursor,
        recipients: Recipients,
        *,
        defaults: RoutingDefaults | None = None,
        config: DetectorConfig | None = None,
        notify: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._fhir = fhir
        self._cursor = cursor
        self._recipients = recipients
        self._defaults = defaults or RoutingDefaults()
        self.config = config or DetectorConfig()
        self._notify = notify
        self._clock = clock

    async def route_for(self, patient: str) -> Route:
        """Who owns an alert for PATIENT."""
        _, bundle = await self._fhir.request_json(
            "GET", "CareTeam", params=[("patient", patient), ("_count", "50")]
        )
        teams = [e["resource"] for e in (bundle or {}).get("entry") or [] if e.get("resource")]
        return route(teams, self._defaults)

    async def _open_risk(self, patient: str) -> bool:
        """True when PATIENT has an open high-risk alert."""
        _, bundle = await self._fhir.request_json(
            "GET",
            "Task",
            params=[
                ("patient", patient),
                ("code", f"{TASK_CODE_SYSTEM}|{REVIEW}"),
                ("status", "requested,accepted"),
                ("_count", "100"),
            ],
        )
        tasks = [e.get("resource") or {} for e in (bundle or {}).get("entry") or []]
        return any(kind_of(task) is AlertKind.RISK for task in tasks)

    async def _previous(self, resource: Json) -> Json | None:
        version = int(resource["meta"]["versionId"])
        path = f"{resource['resourceType']}/{resource['id']}/_history/{version - 1}"
        _, data = await self._fhir.request_json("GET", path)
        return data

    async def _alerts(self, entries: list[Json]) -> list[Alert]:
        found: list[Alert] = []
        for entry in entries:
            resource = entry.get("resource")
            at = str((entry.get("response") or {}).get("lastModified") or "")
            if not isinstance(resource, dict):
                continue
            previous = await self._previous(resource) if needs_previous(resource) else None
            alert = detect(resource, at, previous)
            if alert is not None:
                found.append(alert)
        return found

    async def write_task(self, alert: Alert, owner: Route) -> str:
        """ALERT's Task (created once: conditional on the version that raised it); its id."""
        response, data = await self._fhir.request_json(
            "POST",
            "Task",
            body=task_for(alert, owner, self._clock()),
            headers={"If-None-Exist": f"identifier={alert_identifier(alert)}"},
        )
        task_id = (data or {}).get("id")
        if not task_id:
            location = response.headers.get("Location", "")
            task_id = location.split("/Task/", 1)[-1].split("/", 1)[0]
        return f"Task/{task_id}"

    async def poll_once(self) -> int | None:
        """Take in the feed's next page; the new versions read, or None while another
        detector reads the feed."""
        lease = await self._cursor.take()
        if lease is None:
            return None
        try:
            entries, position = await read_feed(
                self._fhir,
                lease.position,
                page_size=self.config.page_size,
                overlap=self.config.overlap,
            )
            deliveries: list[Delivery] = []
            routes: dict[str, Route] = {}  # one page's alerts of one patient route alike
            self._recipients.forget()
            risky: set[str] = set()
            for alert in await self._alerts(entries):
                if alert.kind is AlertKind.RISK:
                    if alert.patient in risky or await self._open_risk(alert.patient):
                        continue  # one open high-risk alert per patient: later windows add none
                    risky.add(alert.patient)
                if alert.patient not in routes:
                    routes[alert.patient] = await self.route_for(alert.patient)
                owner = routes[alert.patient]
                task = await self.write_task(alert, owner)
                deliveries += await self._recipients.deliveries(alert, task, owner.owner)
        except BaseException:
            await asyncio.shield(self._cursor.release(lease))
            raise

        async def queue(session: AsyncSession) -> None:
            for delivery in deliveries:
                await enqueue(session, delivery.to_item())

        if not await self._cursor.advance(lease, position, queue):
            return 0  # the lease ran out meanwhile: the next reader reads this stretch
        if deliveries:
            log.info("alerts: %d deliveries enqueued", len(deliveries))
            if self._notify is not None:
                self._notify()
        return len(entries)

    async def run(self) -> None:
        """Poll until cancelled (a worker-host task); a failure is logged and retried."""
        while True:
            try:
                new = await self.poll_once()
            except Exception as error:  # the FHIR server or database may be away a while
                log.warning("alert detection failed (%s); retrying", type(error).__name__)
                await asyncio.sleep(self.config.poll_interval_s * 5)
                continue
            if not new:
                await asyncio.sleep(self.config.poll_interval_s)
