"""What the intake confirms, read from and written to the patient's record through their
own client: contact details (Patient.telecom and address), insurance (Coverage) or self-pay,
and the payment method on file as a kind only (never a number)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from integrations.codes import CAREBOT_BASE_URL
from integrations.fhir.access import FhirAccess
from integrations.scheduling.fhir_scheduler import TIMEZONE_EXTENSION

PAYMENT_KIND_EXTENSION = f"{CAREBOT_BASE_URL}/StructureDefinition/payment-kind"
PAYMENT_KINDS = ("card", "bank-transfer", "cash")
SELF_PAY = {"system": "http://terminology.hl7.org/CodeSystem/coverage-selfpay", "code": "pay"}
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9 ().-]{6,20}$")


class IntakeInputError(ValueError):
    """A contact detail that is not one (bad email or phone)."""


@dataclass(frozen=True)
class Contact:
    """The contact details on record."""

    name: str
    email: str | None
    phone: str | None
    address: str | None
    language: str | None = None
    zone: str | None = None  # the patient's IANA time zone, when the record has one


@dataclass(frozen=True)
class CoverageOnFile:
    """An active insurance: who pays and the member id."""

    coverage_id: str
    payer: str
    member_id: str


def _address_text(address: dict[str, Any]) -> str:
    if address.get("text"):
        return str(address["text"])
    parts = [*address.get("line", []), address.get("postalCode"), address.get("city")]
    return ", ".join(str(p) for p in parts if p)


def contact_of(patient: dict[str, Any]) -> Contact:
    """The contact details of a Patient resource (pure)."""
    telecom = patient.get("telecom") or []
    email = next((t.get("value") for t in telecom if t.get("system") == "email"), None)
    phone = next((t.get("value") for t in telecom if t.get("system") == "phone"), None)
    addresses = patient.get("address") or []
    name = (patient.get("name") or [{}])[0]
    full = " ".join([*(name.get("given") or []), str(name.get("family", ""))]).strip()
    languages = [
        c.get("language", {}).get("coding", [{}])[0].get("code")
        for c in patient.get("communication") or []
    ]
    zone = next(
        (e.get("valueCode") for e in patient.get("extension") or []
         if e.get("url") == TIMEZONE_EXTENSION),
        None,
    )  # fmt: skip
    return Contact(
        zone=str(zone) if zone else None,
        name=full,
        email=email,
        phone=phone,
        address=_address_text(addresses[0]) if addresses else None,
        language=languages[0] if languages else None,
    )


def with_contact(patient: dict[str, Any], detail: str) -> dict[str, Any]:
    """PATIENT with DETAIL (an email or a phone number) replacing the one of its kind (pure);
    `IntakeInputError` when DETAIL is neither."""
    detail = detail.strip()
    if _EMAIL.match(detail):
        system = "email"
    elif _PHONE.match(detail) and sum(c.isdigit() for c in detail) >= 6:
        system = "phone"
    else:
        raise IntakeInputError(detail)
    kept = [t for t in patient.get("telecom") or [] if t.get("system") != system]
    return {**patient, "telecom": [*kept, {"system": system, "value": detail}]}


def payment_kind_of(patient: dict[str, Any]) -> str | None:
    """The payment method on file, as a kind (pure)."""
    for ext in patient.get("extension") or []:
        if ext.get("url") == PAYMENT_KIND_EXTENSION and ext.get("valueCode") in PAYMENT_KINDS:
            return str(ext["valueCode"])
    return None


class IntakeRecords:
    """The patient's contact details, coverage and payment kind."""

    def __init__(self, access: FhirAccess) -> None:
        self._access = access

    async def _patient(self, patient: str, person: str | None) -> dict[str, Any]:
        client = self._access.for_patient(patient, person=person)
        _, data = await client.request_json("GET", patient)
        return data or {}

    async def contact(self, patient: str, person: str | None) -> Contact:
        """The contact details on record."""
        return contact_of(await self._patient(patient, person))

    async def payment_kind(self, patient: str, person: str | None) -> str | None:
        """The payment method on file, as a kind only."""
        return payment_kind_of(await self._patient(patient, person))

    async def update_contact(self, patient: str, person: str | None, detail: str) -> Contact:
        """Replace the email or phone on record with DETAIL (If-Match: no lost update)."""
        client = self._access.for_patient(patient, person=person)
        current = await self._patient(patient, person)
        changed = with_contact(current, detail)
        version = str((current.get("meta") or {}).get("versionId", ""))
        body = {k: v for k, v in changed.items() if k != "meta"}
        _, data = await client.request_json(
            "PUT", patient, body=body, headers={"If-Match": f'W/"{version}"',
                                                "Prefer": "return=representation"},
        )  # fmt: skip
        return contact_of(data or changed)

    async def coverage(self, patient: str, person: str | None) -> CoverageOnFile | None:
        """The patient's active insurance (not a self-pay record), if any."""
        client = self._access.for_patient(patient, person=person)
        _, bundle = await client.request_json(
            "GET", "Coverage", params=[("patient", patient), ("status", "active")]
        )
        for entry in (bundle or {}).get("entry") or []:
            cov = entry.get("resource") or {}
            codings = (cov.get("type") or {}).get("coding") or []
            if any(c.get("code") == SELF_PAY["code"] for c in codings):
                continue
            payer = (cov.get("payor") or [{}])[0].get("display", "")
            return CoverageOnFile(str(cov["id"]), str(payer), str(cov.get("subscriberId", "")))
        return None
