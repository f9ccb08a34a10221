"""The one normal range of each vital sign, derived from the knowledge's cited bands.

The vitals text ("in the normal range"), the chart's shaded band and the "outside the normal
range" message all ask this module, so they cannot disagree. A band that sets a level, or
that makes a finding present (fever), is outside the normal range; the normal range is the
widest gap those bands leave. Readings are rounded for display first (`shown`), and the
rounded value is the one judged, so what the patient reads is what was judged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from dialogs.triage.knowledge_base import Knowledge, VitalBand
from dialogs.triage.models import VitalKind, VitalReading

# Display precision, as clinicians chart them: whole percent, beats, breaths, mmHg, mg/dL;
# temperature to 0.1 °C, weight to 0.1 kg.
DECIMALS: dict[VitalKind, int] = {
    VitalKind.SPO2: 0,
    VitalKind.HEART_RATE: 0,
    VitalKind.SYSTOLIC_BP: 0,
    VitalKind.DIASTOLIC_BP: 0,
    VitalKind.TEMPERATURE: 1,
    VitalKind.RESPIRATORY_RATE: 0,
    VitalKind.GLUCOSE: 0,
    VitalKind.WEIGHT: 1,
}


@dataclass(frozen=True)
class NormalRange:
    """Values strictly between ABOVE and BELOW are normal (None: no limit on that side)."""

    kind: VitalKind
    above: float | None
    below: float | None

    def holds(self, value: float) -> bool:
        """True when VALUE is in the normal range."""
        return (self.above is None or value > self.above) and (
            self.below is None or value < self.below
        )

    def distance(self, value: float) -> float:
        """How far VALUE lies outside the range, relative to the limit (0 inside)."""
        if self.above is not None and value <= self.above:
            return (self.above - value) / max(abs(self.above), 1.0) + 1e-9
        if self.below is not None and value >= self.below:
            return (value - self.below) / max(abs(self.below), 1.0) + 1e-9
        return 0.0


def shown(reading: VitalReading) -> VitalReading:
    """READING rounded half up to its display precision."""
    step = Decimal(1).scaleb(-DECIMALS.get(reading.kind, 1))
    value = float(Decimal(str(reading.value)).quantize(step, rounding=ROUND_HALF_UP))
    return replace(reading, value=value)


def _outside_bands(kind: VitalKind, context: frozenset[str], kb: Knowledge) -> list[VitalBand]:
    return [
        b
        for b in kb.vital_bands
        if b.kind is kind
        and (b.level is not None or b.implies)
        and b.only_if <= context
        and not b.unless & context
    ]


def normal_range(
    kind: VitalKind, kb: Knowledge, context: frozenset[str] = frozenset()
) -> NormalRange:
    """The normal range of KIND for a person with CONTEXT findings (age.child, pregnant)."""
    spans = sorted(
        (
            b.low if b.low is not None else float("-inf"),
            b.high if b.high is not None else float("inf"),
        )
        for b in _outside_bands(kind, context, kb)
    )
    merged: list[list[float]] = []
    for low, high in spans:
        if merged and low <= merged[-1][1] + 1:  # bounds are inclusive and integral
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    edges = [float("-inf"), *(x for span in merged for x in span), float("inf")]
    gaps = [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]
    gaps = [(a, b) for a, b in gaps if a < b]
    if not gaps:
        return NormalRange(kind, None, None)
    above, below = max(gaps, key=lambda g: g[1] - g[0])
    return NormalRange(
        kind,
        above if above != float("-inf") else None,
        below if below != float("inf") else None,
    )


def outside_band(
    reading: VitalReading, kb: Knowledge, context: frozenset[str] = frozenset()
) -> VitalBand | None:
    """The band that names how READING (as shown) is out of range, or None when normal."""
    value = shown(reading).value
    if normal_range(reading.kind, kb, context).holds(value):
        return None
    hits = [b for b in _outside_bands(reading.kind, context, kb) if b.contains(value)]
    # the most urgent band names it: "very high fever" rather than "fever"
    return max(hits, key=lambda b: b.level.rank if b.level else 0, default=None)


def is_normal(reading: VitalReading, kb: Knowledge, context: frozenset[str] = frozenset()) -> bool:
    """True when READING, as shown, is in the normal range."""
    return normal_range(reading.kind, kb, context).holds(shown(reading).value)
