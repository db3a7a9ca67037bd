"""Compose case notes from the phrase bank, in the author's voice, tracking every PII span.

A note is a list of *units* (one rendered template each) laid out the way its author writes:
prose, terse fragments, bullets, numbered points or SBAR, under optional
``Comment added by NAME on DD/MM/YYYY at HH:MM`` headers. Oversight notes are built from the
moves that make an entry substantive (assessment, rationale, action with owner, timescale) or
defensive (bare endorsement, noted, retrospective sign-off), so the label is in the text, not in
its length or a keyword.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from pipeline.labels import Content, Initiator, OversightType, PiiKind
from pipeline.synth.bank import Bank, load_bank
from pipeline.synth.people import Staff, Voice
from pipeline.synth.template import Segment, join_segments, render

_PERSON = PiiKind.PERSON.value
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_SUBSTANCES = ("cocaine", "crack cocaine", "heroin", "alcohol", "cannabis", "spice", "ketamine")
_REQUIREMENTS = ("RAR", "UPW", "ETE", "Building Choices", "Thinking Skills", "curfew", "ATR")
_SBAR_HEADINGS = (
    ("S:", "B:", "A:", "R:"),
    ("Situation:", "Background:", "Assessment:", "Recommendation:"),
    ("SITUATION -", "BACKGROUND -", "ASSESSMENT -", "RECOMMENDATION -"),
    ("S -", "B -", "A -", "R -"),
)


@dataclass(slots=True)
class CaseFacts:
    """What a note can say about its case (the slot values)."""

    pop_first: str
    pop_last: str
    female: bool
    crn: str
    pnc: str
    ni: str
    dob: str
    phone: str
    email: str
    address: str
    town: str
    postcode: str
    partner: tuple[str, str]
    relative: tuple[str, str]
    child_first: str
    officers: list[tuple[str, str]]
    sw: tuple[str, str]
    pp: Staff
    spo: Staff
    colleagues: list[Staff]
    tier: str
    rosh: str
    mappa_level: str
    mappa_cat: str


@dataclass(slots=True)
class NoteOut:
    text: str
    spans: list[tuple[int, int, str]]
    attrs: dict[str, bool] = field(default_factory=dict)


def _fmt(d: date) -> str:
    return d.strftime("%d/%m/%Y")


class Writer:
    """Renders notes for one case. Holds the rng and the case's facts; cheap to create."""

    def __init__(self, rng: random.Random, facts: CaseFacts, bank: Bank | None = None) -> None:
        self.rng = rng
        self.facts = facts
        self.bank = bank or load_bank()
        self.when: date = date(2024, 1, 1)
        self.event_kind: str = "police_callout"
        self._voice: Voice | None = None
        self._static = self._static_slots()
        self._rand = rng.random

    def _pick(self, n: int) -> int:
        # int(random() * n) is several times faster than randrange and fine for picking phrases
        return int(self._rand() * n)

    # --- slot filling -------------------------------------------------------------------------
    def _static_slots(self) -> dict[str, list[Segment]]:
        """Slots whose value is fixed for the case: rendered once, shared by every note."""
        f = self.facts
        static: dict[str, list[Segment]] = {
            "pop": [(f"{f.pop_first} {f.pop_last}", _PERSON)],
            "pop_first": [(f.pop_first, _PERSON)],
            "pop_last": [(f.pop_last, _PERSON)],
            "partner": [(" ".join(f.partner), _PERSON)],
            "partner_first": [(f.partner[0], _PERSON)],
            "relative": [(" ".join(f.relative), _PERSON)],
            "child_first": [(f.child_first, _PERSON)],
            "sw": [(" ".join(f.sw), _PERSON)],
            "pp": [(f.pp.name, _PERSON)],
            "pp_first": [(f.pp.first, _PERSON)],
            "spo": [(f.spo.name, _PERSON)],
            "spo_first": [(f.spo.first, _PERSON)],
            "crn": [(f.crn, PiiKind.CRN.value)],
            "pnc": [(f.pnc, PiiKind.PNC.value)],
            "ni": [(f.ni, PiiKind.NI_NUMBER.value)],
            "dob": [(f.dob, PiiKind.DOB.value)],
            "phone": [(f.phone, PiiKind.PHONE.value)],
            "email": [(f.email, PiiKind.EMAIL.value)],
            "postcode": [(f.postcode, PiiKind.POSTCODE.value)],
            "tier": [(f.tier, None)],
            "rosh": [(f.rosh.lower(), None)],
            "mappa_level": [(f.mappa_level or "1", None)],
            "mappa_cat": [(f.mappa_cat or "2", None)],
        }
        for name in ("he", "him", "his", "He", "His"):
            static[name] = [(_pronoun(name, f.female), None)]
        if not f.female:
            static["pop_title"] = [("Mr ", None), (f.pop_last, _PERSON)]
        return static

    def fill(self, name: str) -> list[Segment]:
        seg = self._static.get(name)
        if seg is not None:
            return seg
        f, rng = self.facts, self.rng
        match name:
            case "pop_title":
                return [(rng.choice(("Ms ", "Miss ", "Mrs ")), None), (f.pop_last, _PERSON)]
            case "officer":
                rank, (first, last) = rng.choice(f.officers)
                if rng.random() < 0.25:
                    return [(rank + " ", None), (f"{first} {last}", _PERSON)]
                return [(rank + " ", None), (last, _PERSON)]
            case "colleague":
                return [(rng.choice(f.colleagues).name, _PERSON)]
            case "address":
                if rng.random() < 0.3:
                    return [(f"{f.address}, {f.town}", PiiKind.ADDRESS.value)]
                return [(f.address, PiiKind.ADDRESS.value)]
            case "date":
                return [(_fmt(self.when + timedelta(days=rng.randrange(-7, 15))), None)]
            case "short_date":
                d = self.when + timedelta(days=rng.randrange(-7, 15))
                return [(d.strftime("%d/%m"), None)]
            case "weekday":
                return [(rng.choice(_WEEKDAYS), None)]
            case "n":
                return [(str(rng.randrange(2, 7)), None)]
            case "weeks":
                return [(str(rng.randrange(2, 9)), None)]
            case "event":
                return self.unit(f"events.{self.event_kind}")
            case "substance":
                return [(rng.choice(_SUBSTANCES), None)]
            case "requirement":
                return [(rng.choice(_REQUIREMENTS), None)]
        raise KeyError(f"unknown slot <{name}>")

    # --- rendering ----------------------------------------------------------------------------
    def _literal(self, text: str) -> str:
        v = self._voice
        if v is None or v.typo_rate == 0.0 or len(text) < 6:
            return text
        if self._rand() < v.typo_rate * (1 + text.count(" ")):
            return _typo(self.rng, text)
        return text

    def unit(self, section: str) -> list[Segment]:
        v = self._voice
        options = self.bank.get(section, lower=bool(v and v.lower), abbrev=bool(v and v.abbrev))
        template = options[int(self._rand() * len(options))]
        return render(template, self.fill, self._pick, self._literal)

    def header(self, author: Staff, when: date, *, rng_time: bool = True) -> list[Segment]:
        hh, mm = self.rng.randrange(8, 19), self.rng.randrange(60)
        lead = "Comment added by " if self.rng.random() > 0.03 else "comment added by "
        return [
            (lead, None),
            (author.name, _PERSON),
            (f" on {_fmt(when)} at {hh:02d}:{mm:02d}\n", None),
        ]

    def layout(self, units: list[list[Segment]], voice: Voice) -> list[Segment]:
        units = [u for u in units if u]
        if not units:
            return []
        rng = self.rng
        out: list[Segment] = []
        style = voice.layout
        if style in ("bullets", "numbered") and len(units) < 2:
            style = "prose"
        if style == "prose":
            for i, u in enumerate(units):
                if i:
                    out.append((". " if rng.random() > 0.08 else ".  ", None))
                out.extend(_cap(u, voice))
            if rng.random() < 0.85:
                out.append((".", None))
        elif style == "terse":
            sep = rng.choice((". ", " - ", "; ", ", ", ". "))
            for i, u in enumerate(units):
                if i:
                    out.append((sep, None))
                out.extend(_cap(u, voice) if i == 0 or sep == ". " else u)
        else:
            mark = rng.choice(("- ", "* ", "\u2022 ", "-")) if style == "bullets" else None
            for i, u in enumerate(units):
                if i:
                    out.append(("\n", None))
                out.append((mark if mark is not None else f"{i + 1}{rng.choice('.)')} ", None))
                out.extend(_cap(u, voice))
        return out

    def sbar(self, sections: list[list[list[Segment]]], voice: Voice) -> list[Segment]:
        heads = self.rng.choice(_SBAR_HEADINGS)
        out: list[Segment] = []
        for i, (head, units) in enumerate(zip(heads, sections, strict=True)):
            if i:
                out.append(("\n", None))
            out.append((head + " ", None))
            body = self.layout(units, _as_prose(voice)) if units else [("-", None)]
            out.extend(body)
        return out

    # --- note kinds ---------------------------------------------------------------------------
    def ordinary(self, kind: str, when: date, *, long: bool = False) -> NoteOut:
        self.when = when
        pp = self.facts.pp
        self._voice = pp.voice
        rng = self.rng
        if long:
            # a few notes are whole-visit narratives of several thousand characters
            n = rng.randrange(80, 160) if rng.random() < 0.15 else rng.randrange(15, 40)
        else:
            n = rng.choices((1, 2, 3, 4, 5), (3, 4, 3, 2, 1))[0]
        kinds = [kind] + (["office_visit", "home_visit", "phone", "other", kind] if long else [])
        units = [self.unit(f"ordinary.{rng.choice(kinds) if i else kind}") for i in range(n)]
        segs = self.layout(units, _as_prose(pp.voice) if long else pp.voice)
        if rng.random() < pp.voice.header_habit * 0.3:
            segs = self.header(pp, when) + segs
        return self._finish(segs)

    def system(self, kind: str, when: date) -> NoteOut:
        self.when = when
        self._voice = None
        return self._finish(self.unit(f"system.{kind}"))

    def oversight(
        self,
        *,
        when: date,
        author: Staff,
        otype: OversightType,
        content: Content,
        initiator: Initiator,
        event_kind: str,
        sbar: bool,
        back_cover: bool,
        retrospective_bias: float = 0.25,
    ) -> NoteOut:
        """An SPO's oversight entry; returns the text, its PII spans and its attribute truth."""
        rng = self.rng
        self.when = when
        self.event_kind = event_kind
        t = f"oversight.{otype.value}"
        voice = author.voice
        attrs = dict.fromkeys(
            ("sbar", "rationale", "action_owner", "timescale", "risk_factors", "retrospective"),
            False,
        )
        blocks: list[list[Segment]] = []

        # A PP's request written first in the same contact, the SPO's comment appended below.
        pp_block = initiator is Initiator.PP_REQUEST and rng.random() < (
            0.6 if back_cover else 0.35
        )
        pp_situation: list[Segment] | None = None
        if pp_block:
            self._voice = self.facts.pp.voice
            req = [self.unit("ordinary.mo_request")]
            if rng.random() < 0.6:
                pp_situation = self.unit(f"{t}.situation")
                req.insert(rng.randrange(2), pp_situation)
            segs = self.layout(req, self.facts.pp.voice)
            if rng.random() < 0.5:
                segs = self.header(self.facts.pp, when) + segs
            blocks.append(segs)

        self._voice = voice
        cue: list[Segment] = []
        if initiator is Initiator.PP_REQUEST and not pp_block:
            cue = self.unit("initiator.pp_request")
        elif initiator is Initiator.SPO:
            cue = self.unit("initiator.spo")
        elif initiator is Initiator.SCHEDULED:
            cue = self.unit(f"{t}.scheduled" if rng.random() < 0.7 else "initiator.scheduled")

        situation = self.unit(f"{t}.situation")
        background = self.unit(f"{t}.background")
        moves: dict[str, list[Segment]] = {}
        if content is Content.SUBSTANTIVE:
            want = {
                "assessment": rng.random() < 0.6,
                "rationale": rng.random() < 0.55,
                "action": rng.random() < 0.8,
                "timescale": rng.random() < 0.6,
            }
            if sum(want.values()) < 2:
                want["action"] = True
                want[rng.choice(("rationale", "timescale", "assessment"))] = True
            for move, on in want.items():
                if on:
                    moves[move] = self.unit(f"{t}.{move}")
            attrs["risk_factors"] = "assessment" in moves
            attrs["rationale"] = "rationale" in moves
            attrs["action_owner"] = "action" in moves
            attrs["timescale"] = "timescale" in moves
        else:
            moves["defensive"] = self.unit(f"{t}.defensive")
            if rng.random() < 0.3:
                moves["defensive2"] = self.unit(f"{t}.defensive")
            if rng.random() < retrospective_bias:
                moves["retrospective"] = self.unit(f"{t}.retrospective")
                attrs["retrospective"] = True

        if sbar:
            attrs["sbar"] = True
            if content is Content.SUBSTANTIVE:
                a = [moves[m] for m in ("assessment", "rationale") if m in moves]
                r = [moves[m] for m in ("action", "timescale") if m in moves]
            else:
                a = [self.unit(f"{t}.sbar_defensive_assessment")]
                r = [self.unit(f"{t}.sbar_defensive_recommendation")]
                if "retrospective" in moves:
                    a.append(moves["retrospective"])
            s = [cue, situation] if cue else [situation]
            body = self.sbar([s, [background], a or [moves.get("defensive", [])], r], voice)
        else:
            units: list[list[Segment]] = []
            short = content is Content.SUBSTANTIVE and rng.random() < 0.2
            if pp_situation is not None and content is Content.DEFENSIVE and rng.random() < 0.5:
                situation = pp_situation  # the SPO repeats the PP's words and adds nothing
            if not short or rng.random() < 0.5:
                units.append(situation)
            if rng.random() < (0.3 if content is Content.DEFENSIVE else 0.2) and not short:
                units.append(background)
            if cue:
                units.insert(0 if rng.random() < 0.7 else len(units), cue)
            order = ["assessment", "rationale", "action", "timescale"]
            if rng.random() < 0.3:
                rng.shuffle(order)
            units.extend(moves[m] for m in order if m in moves)
            units.extend(
                moves[m] for m in ("defensive", "defensive2", "retrospective") if m in moves
            )
            body = self.layout(units, voice)

        if voice.sign_off and rng.random() < 0.6:
            if voice.sign_off == "SPO":
                body = body + [
                    (rng.choice(("\nSPO", " - SPO", "\nSenior Probation Officer")), None)
                ]
            else:
                body = body + [
                    ("\n", None),
                    (author.name, _PERSON),
                    (" SPO" if rng.random() < 0.5 else "", None),
                ]
        if pp_block or rng.random() < voice.header_habit:
            body = self.header(author, when + timedelta(days=rng.choice((0, 0, 0, 1, 2)))) + body
        blocks.append(body)

        segs: list[Segment] = []
        for i, b in enumerate(blocks):
            if i:
                segs.append(("\n\n" if rng.random() < 0.7 else "\n", None))
            segs.extend(b)
        out = self._finish(segs)
        out.attrs = attrs
        return out

    def _finish(self, segs: list[Segment]) -> NoteOut:
        text, spans = join_segments(segs)
        return NoteOut(text, spans)


def _as_prose(voice: Voice) -> Voice:
    return voice if voice.layout == "prose" else replace(voice, layout="prose")


def _pronoun(name: str, female: bool) -> str:
    table = {"he": ("he", "she"), "him": ("him", "her"), "his": ("his", "her")}
    word = table[name.lower()][1 if female else 0]
    return word.capitalize() if name[0].isupper() else word


def _cap(unit: list[Segment], voice: Voice) -> list[Segment]:
    if voice.lower or not unit:
        return unit
    text, kind = unit[0]
    if kind is None and text and text[0].islower():
        return [(text[0].upper() + text[1:], None), *unit[1:]]
    return unit


def _typo(rng: random.Random, text: str) -> str:
    """One slip of the keyboard: swap, drop or double a letter inside a word."""
    for _ in range(4):
        i = rng.randrange(1, len(text) - 2)
        a, b = text[i], text[i + 1]
        if a in string.ascii_letters and b in string.ascii_letters and text[i - 1] != " ":
            op = rng.randrange(3)
            if op == 0:
                return text[:i] + b + a + text[i + 2 :]
            if op == 1:
                return text[:i] + text[i + 1 :]
            return text[:i] + a + text[i:]
    return text
