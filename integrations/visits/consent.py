"""Consent to virtual visits: the versioned text, its signature as FHIR Consent + Provenance,
and the question every link asks first: does this patient have an active Consent?

All reads and writes go through the patient's own client (`FhirAccess.for_patient`): the
store keeps them in the patient's compartment and audits each one.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from integrations.codes import CAREBOT_BASE_URL
from integrations.fhir.access import FhirAccess

Language = Literal["en", "fr"]
POLICY = f"{CAREBOT_BASE_URL}/policy/virtual-visit-consent"
CONSENT_VERSION = "2026-11"
CHANNEL_EXTENSION = f"{CAREBOT_BASE_URL}/StructureDefinition/signature-channel"
CONSENT_CATEGORY = {"system": "http://loinc.org", "code": "59284-0", "display": "Consent Document"}
SCOPE = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "treatment"}
    ]
}
# ASTM E1762: the signer's own signature
SIGNATURE_TYPE = {"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1",
                  "display": "Author's Signature"}  # fmt: skip

CONSENT_TEXTS: dict[Language, str] = {
    "en": (
        "Consent to a virtual visit (version {version}).\n"
        "1. The visit takes place by video over the internet. The clinician sees and hears "
        "you; nobody records the visit.\n"
        "2. A video visit cannot replace an examination in person: the clinician may ask you "
        "to come in, or to call emergency services.\n"
        "3. What you say and the notes of the visit are kept in your health record, which only "
        "your care team can read.\n"
        "4. You can withdraw this consent at any time by telling your clinic; visits already "
        "held are not affected.\n"
        'To sign, type your full name. To refuse, type "no".'
    ),
    "fr": (
        "Consentement à une téléconsultation (version {version}).\n"
        "1. La consultation a lieu en vidéo par internet. Le soignant vous voit et vous "
        "entend ; personne n'enregistre la consultation.\n"
        "2. Une téléconsultation ne remplace pas un examen en personne : le soignant peut "
        "vous demander de venir au cabinet, ou d'appeler les secours.\n"
        "3. Ce que vous dites et les notes de la consultation sont gardés dans votre dossier "
        "de santé, que seule votre équipe de soins peut lire.\n"
        "4. Vous pouvez retirer ce consentement à tout moment auprès de votre cabinet ; les "
        "consultations déjà faites ne sont pas concernées.\n"
        "Pour signer, tapez votre nom complet. Pour refuser, tapez « non »."
    ),
}


def consent_text(language: Language) -> str:
    """The consent text shown in LANGUAGE, exactly as it is signed."""
    return CONSENT_TEXTS[language].format(version=CONSENT_VERSION)


def text_digest(text: str) -> str:
    """The SHA-256 (hex) of the exact text shown."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Signature:
    """Who signed what, when and where."""

    patient: str  # "Patient/id"
    person: str | None  # the account that typed the name
    signer_name: str
    text: str
    language: Language
    channel: str  # "webchat", "msteams", ...
    when: datetime


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def consent_resource(sig: Signature, status: Literal["active", "rejected"]) -> dict[str, Any]:
    """The Consent a signature (or a refusal) records (pure)."""
    return {
        "resourceType": "Consent",
        "status": status,
        "scope": SCOPE,
        "category": [{"coding": [CONSENT_CATEGORY]}],
        "patient": {"reference": sig.patient},
        "dateTime": _instant(sig.when),
        "policy": [{"uri": f"{POLICY}|{CONSENT_VERSION}"}],
        "provision": {"type": "permit" if status == "active" else "deny"},
    }


def provenance_resource(sig: Signature, consent_id: str) -> dict[str, Any]:
    """The Provenance of a signed Consent: the signature holds the SHA-256 of the text (pure).

    It targets the Patient as well, so it lies in their compartment."""
    digest = text_digest(sig.text)
    return {
        "resourceType": "Provenance",
        "extension": [{"url": CHANNEL_EXTENSION, "valueString": sig.channel}],
        "target": [{"reference": f"Consent/{consent_id}"}, {"reference": sig.patient}],
        "recorded": _instant(sig.when),
        "policy": [f"{POLICY}|{CONSENT_VERSION}"],
        "agent": [{"who": {"reference": sig.patient, "display": sig.signer_name}}],
        "signature": [
            {
                "type": [SIGNATURE_TYPE],
                "when": _instant(sig.when),
                "who": {"reference": sig.patient, "display": sig.signer_name},
                "targetFormat": "text/plain; charset=utf-8",
                "sigFormat": "application/x-sha256",
                "data": base64.b64encode(digest.encode("ascii")).decode("ascii"),
            }
        ],
    }


class ConsentRecords:
    """Consents of patients, through their own FHIR clients."""

    def __init__(self, access: FhirAccess) -> None:
        self._access = access

    async def sign(self, sig: Signature) -> str:
        """Record an active Consent and its Provenance; the Consent's id."""
        return await self._record(sig, "active")

    async def refuse(self, sig: Signature) -> str:
        """Record the refusal (a rejected Consent, with its Provenance)."""
        return await self._record(sig, "rejected")

    async def _record(self, sig: Signature, status: Literal["active", "rejected"]) -> str:
        client = self._access.for_patient(sig.patient, person=sig.person)
        _, consent = await client.request_json(
            "POST", "Consent", body=consent_resource(sig, status),
            headers={"Prefer": "return=representation"}, idempotent=False,
        )  # fmt: skip
        consent_id = str((consent or {})["id"])
        await client.request_json(
            "POST", "Provenance", body=provenance_resource(sig, consent_id),
            headers={"Prefer": "return=minimal"}, idempotent=False,
        )  # fmt: skip
        return consent_id

    async def active(self, patient: str, person: str | None) -> str | None:
        """The id of PATIENT's active virtual-visit Consent, or None."""
        client = self._access.for_patient(patient, person=person)
        _, bundle = await client.request_json(
            "GET",
            "Consent",
            params=[("patient", patient), ("status", "active"), ("_sort", "-date")],
        )
        for entry in (bundle or {}).get("entry") or []:
            resource = entry.get("resource") or {}
            uris = [str(p.get("uri", "")) for p in resource.get("policy") or []]
            if any(u.split("|")[0] == POLICY for u in uris):
                return str(resource["id"])
        return None
