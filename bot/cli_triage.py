"""`carebot triage [--json] [--lang en|fr] [--patient ID] TEXT`: one-shot symptom triage.

Extracts every finding from TEXT (a message or a whole clinical vignette), asks nothing,
and prints the level, reasons, red flags and findings. With `--patient`, the patient's
device vitals of the last 24 hours are read from the FHIR store (`CAREBOT_FHIR_URL` with
`CAREBOT_FHIR_TOKEN`, or the embedded store on the service's database, called in this
process with a token bound to that patient) and judged with the text. If the store cannot be reached, a
warning says so and the text alone is triaged (`vitals_source` tells which happened).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.settings import Settings
from bot.triage_text import triage_text_model
from dialogs.base import Language
from dialogs.triage import TriageResult, VitalKind, VitalReading, assess
from dialogs.triage.to_json import result_to_json

EXIT_BAD_INPUT = 2
RECENT = timedelta(hours=24)


CLI_CLIENT = "carebot-triage-cli"


async def _device_vitals(patient: str, settings: Settings) -> Sequence[VitalReading]:
    from fhir.resources.R4B.patient import Patient

    from bot.fhir_access import cli_fhir_access
    from dialogs.fhir_evidence import FhirVitalsSource

    reference = patient if "/" in patient else f"Patient/{patient}"
    async with cli_fhir_access(settings) as access:
        # An operator's command: no person's account to name, the client says which tool.
        client = access.for_patient(reference, person=None, client=CLI_CLIENT)
        await client.read(Patient, reference.rpartition("/")[2])  # ResourceNotFound if unknown
        since = datetime.now(UTC) - RECENT
        return await FhirVitalsSource(client).readings(reference, since)


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
    for line in vital_lines(result.vitals):
        print(f"  {line}")


def vital_lines(vitals: Sequence[VitalReading]) -> list[str]:
    """One line a vital sign: the newest reading (the text's, else the device's newest),
    and over a device's many readings how many there were and their range."""
    by_kind: dict[VitalKind, list[VitalReading]] = {}
    for vital in vitals:
        by_kind.setdefault(vital.kind, []).append(vital)
    lines = []
    for kind, readings in by_kind.items():
        newest = readings[0]
        line = f"vital {kind.value} = {newest.value:g} {kind.unit} ({newest.source})"
        if len(readings) > 1:
            values = [r.value for r in readings]
            line += f"; {len(readings)} readings, {min(values):g} to {max(values):g}"
        lines.append(line)
    return lines


def _cmd_triage(args: argparse.Namespace) -> int:
    text = " ".join(args.text)
    if text == "-":
        text = sys.stdin.read()
    if not text.strip():
        print("error: no text to triage", file=sys.stderr)
        return EXIT_BAD_INPUT
    language: Language = args.lang
    device: Sequence[VitalReading] = ()
    vitals_source = "none"
    settings = Settings()
    if args.patient:
        from integrations.fhir import FhirError, ResourceNotFound

        try:
            device = asyncio.run(_device_vitals(args.patient, settings))
            vitals_source = "fhir"
        except ResourceNotFound:
            print(f"error: no patient {args.patient!r} in the FHIR store", file=sys.stderr)
            return EXIT_BAD_INPUT
        except (FhirError, OSError) as error:
            print(f"warning: device vitals not read ({error}); text only", file=sys.stderr)
            vitals_source = "unavailable"
    model = triage_text_model(settings)
    result = assess(text, language=language, device_vitals=device, text_model=model)
    if args.json:
        out = result_to_json(result)
        out["vitals_source"] = vitals_source
        print(json.dumps(out, ensure_ascii=False))
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
