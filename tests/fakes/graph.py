"""A local Microsoft Graph (v1.0) with the endpoints carebot calls, and its token endpoint.

Shapes follow `../shared/corpora/msgraph/` (the docs' mocks and request examples), with
v1.0's names where the mocks show beta's: a bookingAppointment has `startDateTime` and
`endDateTime` (not `start`/`end`); getStaffAvailability answers under `value`; errors are
`{"error": {"code", "message"}}`. The token endpoint speaks OAuth 2.0 client credentials
(`/{tenant}/oauth2/v2.0/token`) over TLS with a local CA (azure-identity's async
credential talks to an https authority only); Graph itself is plain http on 127.0.0.1.

Faults, injected by tests:
- `throttle(n, retry_after)`: the next N Graph requests answer 429 with Retry-After;
- `concurrent_creates_fail`: an appointment POST arriving while another is being
  created answers 500, as Bookings does;
- `lose_create_replies(n, status)`: the next N appointment or meeting creations are
  carried out, then answered STATUS (504) or never in time (status 0: a timeout);
- `revoke_tokens()`: every token issued so far is refused with Graph's continuous access
  evaluation challenge (401, `WWW-Authenticate: ... error="insufficient_claims",
  claims="..."`), which a client answers with a fresh token; `token_lifetime_s`: how long
  a new token lives (an expired one gets a plain 401).

    async with FakeGraph(tmp_path) as graph:
        config = graph.config()   # a GraphConfig for carebot
        ...
        assert len(graph.live_appointments()) == 1
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import secrets
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from zoneinfo import ZoneInfo

import trustme
from aiohttp import web

from integrations.graph.config import GraphConfig

Json = dict[str, Any]
TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT_ID = "carebot-app"
CLIENT_SECRET = "carebot-secret-for-tests"
BUSINESS = "CareClinic@contoso.onmicrosoft.com"
SERVICE_ID = "57da6774-a087-4d69-b0e6-6fb82c339976"


@dataclass
class Staff:
    """A Bookings staff member and the hours they take visits (their zone, every day)."""

    id: str
    name: str
    email: str
    zone: str = "Europe/Paris"
    hours: tuple[int, int] = (8, 18)


DEFAULT_STAFF = (
    Staff("8ee1c803-a1fa-406d-8259-7ab53233f148", "Dana Swope", "danas@contoso.com"),
    Staff("71d64d0e-7225-49b6-b0b1-070d476cda51", "Samantha Booth", "samanthab@contoso.com",
          zone="America/Chicago"),
)  # fmt: skip


def _graph_time(moment: datetime) -> Json:
    return {"dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
            "timeZone": "UTC"}  # fmt: skip


def _parse_graph_time(value: Json) -> datetime:
    text = str(value["dateTime"]).replace("Z", "")
    if "+" in text[10:]:
        text = text[: 10 + text[10:].index("+")]
    if "." in text:
        text = text[: text.index(".")]
    zone = str(value.get("timeZone") or "UTC")
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None
           ) -> web.Response:  # fmt: skip
    body = {"error": {"code": code, "message": message,
                      "innerError": {"date": datetime.now(UTC).isoformat(),
                                     "request-id": secrets.token_hex(8)}}}  # fmt: skip
    return web.json_response(body, status=status, headers=headers)


@dataclass
class FakeGraph:
    """The emulator: state, faults and the two servers (token over TLS, Graph over http)."""

    folder: Path
    staff: tuple[Staff, ...] = DEFAULT_STAFF
    token_lifetime_s: int = 3600
    create_delay_s: float = 0.02  # how long creating an appointment takes
    appointments: dict[str, Json] = field(default_factory=dict)
    meetings: dict[str, Json] = field(default_factory=dict)
    mails: list[Json] = field(default_factory=list)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    concurrent_creates_fail: bool = True
    tokens_issued: int = 0
    most_bookings_in_flight: int = 0
    _tokens: dict[str, float] = field(default_factory=dict)
    _revoked: set[str] = field(default_factory=set)
    _answered: asyncio.Event = field(default_factory=asyncio.Event)
    _throttle: int = 0
    _retry_after: int = 1
    _lost_replies: int = 0
    _lost_status: int = 504
    _creating: int = 0
    _bookings_in_flight: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runners: list[web.AppRunner] = field(default_factory=list)
    graph_url: str = ""
    authority: str = ""
    ca_file: str = ""
    client_timeout_s: float = 2.0

    # ----- faults --------------------------------------------------------------------
    def throttle(self, count: int, retry_after: int = 1) -> None:
        """The next COUNT Graph requests answer 429 Too Many Requests."""
        self._throttle, self._retry_after = count, retry_after

    def lose_create_replies(self, count: int, status: int = 504) -> None:
        """The next COUNT creations happen but are answered STATUS (0: too late)."""
        self._lost_replies, self._lost_status = count, status

    async def another_client_creating(self, refused: int, limit_s: float = 20.0) -> None:
        """Another client creates an appointment until REFUSED of ours got a 500."""
        self._creating += 1
        try:
            async with asyncio.timeout(limit_s):
                while self.refused_creations() < refused:
                    self._answered.clear()
                    await self._answered.wait()
        finally:
            self._creating -= 1

    def refused_creations(self) -> int:
        """How many appointment creations were answered 500."""
        return sum(1 for m, p, s in self.requests if m == "POST" and
                   p.endswith("/appointments") and s == 500)  # fmt: skip

    def delete_meetings_in_teams(self) -> None:
        """Every meeting made so far is deleted in Teams by someone else (GETs answer 404)."""
        for meeting in self.meetings.values():
            meeting["_deleted"] = True

    def revoke_tokens(self) -> None:
        """Every token issued so far is revoked from now on (a CAE challenge)."""
        self._revoked.update(self._tokens)

    # ----- what tests look at ----------------------------------------------------------
    def live_appointments(self) -> list[Json]:
        """Appointments not cancelled."""
        return [a for a in self.appointments.values() if not a.get("_cancelled")]

    def live_meetings(self) -> list[Json]:
        """Online meetings not deleted."""
        return [m for m in self.meetings.values() if not m.get("_deleted")]

    def config(self, **overrides: Any) -> GraphConfig:
        """A GraphConfig that reaches this emulator."""
        values: Json = {
            "tenant_id": TENANT, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "url": self.graph_url, "authority": self.authority, "ca_file": self.ca_file,
            "timeout_s": self.client_timeout_s, **overrides,
        }  # fmt: skip
        return GraphConfig(**values)

    # ----- servers ---------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        authority = trustme.CA()
        server_cert = authority.issue_cert("127.0.0.1", "localhost")
        self.folder.mkdir(parents=True, exist_ok=True)
        ca_path = self.folder / "graph-ca.pem"
        authority.cert_pem.write_to_path(str(ca_path))
        self.ca_file = str(ca_path)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_cert.configure_cert(tls)
        token_app = web.Application()
        token_app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        graph_app = web.Application(middlewares=[self._gate])
        self._routes(graph_app)
        for app, context in ((token_app, tls), (graph_app, None)):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
            await site.start()
            self._runners.append(runner)
        token_port, graph_port = (self._port(r) for r in self._runners)
        self.authority = f"https://127.0.0.1:{token_port}"
        self.graph_url = f"http://127.0.0.1:{graph_port}/v1.0"
        return self

    @staticmethod
    def _port(runner: web.AppRunner) -> int:
        server = runner.addresses[0]
        return int(server[1])

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:  # fmt: skip
        for runner in self._runners:
            await runner.cleanup()

    def _routes(self, app: web.Application) -> None:
        business = "/v1.0/solutions/bookingBusinesses/{business}"
        add = app.router
        add.add_get(business, self._business)
        add.add_get(business + "/staffMembers", self._staff_members)
        add.add_get(business + "/services", self._services)
        add.add_post(business + "/getStaffAvailability", self._availability)
        add.add_post(business + "/appointments", self._create_appointment)
        add.add_get(business + "/appointments/{id}", self._get_appointment)
        add.add_post(business + "/appointments/{id}/cancel", self._cancel_appointment)
        add.add_get(business + "/calendarView", self._calendar_view)
        add.add_post("/v1.0/users/{user}/onlineMeetings/createOrGet", self._create_or_get)
        add.add_get("/v1.0/users/{user}/onlineMeetings/{id}", self._get_meeting)
        add.add_delete("/v1.0/users/{user}/onlineMeetings/{id}", self._delete_meeting)
        add.add_post("/v1.0/users/{user}/sendMail", self._send_mail)

    # ----- OAuth -----------------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if request.match_info["tenant"] != TENANT:
            return web.json_response({"error": "invalid_tenant"}, status=400)
        if form.get("grant_type") != "client_credentials" or form.get("client_id") != CLIENT_ID:
            return web.json_response({"error": "unauthorized_client"}, status=400)
        if form.get("client_secret") != CLIENT_SECRET:
            return web.json_response({"error": "invalid_client"}, status=401)
        if form.get("scope") != "https://graph.microsoft.com/.default":
            return web.json_response({"error": "invalid_scope"}, status=400)
        token = secrets.token_urlsafe(24)
        self._tokens[token] = time.time() + self.token_lifetime_s
        self.tokens_issued += 1
        return web.json_response({"token_type": "Bearer", "expires_in": self.token_lifetime_s,
                                  "ext_expires_in": self.token_lifetime_s,
                                  "access_token": token})  # fmt: skip

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        bookings = "/solutions/bookingBusinesses" in request.path
        if bookings:
            self._bookings_in_flight += 1
            self.most_bookings_in_flight = max(self.most_bookings_in_flight,
                                               self._bookings_in_flight)  # fmt: skip
        try:
            response = await self._answer(request, handler)
        finally:
            if bookings:
                self._bookings_in_flight -= 1
        self.requests.append((request.method, request.path, response.status))
        self._answered.set()
        return response

    async def _answer(self, request: web.Request, handler: Any) -> web.StreamResponse:
        await asyncio.sleep(0.002)  # let concurrent requests overlap as they would on a network
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        expires = self._tokens.get(token)
        if expires is None:
            return _error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        if token in self._revoked:
            claims = base64.b64encode(
                b'{"access_token":{"nbf":{"essential":true,"value":"%d"}}}' % int(time.time())
            ).decode()
            challenge = (
                'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
                'oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", '
                f'error="insufficient_claims", claims="{claims}"'
            )
            return _error(401, "InvalidAuthenticationToken", "Access token has been revoked.",
                          {"WWW-Authenticate": challenge})  # fmt: skip
        if expires <= time.time():
            return _error(401, "InvalidAuthenticationToken",
                          "Lifetime validation failed, the token is expired.")  # fmt: skip
        if self._throttle > 0:
            self._throttle -= 1
            return _error(429, "TooManyRequests", "Too many requests.",
                          {"Retry-After": str(self._retry_after)})  # fmt: skip
        response: web.StreamResponse = await handler(request)
        return response

    # ----- Bookings --------------------------------------------------------------------
    def _check_business(self, request: web.Request) -> web.Response | None:
        if request.match_info["business"] != BUSINESS:
            return _error(404, "ErrorItemNotFound", "The booking business was not found.")
        return None

    async def _business(self, request: web.Request) -> web.Response:
        return self._check_business(request) or web.json_response({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#solutions/bookingBusinesses/$entity",
            "id": BUSINESS, "displayName": "Care Clinic", "businessType": "Clinic",
            "defaultCurrencyIso": "EUR", "email": BUSINESS, "isPublished": True,
        })  # fmt: skip

    def _staff_json(self, staff: Staff) -> Json:
        days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        start, end = (f"{h:02d}:00:00.0000000" for h in staff.hours)
        return {
            "@odata.type": "#microsoft.graph.bookingStaffMember", "id": staff.id,
            "displayName": staff.name, "emailAddress": staff.email,
            "availabilityIsAffectedByPersonalCalendar": False, "role": "externalGuest",
            "timeZone": staff.zone, "useBusinessHours": False,
            "isEmailNotificationEnabled": False,
            "workingHours": [{"day": d, "timeSlots": [{"startTime": start, "endTime": end}]}
                             for d in days],
        }  # fmt: skip

    async def _staff_members(self, request: web.Request) -> web.Response:
        return self._check_business(request) or web.json_response(
            {"value": [self._staff_json(s) for s in self.staff]}
        )

    async def _services(self, request: web.Request) -> web.Response:
        return self._check_business(request) or web.json_response({"value": [{
            "id": SERVICE_ID, "displayName": "Virtual visit", "defaultDuration": "PT30M",
            "isLocationOnline": True, "staffMemberIds": [s.id for s in self.staff],
            "defaultPrice": 0.0, "defaultPriceType": "free", "isHiddenFromCustomers": False,
        }]})  # fmt: skip

    def _booked(self, staff_id: str) -> list[tuple[datetime, datetime]]:
        return [(_parse_graph_time(a["startDateTime"]), _parse_graph_time(a["endDateTime"]))
                for a in self.live_appointments() if staff_id in a["staffMemberIds"]]  # fmt: skip

    def _busy(self, staff_id: str, start: datetime, end: datetime,
              booked: list[tuple[datetime, datetime]] | None = None) -> bool:  # fmt: skip
        taken = self._booked(staff_id) if booked is None else booked
        return any(a_start < end and start < a_end for a_start, a_end in taken)

    def _free_ranges(self, staff: Staff, start: datetime, end: datetime) -> list[Json]:
        """Available items: the staff member's hours, less their appointments, by 30 min."""
        zone = ZoneInfo(staff.zone)
        booked = self._booked(staff.id)
        items: list[Json] = []
        day = start.astimezone(zone).date()
        while datetime.combine(day, datetime.min.time(), zone) < end:
            moment = datetime(day.year, day.month, day.day, staff.hours[0], tzinfo=zone)
            close = datetime(day.year, day.month, day.day, staff.hours[1], tzinfo=zone)
            while moment < close:
                after = moment + timedelta(minutes=30)
                if (
                    moment >= start
                    and after <= end
                    and not self._busy(staff.id, moment, after, booked)
                ):
                    if items and items[-1]["_end"] == moment:
                        items[-1]["endDateTime"] = _graph_time(after)
                        items[-1]["_end"] = after
                    else:
                        items.append({"status": "available", "startDateTime": _graph_time(moment),
                                      "endDateTime": _graph_time(after), "serviceId": "",
                                      "_end": after})  # fmt: skip
                moment = after
            day += timedelta(days=1)
        return items

    async def _availability(self, request: web.Request) -> web.Response:
        if (wrong := self._check_business(request)) is not None:
            return wrong
        body = await request.json()
        try:
            start = _parse_graph_time(body["startDateTime"])
            end = _parse_graph_time(body["endDateTime"])
            wanted = set(body["staffIds"])
        except (KeyError, TypeError, ValueError):
            return _error(400, "BadRequest", "staffIds, startDateTime and endDateTime are required")
        return web.json_response({"value": [
            {"staffId": s.id, "availabilityItems": [self._public(i) for i in
                                                    self._free_ranges(s, start, end)]}
            for s in self.staff if s.id in wanted
        ]})  # fmt: skip

    async def _lose_reply(self) -> web.Response | None:
        """A lost reply for a creation that was carried out (a fault), else None."""
        if self._lost_replies <= 0:
            return None
        self._lost_replies -= 1
        if self._lost_status == 0:
            await asyncio.sleep(self.client_timeout_s + 1.0)  # the client has given up
            return _error(504, "GatewayTimeout", "too late")
        return _error(self._lost_status, "GatewayTimeout", "The gateway timed out.")

    async def _create_appointment(self, request: web.Request) -> web.Response:
        if (wrong := self._check_business(request)) is not None:
            return wrong
        body = await request.json()
        if "start" in body or "end" in body:
            return _error(400, "BadRequest", "start/end are beta names: use startDateTime")
        try:
            start = _parse_graph_time(body["startDateTime"])
            end = _parse_graph_time(body["endDateTime"])
            staff = list(body["staffMemberIds"])
        except (KeyError, TypeError, ValueError):
            return _error(400, "BadRequest", "startDateTime, endDateTime, staffMemberIds")
        if self.concurrent_creates_fail and self._creating > 0:
            return _error(500, "InternalServerError", "An internal server error occurred.")
        self._creating += 1
        try:
            await asyncio.sleep(self.create_delay_s)
            if any(self._busy(s, start, end) for s in staff):
                return _error(409, "Conflict", "The staff member is not available at that time.")
            ident = f"AAMkAD{next(self._ids):06d}AAA="
            online = bool(body.get("isLocationOnline"))
            appointment = {
                **{k: v for k, v in body.items() if not k.startswith("@")},
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#solutions/bookingBusinesses('x')/appointments/$entity",
                "id": ident, "selfServiceAppointmentId": secrets.token_hex(8),
                "startDateTime": _graph_time(start), "endDateTime": _graph_time(end),
                "duration": "PT30M",
                "joinWebUrl": (f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_"
                               f"{secrets.token_urlsafe(24)}%40thread.v2/0") if online else None,
            }  # fmt: skip
            self.appointments[ident] = appointment
        finally:
            self._creating -= 1
        lost = await self._lose_reply()
        return lost or web.json_response(self._public(appointment), status=201)

    @staticmethod
    def _public(item: Json) -> Json:
        return {k: v for k, v in item.items() if not k.startswith("_")}

    async def _get_appointment(self, request: web.Request) -> web.Response:
        found = self.appointments.get(request.match_info["id"])
        if self._check_business(request) or found is None or found.get("_cancelled"):
            return _error(404, "ErrorItemNotFound", "The specified object was not found.")
        return web.json_response(self._public(found))

    async def _cancel_appointment(self, request: web.Request) -> web.Response:
        found = self.appointments.get(request.match_info["id"])
        if self._check_business(request) or found is None or found.get("_cancelled"):
            return _error(404, "ErrorItemNotFound", "The specified object was not found.")
        body = await request.json()
        if "cancellationMessage" not in body:
            return _error(400, "BadRequest", "cancellationMessage is required")
        found["_cancelled"] = True
        return web.Response(status=204)

    async def _calendar_view(self, request: web.Request) -> web.Response:
        if (wrong := self._check_business(request)) is not None:
            return wrong
        try:
            start = datetime.fromisoformat(request.query["start"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(request.query["end"].replace("Z", "+00:00"))
        except (KeyError, ValueError):
            return _error(400, "BadRequest", "start and end are required ISO 8601 times")
        found = [self._public(a) for a in self.live_appointments()
                 if _parse_graph_time(a["startDateTime"]) < end
                 and start < _parse_graph_time(a["endDateTime"])]  # fmt: skip
        return web.json_response({"value": found})

    # ----- Teams meetings and mail -----------------------------------------------------
    async def _create_or_get(self, request: web.Request) -> web.Response:
        body = await request.json()
        external = body.get("externalId")
        if not external or "startDateTime" not in body or "endDateTime" not in body:
            return _error(400, "BadRequest", "externalId, startDateTime and endDateTime")
        user = request.match_info["user"]
        for meeting in self.live_meetings():
            if meeting["_organizer"] == user and meeting["externalId"] == external:
                return web.json_response(self._public(meeting), status=200)
        ident = f"MSo{secrets.token_urlsafe(18)}"
        meeting = {
            "@odata.type": "#microsoft.graph.onlineMeeting", "id": ident,
            "creationDateTime": datetime.now(UTC).isoformat(), "externalId": external,
            "startDateTime": body["startDateTime"], "endDateTime": body["endDateTime"],
            "subject": body.get("subject"), "_organizer": user,
            "joinWebUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_"
                          f"{secrets.token_urlsafe(24)}%40thread.v2/0",
            "lobbyBypassSettings": body.get("lobbyBypassSettings"),
        }  # fmt: skip
        self.meetings[ident] = meeting
        lost = await self._lose_reply()
        return lost or web.json_response(self._public(meeting), status=201)

    def _meeting(self, request: web.Request) -> Json | None:
        found = self.meetings.get(request.match_info["id"])
        if found is None or found.get("_deleted"):
            return None
        return found if found["_organizer"] == request.match_info["user"] else None

    async def _get_meeting(self, request: web.Request) -> web.Response:
        found = self._meeting(request)
        if found is None:
            return _error(404, "NotFound", "The meeting was not found.")
        return web.json_response(self._public(found))

    async def _delete_meeting(self, request: web.Request) -> web.Response:
        found = self._meeting(request)
        if found is None:
            return _error(404, "NotFound", "The meeting was not found.")
        found["_deleted"] = True
        return web.Response(status=204)

    async def _send_mail(self, request: web.Request) -> web.Response:
        body = await request.json()
        message = body.get("Message") or body.get("message")
        if not isinstance(message, dict) or not message.get("toRecipients"):
            return _error(400, "ErrorInvalidRecipients", "At least one recipient is not valid.")
        for attachment in message.get("attachments") or []:
            if attachment.get("@odata.type") == "#microsoft.graph.fileAttachment":
                try:
                    base64.b64decode(attachment["contentBytes"], validate=True)
                except (KeyError, ValueError):
                    return _error(400, "ErrorMimeContentInvalidBase64String",
                                  "Invalid base64 string for MIME content.")  # fmt: skip
        self.mails.append({"from": request.match_info["user"], **message})
        return web.Response(status=202)
