"""Alert deliveries through the durable outbox: one item per (resource id, version,
recipient, channel), so a re-read feed or a retried producer enqueues nothing twice, and
each delivery, once its channel took it, is recorded as a Communication (conditional
create on the outbox key: a redelivery after a crash records nothing twice, and a
delivery already recorded is not sent again)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Final, Protocol

from integrations.alerts.codes import DELIVERY_IDENTIFIER, AlertKind, Channel
from integrations.alerts.resources import communication_for
from integrations.fhir.client import FhirClient
from integrations.persistence.outbox import ClaimedItem, OutboxItem, PermanentDeliveryError

log = logging.getLogger(__name__)

KIND_PREFIX: Final = "alert."
"""Outbox kinds of alert deliveries: `alert.inbox`, `alert.teams`, `alert.mail`."""


def outbox_kind(channel: Channel) -> str:
    """The outbox kind of CHANNEL's deliveries."""
    return f"{KIND_PREFIX}{channel.value}"


def delivery_key(focus: str, version: str, recipient: str, channel: Channel) -> str:
    """The outbox key: the resource, its version, the recipient and the channel."""
    return f"alert|{focus}|{version}|{recipient}|{channel.value}"


@dataclass(frozen=True)
class Delivery:
    """One alert to one recipient on one channel (ids only, no health data)."""

    key: str
    task: str
    kind: AlertKind
    focus: str
    patient: str
    recipient: str
    """`Practitioner/id`, or `queue` for the unassigned queue."""
    channel: Channel
    at: str
    account: str | None = None
    address: str | None = None
    """The recipient's mail address (mail only)."""

    def to_item(self) -> OutboxItem:
        """The outbox item carrying this delivery."""
        return OutboxItem(self.key, outbox_kind(self.channel), json.dumps(asdict(self)))

    @classmethod
    def from_payload(cls, payload: str) -> Delivery:
        """Read back `to_item`'s payload (ValueError on anything else)."""
        try:
            data = json.loads(payload)
            return cls(
                key=str(data["key"]),
                task=str(data["task"]),
                kind=AlertKind(data["kind"]),
                focus=str(data["focus"]),
                patient=str(data["patient"]),
                recipient=str(data["recipient"]),
                channel=Channel(data["channel"]),
                at=str(data["at"]),
                account=data.get("account"),
                address=data.get("address"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not an alert delivery: {type(error).__name__}") from None


class AlertSender(Protocol):
    """Hands one delivery to its channel (raise to retry, PermanentDeliveryError to give up)."""

    async def send(self, delivery: Delivery) -> None:
        """Send DELIVERY."""
        ...


class RecordOnly:
    """The staff inbox's channel: the Task is already there to be read; the delivery is the
    Communication the handler records (and the live page hears of it)."""

    async def send(self, delivery: Delivery) -> None:
        """Nothing to hand over."""


def _now() -> datetime:
    return datetime.now(UTC)


class DeliveryHandler:
    """The outbox handler of one channel's alert deliveries."""

    def __init__(
        self,
        sender: AlertSender,
        fhir: FhirClient,
        *,
        max_attempts: int,
        delivered: Callable[[Delivery], None] | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._sender = sender
        self._fhir = fhir
        self._max_attempts = max_attempts
        self._delivered = delivered
        self._clock = clock
        # the inbox hands nothing over: its record is the delivery, created once anyway
        self._sends_outside = not isinstance(sender, RecordOnly)

    async def _recorded(self, key: str) -> bool:
        _, bundle = await self._fhir.request_json(
            "GET",
            "Communication",
            params=[("identifier", f"{DELIVERY_IDENTIFIER}|{key}"), ("_count", "1")],
        )
        return bool((bundle or {}).get("entry"))

    async def _record(self, delivery: Delivery, failed: str | None = None) -> None:
        recipient = None if delivery.recipient == "queue" else delivery.recipient
        body = communication_for(
            delivery.task.removeprefix("Task/"),
            delivery.patient,
            recipient,
            delivery.channel,
            delivery.key,
            self._clock(),
            failed=failed,
        )
        await self._fhir.request_json(
            "POST",
            "Communication",
            body=body,
            headers={"If-None-Exist": f"identifier={DELIVERY_IDENTIFIER}|{delivery.key}"},
        )

    async def deliver(self, item: ClaimedItem) -> None:
        """Send the delivery unless already recorded, then record it; a delivery that fails
        for good is recorded as a failed Communication."""
        try:
            delivery = Delivery.from_payload(item.payload)
        except ValueError as error:
            raise PermanentDeliveryError(str(error)) from None
        if self._sends_outside and await self._recorded(delivery.key):
            return  # sent and recorded before a crash or lost lease: not again
        try:
            await self._sender.send(delivery)
        except PermanentDeliveryError as error:
            await self._record(delivery, failed=type(error).__name__)
            raise
        except Exception as error:
            if item.attempt >= self._max_attempts:
                await self._record(delivery, failed=type(error).__name__)
            raise
        await self._record(delivery)
        log.info("alert %s delivered on %s (%s)", delivery.task, delivery.channel, item.id)
        if self._delivered is not None:
            self._delivered(delivery)
