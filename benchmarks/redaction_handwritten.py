"""Redaction on hand-written notes that the rules' authors never saw (issue 12).

The set lives in ``benchmarks/redaction/handwritten/part-*.jsonl``: one case per line, notes with
inline truth ``[[KIND:text]]``, written by helpers briefed with ``shared/domain.md`` and a list
of styles only (never ``pipeline/synth`` or the rule files). Parts 1-2 are the *development*
half (misses may be read to find what kind of rule is missing); parts 3-4 are the *held-out*
half, reported as counts only and never read for misses. The headline is the held-out half.

The export is written as a CSV the way Excel saves it and read back by the real ingest step; the
text is redacted the way ``oversight prepare`` does it (the export-wide name pass included), and
each planted identifier counts as redacted when every non-space character of it lies inside a
predicted span (of any kind). Domain words (probation abbreviations, weekdays, months, listed
here from domain.md, not from the rule files) count as destroyed when a predicted span touches
them outside any planted identifier.

    python benchmarks/redaction_handwritten.py              # both halves, per kind and style
    python benchmarks/redaction_handwritten.py --misses dev # list the development half's misses
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SET_DIR = ROOT / "benchmarks" / "redaction" / "handwritten"
HALVES = {"dev": ("part-1", "part-2"), "heldout": ("part-3", "part-4")}
KINDS = ("PERSON", "CRN", "PNC", "NI_NUMBER", "DOB", "PHONE", "EMAIL", "ADDRESS", "POSTCODE")
MARK = re.compile(r"\[\[(" + "|".join(KINDS) + r"):(.+?)\]\]", re.S)

#: Ordinary words of the trade that must survive redaction (from domain.md, sections 2-3).
DOMAIN_WORDS = (
    "SPO PP PO PSO PQiP RoSH OASys MAPPA MARAC DA CP CSC IOM AP UPW RAR ETE HDC PSR OM POP NFA "
    "HVRA AQA RCAT SBAR SFO TPM RPSS Tier Situation Background Assessment Recommendation "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May "
    "June July August September October November December Crown Court Magistrates Police "
    "Probation Licence Recall Breach Countersign Countersigned Endorsed Agreed Noted"
).split()
_DOMAIN_RE = re.compile(r"(?<![A-Za-z])(" + "|".join(map(re.escape, DOMAIN_WORDS)) + r")(?![A-Za-z])")

EXPORT_COLUMNS = (
    "contact_id crn pop_forename pop_surname contact_date contact_start_time contact_type_code "
    "contact_type_description outcome_code outcome_description notes sensitive system_generated "
    "region pdu team staff_name staff_grade created_by created_datetime tier rosh_level "
    "mappa_level mappa_category sentence_type"
).split()


def parse_markup(marked: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Plain text and gold spans from a note with ``[[KIND:text]]`` marks."""
    out: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos = length = 0
    for m in MARK.finditer(marked):
        before = marked[pos : m.start()]
        out.append(before)
        length += len(before)
        value = m.group(2)
        spans.append((length, length + len(value), m.group(1)))
        out.append(value)
        length += len(value)
        pos = m.end()
    out.append(marked[pos:])
    text = "".join(out)
    if "[[" in text or "]]" in text:
        raise ValueError("unbalanced or unknown [[KIND:...]] mark")
    return text, spans


def load_cases(parts: tuple[str, ...]) -> list[dict]:
    """Contacts of the named parts as export rows, each with ``gold`` spans and ``styles``."""
    rows: list[dict] = []
    for part in parts:
        path = SET_DIR / f"{part}.jsonl"
        if not path.exists():
            continue
        for c, line in enumerate(path.read_text("utf-8").splitlines()):
            if not line.strip():
                continue
            case = json.loads(line)
            for k, contact in enumerate(case["contacts"]):
                text, gold = parse_markup(contact["notes"])
                created = contact.get("created_by") or contact.get("staff_name")
                rows.append(
                    {
                        "contact_id": f"{part[-1]}{c:03d}{k:03d}{len(rows):05d}",
                        "crn": case["crn"],
                        "pop_forename": case.get("pop_forename"),
                        "pop_surname": case.get("pop_surname"),
                        "contact_date": contact["date"],
                        "contact_start_time": contact.get("time", "10:00"),
                        "contact_type_code": contact["type_code"],
                        "contact_type_description": contact.get("type_description"),
                        "outcome_code": contact.get("outcome_code"),
                        "outcome_description": contact.get("outcome_description"),
                        "notes": text,
                        "sensitive": "N",
                        "system_generated": "N",
                        "region": case.get("region"),
                        "pdu": case.get("pdu"),
                        "team": case.get("team"),
                        "staff_name": contact.get("staff_name"),
                        "staff_grade": contact.get("staff_grade"),
                        "created_by": created,
                        "created_datetime": f"{contact['date']}T{contact.get('time', '10:00')}:00",
                        "tier": case.get("tier"),
                        "rosh_level": case.get("rosh_level"),
                        "mappa_level": case.get("mappa_level"),
                        "mappa_category": case.get("mappa_category"),
                        "sentence_type": case.get("sentence_type"),
                        "_gold": gold,
                        "_styles": contact.get("styles") or ["unlabelled"],
                        "_part": part,
                    }
                )
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    """The rows as Excel saves a CSV: UTF-8 with BOM, CRLF, quoted multi-line fields."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(EXPORT_COLUMNS)
        for r in rows:
            w.writerow(["" if r.get(c) is None else r[c] for c in EXPORT_COLUMNS])


def predicted_spans(rows: list[dict], csv_path: Path) -> list[list[tuple[int, int, str]]]:
    """Spans the prepare path finds in each row's notes (export read back from the CSV)."""
    from pipeline.prepare import redaction_spans

    return redaction_spans(csv_path)


