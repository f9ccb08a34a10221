"""Clinical context scopes over a whole note, in linear time (ConText, Harkema et al. 2009).

A trigger ("no", "history of", "return if", "his mother had", a "Family history:" header)
opens a scope over the words it governs; a finding inside takes that scope's modifier.
Why not medspaCy: its ConText rules are English only (French would need a second rule set
anyway), it tokenises with spaCy (a 1 MB note exceeds spaCy's default max_length) and costs
about 3 ms per short note; these trigger lists are one trie regex each, every scope is
bounded in characters, and every lookup is a bisection, so the cost grows linearly with the
text whatever its shape (one 1 MB line, or 5,000 repeated negated clauses).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from dialogs.triage.context_rules import ContextRules, Modifier, section_modifier
from dialogs.triage.normalise import sentences

MAX_SCOPE_CHARS = 400  # a trigger's forward scope never reaches further than this
MAX_LOOKBACK_CHARS = 160  # nor a backward trigger ("chest pain: none", "2 years ago")
MAX_SECTION_CHARS = 4000  # nor a section header ("Family history:")

_WORD = re.compile(r"\S+")
_TOKEN = re.compile(r"\w+")
_DURATION_BEFORE = re.compile(
    r"\b(?:\d+|a|one|two|few|several)\s+(?:hours?|days?|weeks?|months?|years?)\s*$"
)
# "2 years ago", "il y a deux ans": a span in years ago is past history (hours, days and weeks
# ago date the current problem). A number sits inside, so it is a pattern, not a word list.
_YEARS_AGO = re.compile(
    r"\b(?:\d+|a|one|two|three|four|five|six|seven|eight|nine|ten|several|many|few)\s+years?\s+ago\b"
    r"|\b(?:il y a|voici)\s+(?:\d+|un|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|quelques|plusieurs)\s+ans\b"
)
_CLAUSE_END = re.compile(r"[,:]")
# A relative's illness dated by their age or their death: "my dad had a heart attack at 50",
# "his mother died of a stroke", "mon père a fait un infarctus à 52 ans". (A relative's
# illness without either, "my dad had a stroke an hour ago", may be the emergency itself.)
_RELATIVE = (
    r"(?:my|his|her|their|our)\s+(?:dad|father|mum|mom|mother|brother|sister|grandfather|"
    r"grandmother|grandad|grandma|uncle|aunt|husband|wife|partner|son|daughter)"
)
_RELATIVES_PAST = re.compile(
    rf"\b{_RELATIVE}\s+(?:died|passed away)\b[^,.;:]{{0,60}}"
    rf"|\b{_RELATIVE}\s+(?:had|has had|was diagnosed with|suffered)\b[^,.;:]{{0,60}}?"
    r"\b(?:at|aged|at the age of)\s+\d{2}\b"
    r"|\b(?:mon|ma|son|sa)\s+(?:pere|mere|frere|soeur|grand pere|grand mere|oncle|tante|mari|femme)"
    r"\s+(?:est decede|est morte?|a fait|a eu)\b[^,.;:]{0,60}?\ba\s+\d{2}\s+ans\b"
    r"|\b(?:mon|ma|son|sa)\s+(?:pere|mere|frere|soeur|grand pere|grand mere|oncle|tante|mari|femme)"
    r"\s+(?:est decede|est morte?)\b[^,.;:]{0,60}"
)
# French split negation, "elle ne vomit pas", "il ne tousse plus": the verb between "ne" and
# "pas" is negated (the trigger lists hold words before or after a finding, not around it).
_FRENCH_SPLIT_NEGATION = re.compile(
    r"\bne\s+(?:(?:se|s|le|la|les|lui|leur|me|m|te|t|y|en)\s+)?(?P<verb>\w+)\s+(?:pas|plus|jamais)\b"
)
_SENTENCE_END = re.compile(r"(?<!\d)[.!?;]|[.!?;](?!\d)|\n")


@dataclass(frozen=True)
class Intervals:
    """Disjoint character ranges (merged when they overlap), searched by bisection."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @classmethod
    def of(cls, spans: list[tuple[int, int]]) -> Intervals:
        """Merge SPANS into sorted disjoint intervals."""
        merged: list[list[int]] = []
        for start, end in sorted(spans):
            if merged and start < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            elif end > start:
                merged.append([start, end])
        return cls(tuple(s for s, _ in merged), tuple(e for _, e in merged))

    def covers(self, start: int, end: int) -> bool:
        """True when START..END lies inside one interval."""
        i = bisect_right(self.starts, start) - 1
        return i >= 0 and end <= self.ends[i]

    def overlaps(self, start: int, end: int) -> bool:
        """True when START..END shares a character with an interval."""
        i = bisect_left(self.ends, start + 1)
        return i < len(self.starts) and self.starts[i] < end


