"""One synthetic case: a person on probation, their team, and a timeline of contacts.

Each case draws from its own random stream (seed, case index), so cases can be made in any order
or in parallel and the export is the same for a seed. The timeline holds ordinary casework,
system-written contacts, risk events, enforcement, and oversight entries of all six types that
arise the way the thematic describes: scheduled touch points, responses to risk events (or none),
supervision, and PP requests to have oversight recorded "just in case".
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any

from pipeline.labels import (
    CONTACT_TYPES,
    OUTCOMES,
    RISK_EVENTS,
    Content,
    Grade,
    Initiator,
    OversightType,
    RoshLevel,
    SentenceType,
)
from pipeline.synth import people
from pipeline.synth.bank import load_profiles
from pipeline.synth.notes import CaseFacts, NoteOut, Writer
from pipeline.synth.people import Staff, Team

EPOCH = date(2023, 1, 2)
_OT = OversightType
_UNSCHEDULED = frozenset({"risk_response", "enforcement", "supervision"})
_RISK_KINDS = (
    "police_callout",
    "arrest",
    "da_incident",
    "cp_concern",
    "lost_accommodation",
    "positive_test",
)
_RISK_WEIGHTS = (0.27, 0.15, 0.2, 0.14, 0.15, 0.09)
_RISK_RATE = {
    RoshLevel.LOW: 0.06,
    RoshLevel.MEDIUM: 0.12,
    RoshLevel.HIGH: 0.2,
    RoshLevel.VERY_HIGH: 0.28,
}
_EVENT_CONTACT = {
    "police_callout": ("CPOL", "police_info"),
    "arrest": ("CPOL", "police_info"),
    "da_incident": ("CPOL", "police_info"),
    "cp_concern": ("CSOC", "csc_contact"),
    "lost_accommodation": ("CHOU", "accommodation"),
    "positive_test": ("CDTR", "drug_test"),
    "recall_consideration": ("ABRE", "breach_action"),
}


@dataclass(slots=True)
class Contact:
    """One contact before ids are assigned, with its ground truth."""

    when: date
    time: str
    code: str
    note: NoteOut
    staff: Staff | None
    created_by: Staff | None
    outcome: str | None = None
    created_delay: int = 0
    sensitive: bool = False
    system: bool = False
    is_oversight: bool = False
    otype: OversightType | None = None
    content: Content | None = None
    initiator: Initiator | None = None
    trigger: str | None = None
    risk_event: str | None = None
    responds_to: Contact | None = None
    delay: int | None = None
    attrs: dict[str, bool] = field(default_factory=dict)


@dataclass(slots=True)
class Case:
    crn: str
    region: str
    team: Team
    facts: CaseFacts
    rosh: RoshLevel
    sentence: SentenceType
    start: date
    end: date
    high_rosh_quarters: int
    contacts: list[Contact]


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def defensive_probability(
    culture: dict[str, float], glob: dict[str, Any], otype: str, initiator: str, back_cover: bool
) -> float:
    """P(defensive) for an entry; the manifest documents this formula so tests can recompute it."""
    x = _logit(culture["defensive_base"]) + glob["type_shift"][otype]
    x += glob["initiator_shift"][initiator] + (glob["back_cover_shift"] if back_cover else 0.0)
    return _sigmoid(x)


@cache
def teams(seed: int) -> dict[str, list[Team]]:
    """The staff roster: every team of every PDU, the same for a seed in every process."""
    rng = random.Random(seed * 7_919 + 17)
    prof = load_profiles()
    out: dict[str, list[Team]] = {}
    for region, spec in prof["regions"].items():
        sbar = spec["culture"]["sbar_rate"]
        out[region] = [
            people.make_team(rng, region, pdu, name, sbar_rate=sbar)
            for pdu, names in spec["pdus"].items()
            for name in names
        ]
    return out


class CaseBuilder:
    """Builds one case's timeline. Not reused: one builder, one case."""

    def __init__(self, index: int, seed: int) -> None:
        self.rng = random.Random(seed * 1_000_003 + index)
        self.index = index
        self.seed = seed
        prof = load_profiles()
        self.glob = prof["global"]
        regions = list(prof["regions"])
        weights = [prof["regions"][r]["weight"] for r in regions]
        self.region = self.rng.choices(regions, weights)[0]
        self.culture = prof["regions"][self.region]["culture"]
        self.contacts: list[Contact] = []

    # --- the case -----------------------------------------------------------------------------
    def build(self) -> Case:
        rng = self.rng
        team = rng.choice(teams(self.seed)[self.region])
        pp = rng.choice(team.pps)
        spo = team.spos[0]
        female = rng.random() < 0.15
        first, last = people.full_name(rng, female=female)
        start = EPOCH + timedelta(days=rng.randrange(0, 540))
        end = start + timedelta(days=rng.randrange(150, 400))
        rosh = rng.choices(list(RoshLevel), (0.2, 0.5, 0.25, 0.05))[0]
        tier_letter = rng.choice("AB" if rosh.is_high else "BCD")
        tier = (
            f"{tier_letter}-{rng.randrange(4)}"
            if rng.random() < 0.8
            else f"{tier_letter}{rng.randrange(4)}"
        )
        mappa_level, mappa_cat = "", ""
        p_mappa = {RoshLevel.HIGH: 0.4, RoshLevel.VERY_HIGH: 0.7, RoshLevel.MEDIUM: 0.06}.get(
            rosh, 0
        )
        if rng.random() < p_mappa:
            mappa_level = rng.choices("123", (0.8, 0.17, 0.03))[0]
            mappa_cat = rng.choices("123", (0.35, 0.55, 0.1))[0]
        sentence = rng.choices(list(SentenceType), (0.5, 0.2, 0.3))[0]
        addr, town, postcode = people.address(rng)
        ranks = people.load_people()["police_ranks"]
        facts = CaseFacts(
            pop_first=first,
            pop_last=last,
            female=female,
            # unique within an export: the digits are a permutation of the case index
            crn=f"{rng.choice('ABCDEFGHJKLMNPRSTVWXYZ')}{(self.index * 7_919 + 104_729) % 1_000_000:06d}",
            pnc=people.pnc(rng),
            ni=people.ni_number(rng),
            dob=people.dob(rng, start.year),
            phone=people.phone(rng),
            email=people.email(rng, first, last),
            address=addr,
            town=town,
            postcode=postcode,
            partner=people.full_name(rng, female=not female),
            relative=people.full_name(rng),
            child_first=people.full_name(rng)[0],
            officers=[(rng.choice(ranks), people.full_name(rng)) for _ in range(2)],
            sw=people.full_name(rng),
            pp=pp,
            spo=spo,
            colleagues=[s for s in team.pps if s is not pp][:4] or [pp],
            tier=tier,
            rosh=rosh.value,
            mappa_level=mappa_level,
            mappa_cat=mappa_cat,
        )
        self.writer = Writer(rng, facts)
        self.facts, self.team, self.start, self.end = facts, team, start, end
        self.rosh, self.sentence = rosh, sentence
        quarters = (end - start).days // 91 if rosh.is_high else 0

        self._system_contacts()
        self._casework()
        self._risk_events()
        self._allocation()
        self._assurance()
        self._reviews(quarters)
        self._supervision_and_back_cover()
        self._case_discussions()
        self.contacts.sort(key=lambda c: (c.when, c.time))
        return Case(
            facts.crn, self.region, team, facts, rosh, sentence, start, end, quarters, self.contacts
        )

    # --- helpers ------------------------------------------------------------------------------
    @property
    def months(self) -> float:
        return (self.end - self.start).days / 30.4

    def _poisson(self, lam: float) -> int:
        # Knuth's method: lam is small here
        limit, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    def _day(self, lo: int = 0, hi: int | None = None) -> date:
        span = (self.end - self.start).days
        hi = span if hi is None else min(hi, span)
        return self.start + timedelta(days=self.rng.randrange(lo, max(lo + 1, hi)))

    def _time(self, lo: int = 8, hi: int = 18) -> str:
        r = self.rng.random()
        hour = lo + int(r * (hi - lo))
        return f"{hour:02d}:{5 * int(self.rng.random() * 12):02d}"

    def _add(self, c: Contact) -> Contact:
        self.contacts.append(c)
        return c

    def _ordinary(
        self,
        kind: str,
        code: str,
        when: date,
        *,
        outcome: str | None = None,
        event: str | None = None,
        sensitive: bool = False,
    ) -> Contact:
        rng = self.rng
        if event:
            self.writer.event_kind = event
        if rng.random() < 0.02:
            note = NoteOut("", [])
        else:
            note = self.writer.ordinary(kind, when, long=rng.random() < 0.008)
        pp = self.facts.pp
        return self._add(
            Contact(
                when,
                self._time(),
                code,
                note,
                pp,
                pp,
                outcome=outcome,
                sensitive=sensitive or rng.random() < 0.03,
            )
        )

    # --- timeline parts -----------------------------------------------------------------------
    def _system_contacts(self) -> None:
        rng = self.rng
        plan = [("allocated", "EOAL", self.start)]
        if rng.random() < 0.5:
            plan.append(("tier_change", "ETIE", self._day(20)))
        if rng.random() < 0.4 or self.facts.mappa_level:
            plan.append(("registration", "ERGA", self._day(0, 30)))
        if rng.random() < 0.05:
            plan.append(("transfer", "ETRA", self._day(30)))
        for kind, code, when in plan:
            note = NoteOut("", []) if rng.random() < 0.25 else self.writer.system(kind, when)
            self._add(Contact(when, self._time(0, 7), code, note, None, None, system=True))

    def _casework(self) -> None:
        rng = self.rng
        gap = {RoshLevel.LOW: 18, RoshLevel.MEDIUM: 13, RoshLevel.HIGH: 9, RoshLevel.VERY_HIGH: 7}[
            self.rosh
        ]
        day = self.start + timedelta(days=rng.randrange(2, 8))
        misses = 0
        kinds = ["office_visit", "phone", "video", "home_visit", "upw"]
        weights = [0.55, 0.2, 0.08, 0.1 + (0.1 if self.rosh.is_high else 0), 0.07]
        codes = {
            "office_visit": "COAP",
            "phone": "CTOA",
            "video": "CVID",
            "home_visit": "CHVS",
            "upw": "CUPW",
        }
        oasys_next = self.start + timedelta(days=rng.randrange(12, 30))
        while day < self.end:
            kind = rng.choices(kinds, weights)[0]
            if kind == "upw" and self.sentence is SentenceType.LICENCE:
                kind = "office_visit"
            outcome = rng.choices(["ATTC", "AFTA", "AACL", "RSSR"], [0.87, 0.08, 0.03, 0.02])[0]
            if outcome == "AFTA":
                self._ordinary("missed", codes[kind], day, outcome=outcome)
                misses += 1
                if misses in (2, 3):
                    self._enforcement_step(day + timedelta(days=rng.randrange(1, 5)), misses)
            else:
                self._ordinary(kind, codes[kind], day, outcome=outcome)
            if rng.random() < 0.12:
                self._ordinary(
                    rng.choice(("other", "phone")),
                    rng.choice(("COTH", "CTOB")),
                    day + timedelta(days=rng.randrange(1, 4)),
                )
            if day >= oasys_next:
                self._oasys(day + timedelta(days=1))
                oasys_next = day + timedelta(days=rng.randrange(160, 200))
            day += timedelta(days=max(3, int(rng.gauss(gap, gap / 3))))

    def _enforcement_step(self, when: date, misses: int) -> None:
        kind, code = ("warning_letter", "AWLI") if misses == 2 else ("breach_action", "ABRE")
        self._ordinary(kind, code, when)
        if self.sentence is SentenceType.LICENCE and misses == 3:
            ev = self._event("recall_consideration", when + timedelta(days=1))
            self._respond(ev)
            return
        if self.rng.random() < self.glob["enforcement_rate"]:
            delay = self.rng.randrange(0, 6)
            self._oversight(
                _OT.ENFORCEMENT,
                "enforcement",
                when + timedelta(days=delay),
                event_kind="missed_appointments" if misses == 2 else "breach",
            )

    def _oasys(self, when: date) -> None:
        self._ordinary("oasys", "COAS", when)
        pp = self.facts.pp
        needs = pp.grade in (Grade.PSO, Grade.PQIP) or self.rosh.is_high or self.rng.random() < 0.3
        if needs and self.rng.random() < 0.85:
            self._oversight(
                _OT.ASSURANCE, "countersign", when + timedelta(days=self.rng.randrange(0, 10))
            )

    def _event(self, kind: str, when: date) -> Contact:
        code, section = _EVENT_CONTACT[kind]
        sensitive = kind in ("da_incident", "cp_concern") and self.rng.random() < 0.35
        c = self._ordinary(section, code, when, event=kind, sensitive=sensitive)
        c.risk_event = kind if kind in RISK_EVENTS else None
        return c

    def _risk_events(self) -> None:
        rng = self.rng
        for _ in range(self._poisson(_RISK_RATE[self.rosh] * self.months)):
            kind = rng.choices(_RISK_KINDS, _RISK_WEIGHTS)[0]
            ev = self._event(kind, self._day(5))
            if kind == "positive_test":
                continue
            self._respond(ev)
            if kind == "arrest" and self.sentence is SentenceType.LICENCE and rng.random() < 0.5:
                rc = self._event(
                    "recall_consideration", ev.when + timedelta(days=rng.randrange(0, 3))
                )
                self._respond(rc)

    def _respond(self, ev: Contact) -> None:
        """A responsive touch point after a risk event, or none: the culture's responsiveness."""
        rng = self.rng
        if rng.random() >= self.culture["response_rate"]:
            return
        mu = math.log(self.culture["median_delay_days"])
        delay = int(math.exp(rng.gauss(mu, self.glob["delay_sigma"])))
        otype = _OT.ENFORCEMENT if ev.risk_event == "recall_consideration" else _OT.RISK
        entry = self._oversight(
            otype,
            "risk_response",
            ev.when + timedelta(days=delay),
            event_kind=ev.risk_event or "police_callout",
        )
        entry.responds_to, entry.delay = ev, delay

    def _allocation(self) -> None:
        if self.rng.random() < 0.93:
            day = max(1, int(round(self.rng.gauss(15, 5))))
            self._oversight(_OT.ALLOCATION, "allocation", self.start + timedelta(days=day))

    def _assurance(self) -> None:
        rng = self.rng
        hvra_needed = self.rosh.is_high or any(
            c.risk_event in ("da_incident", "cp_concern") for c in self.contacts
        )
        if hvra_needed:
            for _ in range(rng.choice((1, 1, 2))):
                self._oversight(_OT.ASSURANCE, "hvra", self._day(10))
        if rng.random() < 0.08:
            self._oversight(_OT.ASSURANCE, "psr_gatekeeping", self._day(0, 5))
        if rng.random() < 0.06:
            self._oversight(_OT.ASSURANCE, "aqa_feedback", self._day(30))

    def _reviews(self, quarters: int) -> None:
        rng = self.rng
        for q in range(quarters):
            if rng.random() < self.culture["quarterly_review"]:
                self._oversight(
                    _OT.REVIEW,
                    "quarterly_review",
                    self.start + timedelta(days=q * 91 + rng.randrange(91)),
                )
        if self.facts.mappa_level:
            for q in range(max(1, (self.end - self.start).days // 120)):
                if rng.random() < 0.7:
                    self._oversight(
                        _OT.REVIEW,
                        "mappa_review",
                        self.start + timedelta(days=q * 120 + rng.randrange(20, 120)),
                    )
        if self.sentence is SentenceType.LICENCE and rng.random() < 0.04:
            self._oversight(_OT.REVIEW, "panel", self._day(30))
        if rng.random() < 0.3:
            self._oversight(
                _OT.REVIEW, "termination", self.end - timedelta(days=rng.randrange(1, 14))
            )

    def _supervision_and_back_cover(self) -> None:
        rng = self.rng
        for _ in range(self._poisson(self.culture["supervision_rate"] * self.months)):
            self._oversight(_OT.SUPERVISION, "supervision", self._day(20))
        for _ in range(self._poisson(self.culture["back_cover_rate"] * self.months)):
            otype = rng.choices([_OT.RISK, _OT.SUPERVISION, _OT.ENFORCEMENT], (0.45, 0.35, 0.2))[0]
            self._oversight(otype, "back_cover", self._day(5))

    def _case_discussions(self) -> None:
        rng = self.rng
        for _ in range(self._poisson(self.glob["case_discussion_rate"] * self.months)):
            code = rng.choice(("CSPO", "C238", "CRCO", "RROD"))
            self._ordinary("case_discussion", code, self._day(5))

    # --- oversight entries --------------------------------------------------------------------
    def _initiator(self, trigger: str) -> Initiator:
        rng = self.rng
        if trigger == "back_cover":
            return Initiator.PP_REQUEST
        if rng.random() < self.culture["unknown_initiator"]:
            return Initiator.UNKNOWN
        if trigger in _UNSCHEDULED:
            return (
                Initiator.PP_REQUEST
                if rng.random() < self.culture["reactive_share"]
                else Initiator.SPO
            )
        return Initiator.SCHEDULED

    def _code(self, otype: OversightType, trigger: str) -> str:
        rng = self.rng
        if rng.random() < self.glob["misfile_other_share"]:
            return "COTH"
        specific: tuple[str, ...] = ()
        match trigger:
            case "allocation":
                specific = ("SPOD03",)
            case "hvra":
                specific = ("MO8",)
            case "quarterly_review":
                specific = ("C416",)
            case "mappa_review":
                specific = ("MO3",)
            case "panel":
                specific = ("MO2", "LRP1")
            case "termination":
                specific = ("CRCO", "C416")
            case "countersign" | "psr_gatekeeping" | "aqa_feedback":
                specific = ()
            case _:
                specific = {
                    _OT.SUPERVISION: ("CRCO", "C238", "CSPO"),
                    _OT.RISK: ("RROD", "CSPO", "C238", "CRCO"),
                    _OT.ENFORCEMENT: ("CSPO", "C238", "RROD"),
                }.get(otype, ())
                if otype is _OT.ENFORCEMENT and self.writer.event_kind == "recall_consideration":
                    specific = ("MO5", "SPOD02")
        if not specific or rng.random() < self.culture["catch_all_share"]:
            return "MO1" if rng.random() < 0.75 else "C002"
        return rng.choice(specific)

    def _outcome(self, otype: OversightType, trigger: str, content: Content) -> str | None:
        rng = self.rng
        if trigger == "hvra":
            return rng.choice(("MO23", "MO23", "MO24", "MO25", "MO26", "MO12", "MO13"))
        if self.writer.event_kind == "recall_consideration" and otype is _OT.ENFORCEMENT:
            return rng.choice(("MO10", "MO11", "MO11"))
        if content is Content.SUBSTANTIVE:
            return rng.choices(("MO1", "MO3", "MO28", None), (0.35, 0.3, 0.05, 0.3))[0]
        return rng.choices(("MO27", "MO3", "MO1", None), (0.35, 0.25, 0.05, 0.35))[0]

    def _oversight(
        self, otype: OversightType, trigger: str, when: date, *, event_kind: str | None = None
    ) -> Contact:
        rng = self.rng
        initiator = self._initiator(trigger)
        back_cover = trigger == "back_cover"
        p_def = defensive_probability(
            self.culture, self.glob, otype.value, initiator.value, back_cover
        )
        content = Content.DEFENSIVE if rng.random() < p_def else Content.SUBSTANTIVE
        if event_kind is None:
            recent = [c.risk_event for c in self.contacts if c.risk_event and c.when <= when]
            event_kind = (
                recent[-1]
                if recent and rng.random() < 0.7
                else rng.choice(
                    ("police_callout", "missed_appointments", "positive_test", "lost_accommodation")
                )
            )
        self.writer.event_kind = event_kind
        author = (
            self.team.spos[0]
            if len(self.team.spos) == 1 or rng.random() < 0.8
            else self.team.spos[1]
        )
        sbar = rng.random() < author.voice.sbar_habit
        note = self.writer.oversight(
            when=when,
            author=author,
            otype=otype,
            content=content,
            initiator=initiator,
            event_kind=event_kind,
            sbar=sbar,
            back_cover=back_cover,
            retrospective_bias=0.35 if otype in (_OT.ENFORCEMENT, _OT.RISK) else 0.2,
        )
        code = self._code(otype, trigger)
        pp = self.facts.pp
        created_by = pp if initiator is Initiator.PP_REQUEST and rng.random() < 0.4 else author
        c = Contact(
            when,
            self._time(8, 19),
            code,
            note,
            author,
            created_by,
            outcome=self._outcome(otype, trigger, content),
            created_delay=rng.choices((0, 1, 2, 7), (0.8, 0.1, 0.06, 0.04))[0],
            sensitive=rng.random() < 0.04,
            is_oversight=True,
            otype=otype,
            content=content,
            initiator=initiator,
            trigger=trigger,
            attrs=note.attrs,
        )
        return self._add(c)


def contact_type(code: str) -> str:
    return CONTACT_TYPES[code].description


def outcome_description(code: str | None) -> str | None:
    return OUTCOMES[code].description if code else None
