"""The Delius contact-history JSON shape, flattened onto our export columns.

One document is one case: ``personalDetails`` (name, date of birth, identifiers) and a
``contacts`` list, with case fields (tier, RoSH, MAPPA, sentence type) optionally at the top
level. A file may also hold a list of such documents. Every key is treated as optional because
exports from different Delius versions and API consumers leave different ones out; a contact
that lacks a required value is quarantined by validation, not rejected here. Reference-data
fields may come as a plain string or as ``{"code", "description"}``, and both are accepted.

A contact's free-text ``description`` has no column of ours and is not carried.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pipeline.ingest.chunks import to_text

Row = dict[str, str | None]


def _get(obj: Any, *keys: str) -> Any:
    """obj[k1][k2]..., or None as soon as a level is missing or not an object."""
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _label(value: Any, *prefer: str) -> str | None:
    """Text of a reference-data value: a string as is, an object by its preferred keys."""
    if isinstance(value, Mapping):
        for key in prefer:
            if value.get(key) not in (None, ""):
                return to_text(value[key])
        return None
    return to_text(value)


def _person(value: Any) -> str | None:
    """A person's name from "Jane Doe", {"name": ...} or {"forename", "surname"}."""
    if isinstance(value, Mapping):
        if value.get("name") is not None:
            return _person(value["name"])
        parts = [to_text(value.get(k)) for k in ("forename", "middleName", "surname")]
        return " ".join(p for p in parts if p) or None
    return to_text(value)


def case_fields(case: Mapping[str, Any]) -> Row:
    """The case-level columns denormalised onto every contact of the case."""
    details = case.get("personalDetails")
    crn = _get(details, "identifiers", "crn")
    if crn is None:
        crn = case.get("crn")  # some consumers lift identifiers to the top level
    return {
        "crn": to_text(crn),
        "pop_forename": to_text(_get(details, "name", "forename")),
        "pop_surname": to_text(_get(details, "name", "surname")),
        "tier": _label(case.get("tier"), "code", "description"),
        "rosh_level": _label(case.get("rosh"), "level", "description", "code"),
        "mappa_level": _label(_get(case, "mappa", "level"), "code", "description"),
        "mappa_category": _label(_get(case, "mappa", "category"), "code", "description"),
        "sentence_type": _label(case.get("sentenceType"), "description", "code"),
    }


def contact_fields(contact: Mapping[str, Any]) -> Row:
    """One contact's own columns.

    ``startDateTime`` goes into ``contact_date`` whole; validation splits it into the date and
    the HH:MM start time, so a malformed value is quarantined by the same rule as in a CSV.
    """
    start = contact.get("startDateTime")
    if start is None and contact.get("date") is not None:
        start = " ".join(str(p) for p in (contact["date"], contact.get("startTime")) if p)
    contact_id = contact.get("id", contact.get("contactId"))
    staff = contact.get("staff")
    return {
        "contact_id": to_text(contact_id),
        "contact_date": to_text(start),
        "contact_type_code": to_text(_get(contact, "type", "code")),
        "contact_type_description": to_text(_get(contact, "type", "description")),
        "outcome_code": to_text(_get(contact, "outcome", "code")),
        "outcome_description": to_text(_get(contact, "outcome", "description")),
        "notes": to_text(contact.get("notes")),
        "sensitive": to_text(contact.get("sensitive")),
        "system_generated": to_text(_get(contact, "type", "systemGenerated")),
        "region": _label(contact.get("provider"), "description", "name", "code"),
        "pdu": _label(contact.get("pdu"), "description", "name", "code"),
        "team": _label(contact.get("team"), "description", "name", "code"),
        "staff_name": _person(staff),
        "staff_grade": _label(_get(staff, "grade"), "code", "description"),
        "created_by": _person(contact.get("createdBy")),
        "created_datetime": to_text(contact.get("createdDateTime")),
    }


def cases_of(document: Any) -> list[Mapping[str, Any]] | None:
    """The case documents in a parsed file (one object, or a list of them); None if neither."""
    if isinstance(document, Mapping):
        return [document]
    if isinstance(document, list) and all(isinstance(d, Mapping) for d in document):
        return list(document)
    return None


def iter_contacts(cases: list[Mapping[str, Any]]) -> Iterator[tuple[int, Row, bool]]:
    """(index, row, ok) per contact, the index 1-based across the file.

    ``ok`` is False for a contact that is not a JSON object; its row then holds the case fields
    only, so the quarantine row still says whose case it was.

    Raises ValueError when ``contacts`` is present but not a list: the file's shape is wrong.
    """
    index = 0
    for case in cases:
        contacts = case.get("contacts") or []
        if not isinstance(contacts, list):
            raise ValueError("'contacts' is not a list")
        shared = case_fields(case)
        for contact in contacts:
            index += 1
            if isinstance(contact, Mapping):
                yield index, {**shared, **contact_fields(contact)}, True
            else:
                yield index, dict(shared), False