@dataclass(frozen=True)
class Scopes:
    """The context scopes of one normalised text."""

    text: str
    by_modifier: dict[Modifier, Intervals]
    # Negation triggers with their scope end: a trigger inside a phrase's gap negates it.
    negation_starts: tuple[int, ...]
    negation_ends: tuple[int, ...]
    negation_triggers: tuple[str, ...]

    def blank(self, text: str, modifiers: frozenset[Modifier]) -> str:
        """TEXT with the scopes of MODIFIERS turned to spaces (offsets kept), so a duration or
        an age told about the past, a relative or a hypothesis is not read as the patient's."""
        spans = sorted(
            (s, e)
            for m in modifiers
            if m in self.by_modifier
            for s, e in zip(self.by_modifier[m].starts, self.by_modifier[m].ends, strict=True)
        )
        parts: list[str] = []
        at = 0
        for start, end in spans:
            start = max(start, at)
            if end <= start:
                continue
            parts.append(text[at:start])
            parts.append(" " * (end - start))
            at = end
        parts.append(text[at:])
        return "".join(parts)

    def _own_tail(self, spans: Intervals, start: int, end: int, own_words: tuple[str, ...]) -> bool:
        """A scope that a terminator inside the phrase itself cut short still covers it
        ("pas de s'étouffe avec": "avec" ends scopes, and is the phrase's own word)."""
        i = bisect_right(spans.starts, start) - 1
        if i < 0 or not start < spans.ends[i] < end:
            return False
        tail = _TOKEN.findall(self.text[spans.ends[i] : end])
        return all(any(word.startswith(own) for own in own_words) for word in tail)

    def modifiers(self, start: int, end: int, own_words: tuple[str, ...] = ()) -> set[Modifier]:
        """The modifiers of the mention START..END (OWN_WORDS: the phrase's own words)."""
        found = {
            m
            for m, spans in self.by_modifier.items()
            if spans.covers(start, end) or self._own_tail(spans, start, end, own_words)
        }
        if Modifier.NEGATED not in found:
            # "ear, no discharge": a negation trigger that sits in the phrase's gap.
            i = bisect_right(self.negation_starts, start)
            while i < len(self.negation_starts) and self.negation_starts[i] < end:
                trigger = self.negation_triggers[i]
                if end <= self.negation_ends[i] and not set(trigger.split()) <= set(own_words):
                    found.add(Modifier.NEGATED)
                    break
                i += 1
        return found


@dataclass
class _Sentence:
    text: str
    offset: int
    terminator_starts: list[int]
    terminator_ends: list[int]


def _forward_end(sentence: _Sentence, at: int, window_words: int) -> int:
    """Where a scope opened at AT ends: a terminator, the sentence end, the character cap, or
    a list item longer than the word window (a comma starts a new item, so "denies chest
    pain, dyspnoea, ..., rash or numbness" stays negated to the end of the list)."""
    i = bisect_left(sentence.terminator_starts, at)
    stop = (
        sentence.terminator_starts[i] if i < len(sentence.terminator_starts) else len(sentence.text)
    )
    stop = min(stop, at + MAX_SCOPE_CHARS)
    position = at
    for item in sentence.text[at:stop].split(","):  # str methods: the scan runs in C
        if len(item.split()) > window_words:
            cut = list(_WORD.finditer(item))[window_words]
            return sentence.offset + position + cut.start()
        position += len(item) + 1
    return sentence.offset + stop


def _backward_start(sentence: _Sentence, at: int, words: int) -> int | None:
    """Where a backward scope ending at AT starts: the previous terminator, WORDS words."""
    i = bisect_right(sentence.terminator_ends, at) - 1
    cut = sentence.terminator_ends[i] if i >= 0 else 0
    cut = max(cut, at - MAX_LOOKBACK_CHARS)
    found = list(_WORD.finditer(sentence.text, cut, at))[-words:]
    return sentence.offset + found[0].start() if found else None


