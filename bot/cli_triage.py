"""`carebot triage [--json] [--lang en|fr] [--patient ID] TEXT`: one-shot symptom triage.

Extracts every finding from TEXT (a message or a whole clinical vignette), asks nothing,
and prints the level, reasons, red flags and findings. With `--patient`, the patient's
device vitals of the last 24 hours are read from the FHIR store at `CAREBOT_FHIR_URL`
(bearer token `CAREBOT_FHIR_TOKEN`) and judged with the text.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pydantic_settings import BaseSettings, SettingsConfigDict

from dialogs.base import Language
from dialogs.triage import TriageResult, VitalReading, assess
from dialogs.triage.to_json import result_to_json

EXIT_BAD_INPUT = 2
EXIT_FHIR_ERROR = 3
RECENT = timedelta(hours=24)


class FhirSettings(BaseSettings):
    """Where the FHIR store is (`CAREBOT_FHIR_URL`, `CAREBOT_FHIR_TOKEN`)."""

    model_config = SettingsConfigDict(env_prefix="CAREBOT_", extra="ignore")

    fhir_url: str = ""
    fhir_token: str = ""


async def _device_vitals(patient: str, settings: FhirSettings) -> Sequence[VitalReading]:
    import httpx

    from dialogs.fhir_evidence import FhirVitalsSource
    from integrations.fhir import BearerAuth, FhirClient

    auth = BearerAuth(settings.fhir_token) if settings.fhir_token else None
    async with httpx.AsyncClient(timeout=10) as http:
        client = FhirClient(settings.fhir_url, http=http, auth=auth)
        reference = patient if "/" in patient else f"Patient/{patient}"
        return await FhirVitalsSource(client).readings(reference, datetime.now(UTC) - RECENT)


def _print_text(result: TriageResult) -> None:
    print(f"level: {result.level.value}")
    if result.red_flags:
        print("red flags:")
        for reason in result.red_flags:
            print(f"  ! {reason.text}")
    print("reasons:")
    for reason in result.reasons:
        cite = f"  [{reason.citation}]" if reason.citation else ""
        print(f"  - ({reason.level.value}) {reason.text}{cite}")
    print("findings:")
    for finding in result.findings:
        mark = "+" if finding.present else "-"
        code = f" SNOMED {finding.snomed}" if finding.snomed else ""
        print(f"  {mark} {finding.name}{code}")
    for vital in result.vitals:
        print(f"  vital {vital.kind.value} = {vital.value:g} {vital.kind.unit} ({vital.source})")


def _cmd_triage(args: argparse.Namespace) -> int:
    text = " ".join(args.text)
    if text == "-":
        text = sys.stdin.read()
    if not text.strip():
        print("error: no text to triage", file=sys.stderr)
        return EXIT_BAD_INPUT
    language: Language = args.lang
    device: Sequence[VitalReading] = ()
    if args.patient:
        settings = FhirSettings()
        if not settings.fhir_url:
            print("warning: CAREBOT_FHIR_URL is not set; device vitals not read", file=sys.stderr)
        else:
            from integrations.fhir import FhirError

            try:
                device = asyncio.run(_device_vitals(args.patient, settings))
            except FhirError as error:
                print(f"error: FHIR store: {error}", file=sys.stderr)
                return EXIT_FHIR_ERROR
    result = assess(text, language=language, device_vitals=device)
    if args.json:
        print(json.dumps(result_to_json(result), ensure_ascii=False))
    else:
        _print_text(result)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `carebot triage`."""
    triage = sub.add_parser("triage", help="one-shot symptom triage of a message or vignette")
    triage.add_argument("--json", action="store_true", help="print one JSON object")
    triage.add_argument("--lang", choices=("en", "fr"), default="en", help="language of output")
    triage.add_argument("--patient", default="", help="FHIR Patient id: add device vitals")
    triage.add_argument("text", nargs="+", help="the text to triage ('-' reads stdin)")
    triage.set_defaults(func=_cmd_triage)