def _covered(s: int, e: int, pred: list[tuple[int, int, str]], text: str) -> bool:
    return all(
        text[i].isspace() or any(ps <= i < pe for ps, pe, _ in pred) for i in range(s, e)
    )


def score(rows: list[dict], preds: dict[str, list[tuple[int, int, str]]]) -> dict:
    kinds: dict[str, Counter] = defaultdict(Counter)
    styles: dict[str, Counter] = defaultdict(Counter)
    domain = Counter()
    misses: list[dict] = []
    for r in rows:
        text, gold, pred = r["notes"], r["_gold"], preds.get(r["contact_id"], [])
        for s, e, k in gold:
            hit = _covered(s, e, pred, text)
            kinds[k]["gold"] += 1
            kinds[k]["caught"] += hit
            for st in r["_styles"]:
                styles[st]["gold"] += 1
                styles[st]["caught"] += hit
            if not hit:
                misses.append({"kind": k, "part": r["_part"], "contact_id": r["contact_id"],
                               "value": text[s:e], "context": text[max(0, s - 50) : e + 30]})
        for m in _DOMAIN_RE.finditer(text):
            if any(gs < m.end() and m.start() < ge for gs, ge, _ in gold):
                continue
            domain["words"] += 1
            domain["destroyed"] += any(ps < m.end() and m.start() < pe for ps, pe, _ in pred)
    total = Counter()
    for c in kinds.values():
        total.update(c)

    def rate(c: Counter) -> dict:
        return {"gold": c["gold"], "recall": round(c["caught"] / c["gold"], 4) if c["gold"] else None}

    return {
        "notes": len(rows),
        "identifiers": total["gold"],
        "recall_all": rate(total),
        "by_kind": {k: rate(kinds[k]) for k in KINDS if kinds[k]["gold"]},
        "by_style": {k: rate(styles[k]) for k in sorted(styles)},
        "domain_words": domain["words"],
        "domain_destroyed_share": round(domain["destroyed"] / domain["words"], 4)
        if domain["words"]
        else None,
        "_misses": misses,
    }


def run(halves: list[str]) -> dict:
    from pipeline.prepare import redaction_spans

    results = {}
    for half in halves:
        rows = load_cases(HALVES[half])
        if not rows:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "export.csv"
            write_csv(rows, path)
            start = time.perf_counter()
            preds = redaction_spans(path)
            seconds = time.perf_counter() - start
        results[half] = score(rows, preds) | {"seconds": round(seconds, 2)}
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--misses", choices=["dev"], help="print the development half's misses")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    results = run(["heldout", "dev"])
    if args.misses:
        for m in results.get("dev", {}).get("_misses", []):
            print(f"{m['kind']:9} {m['value']!r:28} ... {m['context']!r}")
        return 0
    for r in results.values():
        r.pop("_misses", None)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for half, r in results.items():
        print(f"\n== {half}: {r['notes']} notes, {r['identifiers']} identifiers, "
              f"recall {r['recall_all']['recall']}, domain words destroyed "
              f"{r['domain_destroyed_share']} of {r['domain_words']} ({r['seconds']} s)")
        print("  by kind:  " + ", ".join(f"{k} {v['recall']} ({v['gold']})" for k, v in r["by_kind"].items()))
        print("  by style: " + ", ".join(f"{k} {v['recall']} ({v['gold']})" for k, v in r["by_style"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