def _sentence_scopes(
    sentence: _Sentence,
    rules: ContextRules,
    spans: dict[Modifier, list[tuple[int, int]]],
    negations: list[tuple[int, int, str]],
) -> None:
    text, offset = sentence.text, sentence.offset
    pseudo = Intervals.of([(m.start(), m.end()) for m in rules.pseudo.finditer(text)])
    for trigger in rules.negation_before.finditer(text):
        if pseudo.overlaps(trigger.start(), trigger.start() + 1):
            continue
        end = _forward_end(sentence, trigger.end(), rules.window_words)
        spans[Modifier.NEGATED].append((offset + trigger.end(), end))
        negations.append((offset + trigger.end(), end, trigger.group(0)))
    for story in _RELATIVES_PAST.finditer(text):
        spans[Modifier.OTHER].append((offset + story.start(), offset + story.end()))
    for split in _FRENCH_SPLIT_NEGATION.finditer(text):
        if not pseudo.overlaps(split.start(), split.end()):
            spans[Modifier.NEGATED].append(
                (offset + split.start("verb"), offset + split.end("verb"))
            )
    for trigger in rules.negation_after.finditer(text):
        start = _backward_start(sentence, trigger.start(), 4)  # "chest pain: none"
        if start is not None:
            spans[Modifier.NEGATED].append((start, offset + trigger.end()))
    for trigger in rules.history_before.finditer(text):
        head = text[max(0, trigger.start() - 40) : trigger.start()]
        if _DURATION_BEFORE.search(head):
            continue  # "a 2 day history of chest pain" is the current problem
        end = _forward_end(sentence, trigger.end(), rules.history_window_words)
        comma = text.find(",", trigger.end(), end - offset)  # "history of asthma, now wheezing"
        spans[Modifier.HISTORICAL].append(
            (offset + trigger.end(), offset + comma if comma >= 0 else end)
        )
    for pattern in (rules.history_after, _YEARS_AGO):
        for trigger in pattern.finditer(text):
            start = _backward_start(sentence, trigger.start(), rules.history_window_words)
            if start is not None:
                spans[Modifier.HISTORICAL].append((start, offset + trigger.end()))
    for modifier, pattern in (
        (Modifier.HYPOTHETICAL, rules.hypothetical),
        (Modifier.OTHER, rules.other_experiencer),
    ):
        for trigger in pattern.finditer(text):
            end = _forward_end(sentence, trigger.end(), rules.window_words)
            # Safety first: a hypothesis or another person's story ends at the first comma or
            # colon ("worried it is a heart attack: crushing chest pain", "my dad had a
            # stroke an hour ago, his face is drooping"), so nothing after it is dropped.
            cut = _CLAUSE_END.search(text, trigger.end(), max(trigger.end(), end - offset))
            spans[modifier].append((offset + trigger.end(), offset + cut.start() if cut else end))


def _section_scopes(text: str, rules: ContextRules) -> list[tuple[Modifier, int, int]]:
    """ "Family history: ...", "PMH: ...": to the line end, or the sentence end when inline."""
    headers = list(rules.sections.finditer(text))
    out: list[tuple[Modifier, int, int]] = []
    for i, header in enumerate(headers):
        limit = min(
            headers[i + 1].start() if i + 1 < len(headers) else len(text),
            header.end() + MAX_SECTION_CHARS,
        )
        # Normalised lines are stripped: a header opens its line when a line break precedes it.
        if header.start() == 0 or text[header.start() - 1] == "\n":
            newline = text.find("\n", header.end(), limit)
            end = newline if newline >= 0 else limit
        else:
            stop = _SENTENCE_END.search(text, header.end(), limit)
            end = stop.start() if stop else limit
        out.append((section_modifier(header), header.end(), end))
    return out


def context_scopes(text: str, rules: ContextRules) -> Scopes:
    """Every context scope of normalised TEXT."""
    spans: dict[Modifier, list[tuple[int, int]]] = {m: [] for m in Modifier}
    negations: list[tuple[int, int, str]] = []
    for start, end in sentences(text):
        body = text[start:end]
        terms = list(rules.terminators.finditer(body))
        sentence = _Sentence(body, start, [t.start() for t in terms], [t.end() for t in terms])
        _sentence_scopes(sentence, rules, spans, negations)
    for modifier, start, end in _section_scopes(text, rules):
        spans[modifier].append((start, end))
    negations.sort()
    return Scopes(
        text=text,
        by_modifier={m: Intervals.of(s) for m, s in spans.items() if s},
        negation_starts=tuple(n[0] for n in negations),
        negation_ends=tuple(n[1] for n in negations),
        negation_triggers=tuple(n[2] for n in negations),
    )
