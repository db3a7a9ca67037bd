"""Small hand-made scored tables and exports where every measure's right answer is known."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from pipeline.measure.tables import EXPORT_NEEDED, SCORED_NEEDED

DAY0 = date(2024, 1, 1)


def day(n: int) -> str:
    return (DAY0 + timedelta(days=n)).isoformat()


class Book:
    """Builds a scored table and the export it came from, contact by contact."""

    def __init__(self) -> None:
        self.contacts: list[dict] = []
        self.entries: list[dict] = []

    def case(
        self,
        crn: str,
        *,
        region: str = "North",
        pdu: str = "P1",
        team: str = "T1",
        rosh: str = "Medium",
        sentence: str = "Community Order",
        start: int = 0,
        end: int = 100,
    ) -> Case:
        c = Case(self, crn, dict(region=region, pdu=pdu, team=team, rosh_level=rosh), sentence)
        c.contact("EOAL", start)
        c.contact("COAP", end)
        return c

    def scored(self) -> pd.DataFrame:
        return pd.DataFrame(self.entries, columns=list(SCORED_NEEDED))

    def export(self) -> pd.DataFrame:
        return pd.DataFrame(self.contacts, columns=list(EXPORT_NEEDED))


class Case:
    def __init__(self, book: Book, crn: str, attrs: dict, sentence: str) -> None:
        self.book, self.crn, self.attrs, self.sentence = book, crn, attrs, sentence

    def contact(self, code: str, when: int) -> str:
        cid = str(len(self.book.contacts) + 1)
        self.book.contacts.append(
            {
                "contact_id": cid,
                "crn": self.crn,
                "contact_date": day(when),
                "contact_type_code": code,
                "sentence_type": self.sentence,
                **self.attrs,
            }
        )
        return cid

    def entry(
        self,
        when: int,
        *,
        otype: str = "supervision",
        content: str = "defensive",
        initiated_by: str = "spo",
        code: str = "CRCO",
    ) -> Case:
        cid = self.contact(code, when)
        self.book.entries.append(
            {
                "contact_id": cid,
                "crn": self.crn,
                "contact_date": day(when),
                "contact_type_code": code,
                "initiated_by": initiated_by,
                "oversight_type": otype,
                "content": content,
                **self.attrs,
            }
        )
        return self
