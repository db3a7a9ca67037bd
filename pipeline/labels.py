"""The label scheme: the one place where labels, codes and their meanings are spelled.

This module is the contract shared by data, models, metrics and tests (domain.md section 3).
Everything else imports these names; nothing re-spells a label as a string literal.
It imports nothing of ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OversightType(StrEnum):
    """The touch point an entry really is, whatever code it was filed under."""

    ALLOCATION = "allocation"
    SUPERVISION = "supervision"
    RISK = "risk"
    ENFORCEMENT = "enforcement"
    ASSURANCE = "assurance"
    REVIEW = "review"


class Content(StrEnum):
    """Whether an entry engages with the case (substantive) or only evidences that it happened."""

    DEFENSIVE = "defensive"
    SUBSTANTIVE = "substantive"


class Initiator(StrEnum):
    """Who started the touch point."""

    PP_REQUEST = "pp_request"
    SPO = "spo"
    SCHEDULED = "scheduled"
    UNKNOWN = "unknown"


class HmipCategory(StrEnum):
    """The three ways HMIP judges oversight."""

    QUALITY_ASSURANCE = "quality assurance of processes"
    THROUGH_SUPERVISION = "oversight through supervision"
    IMMEDIATE_RISK = "oversight of immediate risk"


class Attribute(StrEnum):
    """Explainable attributes an oversight entry may show (booleans)."""

    SBAR = "sbar"
    RATIONALE = "rationale"
    ACTION_OWNER = "action_owner"
    TIMESCALE = "timescale"
    RISK_FACTORS = "risk_factors"
    RETROSPECTIVE = "retrospective"


class PiiKind(StrEnum):
    """Kinds of personal data redacted before text is stored; the value is the placeholder name."""

    PERSON = "PERSON"
    CRN = "CRN"
    PNC = "PNC"
    NI_NUMBER = "NI_NUMBER"
    DOB = "DOB"
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    ADDRESS = "ADDRESS"
    POSTCODE = "POSTCODE"

    @property
    def placeholder(self) -> str:
        return f"[{self.value}]"


class RiskEvent(StrEnum):
    """Events that should draw a responsive risk or enforcement touch point (domain.md section 4)."""

    POLICE_CALLOUT = "police_callout"
    ARREST = "arrest"
    DA_INCIDENT = "da_incident"
    CP_CONCERN = "cp_concern"
    LOST_ACCOMMODATION = "lost_accommodation"
    RECALL_CONSIDERATION = "recall_consideration"


class RoshLevel(StrEnum):
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"
    VERY_HIGH = "Very High"

    @property
    def is_high(self) -> bool:
        """High and very high RoSH cases are meant to be reviewed every quarter."""
        return self in (RoshLevel.HIGH, RoshLevel.VERY_HIGH)


class SentenceType(StrEnum):
    COMMUNITY_ORDER = "Community Order"
    SUSPENDED_SENTENCE = "Suspended Sentence Order"
    LICENCE = "Licence"


class Grade(StrEnum):
    PO = "PO"
    PSO = "PSO"
    PQIP = "PQiP"
    SPO = "SPO"


OVERSIGHT_TYPES: tuple[str, ...] = tuple(t.value for t in OversightType)
CONTENT_LABELS: tuple[str, ...] = tuple(c.value for c in Content)
INITIATORS: tuple[str, ...] = tuple(i.value for i in Initiator)
ATTRIBUTES: tuple[str, ...] = tuple(a.value for a in Attribute)
PII_KINDS: tuple[str, ...] = tuple(k.value for k in PiiKind)
RISK_EVENTS: tuple[str, ...] = tuple(e.value for e in RiskEvent)

HMIP_CATEGORY: dict[OversightType, HmipCategory] = {
    OversightType.ALLOCATION: HmipCategory.THROUGH_SUPERVISION,
    OversightType.SUPERVISION: HmipCategory.THROUGH_SUPERVISION,
    OversightType.RISK: HmipCategory.IMMEDIATE_RISK,
    OversightType.ENFORCEMENT: HmipCategory.IMMEDIATE_RISK,
    OversightType.ASSURANCE: HmipCategory.QUALITY_ASSURANCE,
    OversightType.REVIEW: HmipCategory.THROUGH_SUPERVISION,
}

#: Types that count as a response to a risk event (responsiveness measure).
RESPONSIVE_TYPES: frozenset[OversightType] = frozenset(
    {OversightType.RISK, OversightType.ENFORCEMENT}
)


class CodeRole(StrEnum):
    """What a contact type code tells us about oversight."""

    OVERSIGHT = "oversight"  # a management-oversight type: the contact is oversight
    CASE_DISCUSSION = "case_discussion"  # often holds oversight; the text decides
    OTHER = "other"  # ordinary casework; oversight only if the text says so
    SYSTEM = "system"  # written by the system: never oversight


@dataclass(frozen=True, slots=True)
class ContactType:
    code: str
    description: str
    role: CodeRole
    #: true oversight types typically filed under this code (empty when not oversight)
    typical: tuple[OversightType, ...] = ()
    #: catch-all codes are used for several true types ("multiple uses")
    catch_all: bool = False


_T = OversightType

#: nDelius contact types of domain.md section 2 (oversight and case discussion codes are from
#: public Ministry of Justice code; the ordinary and system codes are illustrative).
CONTACT_TYPES: dict[str, ContactType] = {
    ct.code: ct
    for ct in (
        ContactType("C002", "Management Oversight", CodeRole.OVERSIGHT, tuple(_T), True),
        ContactType("MO1", "Management Oversight - General", CodeRole.OVERSIGHT, tuple(_T), True),
        ContactType("MO2", "MO2 - Lifer/IPP Panel", CodeRole.OVERSIGHT, (_T.REVIEW,)),
        ContactType("MO3", "MO3 - MAPPA", CodeRole.OVERSIGHT, (_T.REVIEW, _T.RISK)),
        ContactType("MO5", "MO5 - Recall", CodeRole.OVERSIGHT, (_T.ENFORCEMENT,)),
        ContactType("MO8", "MO8 - HVRA", CodeRole.OVERSIGHT, (_T.ASSURANCE,)),
        ContactType(
            "SPOD03", "Case Allocation: SPO Oversight", CodeRole.OVERSIGHT, (_T.ALLOCATION,)
        ),
        ContactType("SPOD02", "Recall Discussion SPO/OM", CodeRole.OVERSIGHT, (_T.ENFORCEMENT,)),
        ContactType("C416", "High Risk Review Meeting", CodeRole.OVERSIGHT, (_T.REVIEW,)),
        ContactType("LRP1", "Lifer Review Panel", CodeRole.OVERSIGHT, (_T.REVIEW,)),
        ContactType(
            "CSPO",
            "Consultation with Manager",
            CodeRole.CASE_DISCUSSION,
            (_T.RISK, _T.SUPERVISION, _T.ENFORCEMENT),
        ),
        ContactType("RROD", "Risk Review Discussion", CodeRole.CASE_DISCUSSION, (_T.RISK,)),
        ContactType(
            "CRCO", "Case Reviewed by Case Manager", CodeRole.CASE_DISCUSSION, (_T.SUPERVISION,)
        ),
        ContactType("C238", "Case Discussion", CodeRole.CASE_DISCUSSION, (_T.SUPERVISION, _T.RISK)),
        # Ordinary casework (illustrative codes used by the synthetic export).
        ContactType("COAP", "Planned Office Visit (NS)", CodeRole.OTHER),
        ContactType("CHVS", "Home Visit to Case (NS)", CodeRole.OTHER),
        ContactType("CTOA", "Phone Contact from Person on Probation", CodeRole.OTHER),
        ContactType("CTOB", "Phone Contact to Person on Probation", CodeRole.OTHER),
        ContactType("CVID", "Video Contact", CodeRole.OTHER),
        ContactType("CPOL", "Information from Police", CodeRole.OTHER),
        ContactType("CSOC", "Contact with Children's Social Care", CodeRole.OTHER),
        ContactType("CHOU", "Accommodation Information", CodeRole.OTHER),
        ContactType("CDTR", "Drug Test Result", CodeRole.OTHER),
        ContactType("AWLI", "Enforcement - Warning Letter Issued", CodeRole.OTHER),
        ContactType("ABRE", "Enforcement - Breach Action Initiated", CodeRole.OTHER),
        ContactType("COAS", "OASys Assessment Completed", CodeRole.OTHER),
        ContactType("COTH", "Other Contact", CodeRole.OTHER),
        ContactType("CUPW", "Unpaid Work Session", CodeRole.OTHER),
        # System-written contacts are never oversight.
        ContactType("ETIE", "Tier Change", CodeRole.SYSTEM),
        ContactType("ETRA", "Transfer Request Accepted", CodeRole.SYSTEM),
        ContactType("ERGA", "Registration Added", CodeRole.SYSTEM),
        ContactType("EOAL", "Offender Manager Allocated", CodeRole.SYSTEM),
    )
}

#: Codes whose contacts are management oversight by their code alone.
OVERSIGHT_CODES: frozenset[str] = frozenset(
    c for c, ct in CONTACT_TYPES.items() if ct.role is CodeRole.OVERSIGHT
)
#: Case-discussion codes that often hold oversight; the text decides.
CASE_DISCUSSION_CODES: frozenset[str] = frozenset(
    c for c, ct in CONTACT_TYPES.items() if ct.role is CodeRole.CASE_DISCUSSION
)
#: The catch-all codes whose share the mix measure reports.
CATCH_ALL_CODES: frozenset[str] = frozenset(c for c, ct in CONTACT_TYPES.items() if ct.catch_all)
SYSTEM_CODES: frozenset[str] = frozenset(
    c for c, ct in CONTACT_TYPES.items() if ct.role is CodeRole.SYSTEM
)


@dataclass(frozen=True, slots=True)
class Outcome:
    code: str
    description: str


#: Management-oversight outcomes (domain.md section 2) and a few ordinary outcomes.
OUTCOMES: dict[str, Outcome] = {
    o.code: o
    for o in (
        Outcome("MO1", "Follow-up Action Required"),
        Outcome("MO28", "Follow-up Action Completed"),
        Outcome("MO3", "Management Oversight Decision"),
        Outcome("MO27", "PP recommendation endorsed"),
        Outcome("MO10", "Decision to Recall"),
        Outcome("MO11", "Decision not to Recall"),
        Outcome("MO12", "Home Visit Not Undertaken"),
        Outcome("MO13", "Delay of home visit"),
        Outcome("MO23", "Home Visit Approved"),
        Outcome("MO24", "Home Visit Not Approved"),
        Outcome("MO25", "Home Visit Exempted"),
        Outcome("MO26", "Home Visit - Referred for SPO Decision"),
        # Ordinary appointment outcomes (illustrative).
        Outcome("ATTC", "Attended - Complied"),
        Outcome("AFTA", "Failed to Attend"),
        Outcome("AACL", "Acceptable Absence"),
        Outcome("RSSR", "Rescheduled - Service Request"),
    )
}

MO_OUTCOME_CODES: frozenset[str] = frozenset(c for c in OUTCOMES if c.startswith("MO"))


def is_oversight_code(code: str | None) -> bool:
    """True when a contact type code marks management oversight by itself."""
    return code is not None and code.strip().upper() in OVERSIGHT_CODES


def hmip_category(oversight_type: str | OversightType) -> HmipCategory:
    """The HMIP category an oversight type is judged under."""
    return HMIP_CATEGORY[OversightType(oversight_type)]
