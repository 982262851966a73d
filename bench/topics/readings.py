"""From readers' labels to the labelled set: agreement, further readings, final labels.

Usage::

    python -m bench.topics.readings collect LABEL_DIR     # reader files -> topics_readings.jsonl
    python -m bench.topics.readings add LABEL_DIR         # a later round's files, appended
    python -m bench.topics.readings next OUT_DIR --round N  # who reads what next (ids, readers)
    python -m bench.topics.readings build                  # readings + draw -> topics_labels.jsonl
    python -m bench.topics.readings kappa                   # Cohen's kappa per topic

Every article is read once; a drawn subset and every article a reader called a hard call are
read a second time by another reader; where two readings disagree on a topic a third reader
decides by majority. An article still debatable after the third reading (the third reader
calls it a hard call) is kept, marked ``debatable``, and left out of every score. A
re-reading round (:data:`REREAD_ROUND`: two fresh readers for chosen train and validation
articles) decides by the majority of all of an article's readings, a tie leaving it debatable.
Labels come only from the readers' files: nothing here looks at an article's text.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
READINGS = DATA / "topics_readings.jsonl"
LABELS = DATA / "topics_labels.jsonl"
DRAW = DATA / "topics_draw.jsonl"
TOPICS = ("air_defence", "ceasefire", "coalition")
_BATCH = re.compile(r"^(r\d+)_(?:x(\d+)_)?b\d+$")
#: Round 4 (2026-12-08): the debatable articles of train and validation and those where
#: coalition was a hard call or disputed, read again by two readers new to them.
REREAD_ROUND = 4


@dataclass(frozen=True, slots=True)
class Reading:
    id: str
    reader: str
    round: int
    labels: frozenset[str]
    note: str

    @property
    def hard(self) -> bool:
        return self.note.lower().lstrip().startswith("hard call")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reader": self.reader,
            "round": self.round,
            "labels": sorted(self.labels),
            "note": self.note,
        }


def reading_from_json(record: Mapping[str, Any]) -> Reading:
    return Reading(
        str(record["id"]),
        str(record["reader"]),
        int(record["round"]),
        frozenset(record["labels"]),
        str(record.get("note", "")),
    )


def load_readings(path: Path = READINGS) -> list[Reading]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [reading_from_json(json.loads(line)) for line in lines if line.strip()]


def collect(label_dir: Path) -> list[Reading]:
    """Every reading in a folder of reader files named ``rN_bMM.jsonl``/``rN_xK_bMM.jsonl``."""
    found = []
    for path in sorted(label_dir.glob("*.jsonl")):
        match = _BATCH.match(path.stem)
        if not match:
            raise SystemExit(f"{path}: not a reader file name (rN_bMM or rN_xK_bMM)")
        reader, round_ = match.group(1), int(match.group(2) or 1)
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                labels = frozenset(t for t in TOPICS if r[t] is True)
                found.append(Reading(str(r["id"]), reader, round_, labels, r.get("note") or ""))
    return found


def by_article(readings: Iterable[Reading]) -> dict[str, list[Reading]]:
    grouped: dict[str, list[Reading]] = defaultdict(list)
    for r in sorted(readings, key=lambda r: (r.round, r.reader)):
        grouped[r.id].append(r)
    return dict(grouped)


def disputed(first: Reading, second: Reading) -> bool:
    return first.labels != second.labels


def next_readings(grouped: Mapping[str, list[Reading]], readers: Sequence[str]) -> dict[str, str]:
    """Which article needs which further reader: a hard call read once gets a second
    reading, two disagreeing readings a third; never a reader who read it already."""
    wanted: dict[str, str] = {}
    load: Counter[str] = Counter()
    rng = random.Random(11)
    for article_id, rs in sorted(grouped.items()):
        need = (len(rs) == 1 and rs[0].hard) or (len(rs) == 2 and disputed(rs[0], rs[1]))
        if not need:
            continue
        done = {r.reader for r in rs}
        free = [r for r in readers if r not in done]
        rng.shuffle(free)
        choice = min(free, key=lambda r: load[r])
        wanted[article_id] = choice
        load[choice] += 1
    return wanted


@dataclass(frozen=True, slots=True)
class Decision:
    labels: frozenset[str]
    debatable: bool
    note: str
    readers: int


def decide(rs: Sequence[Reading]) -> Decision:
    """Majority per topic over the readings; debatable when a dispute's decider was unsure,
    or, after a re-reading, when the readings tie on a topic."""
    votes = {t: sum(t in r.labels for r in rs) for t in TOPICS}
    majority = frozenset(t for t, v in votes.items() if v * 2 > len(rs))
    if any(r.round >= REREAD_ROUND for r in rs):
        labels = majority
        debatable = any(v * 2 == len(rs) for v in votes.values())
    else:
        unsettled = len(rs) == 2 and disputed(rs[0], rs[1])
        labels = rs[0].labels if len(rs) == 1 or unsettled else majority
        unsure_decider = len(rs) >= 3 and rs[2].hard
        lone_hard_call = len(rs) == 1 and rs[0].hard
        debatable = unsettled or unsure_decider or lone_hard_call
    agreeing = [r for r in rs if r.labels == labels and r.note]
    note = (agreeing or [r for r in rs if r.note] or [rs[0]])[0].note
    return Decision(labels, debatable, note, len(rs))


def cohen_kappa(pairs: Sequence[tuple[bool, bool]]) -> float:
    """Cohen's kappa of two readings of the same items for one yes/no label."""
    n = len(pairs)
    if not n:
        return float("nan")
    observed = sum(a == b for a, b in pairs) / n
    p_a = sum(a for a, _ in pairs) / n
    p_b = sum(b for _, b in pairs) / n
    expected = p_a * p_b + (1 - p_a) * (1 - p_b)
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0


def kappa_table(grouped: Mapping[str, list[Reading]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per topic, kappa of the first two readings: over the drawn double sample (both in
    round one) and over every article read twice or more (hard calls included); and of the
    two readings of the re-reading round over the articles it read."""
    groups = {
        "double_sample": [rs[:2] for rs in grouped.values() if [r.round for r in rs[:2]] == [1, 1]],
        "all_double_read": [rs[:2] for rs in grouped.values() if len(rs) >= 2],
        "reread": [
            [r for r in rs if r.round == REREAD_ROUND][:2]
            for rs in grouped.values()
            if sum(r.round == REREAD_ROUND for r in rs) >= 2
        ],
    }
    table: dict[str, dict[str, dict[str, float]]] = {}
    for name, doubles in groups.items():
        table[name] = {}
        for topic in TOPICS:
            pairs = [(topic in a.labels, topic in b.labels) for a, b in doubles]
            table[name][topic] = {
                "items": len(pairs),
                "agree": sum(x == y for x, y in pairs),
                "positive_either": sum(x or y for x, y in pairs),
                "kappa": round(cohen_kappa(pairs), 3),
            }
    return table


def _write_readings(readings: Iterable[Reading]) -> None:
    with READINGS.open("w", encoding="utf-8") as out:
        for r in sorted(readings, key=lambda r: (r.id, r.round, r.reader)):
            out.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("label_dir", type=Path)
    a = sub.add_parser("add")
    a.add_argument("label_dir", type=Path)
    n = sub.add_parser("next")
    n.add_argument("out", type=Path)
    n.add_argument("--readers", default="r0,r1,r2,r3,r4,r5,r6,r7")
    sub.add_parser("kappa")
    args = parser.parse_args(argv)
    if args.command == "collect":
        readings = collect(args.label_dir)
        _write_readings(readings)
        print(f"{len(readings)} readings of {len({r.id for r in readings})} articles -> {READINGS}")
    elif args.command == "add":
        known = load_readings()
        seen = {(r.id, r.reader, r.round) for r in known}
        added = [r for r in collect(args.label_dir) if (r.id, r.reader, r.round) not in seen]
        _write_readings(known + added)
        print(f"{len(added)} readings added -> {READINGS} ({len(known) + len(added)} in all)")
    elif args.command == "next":
        wanted = next_readings(by_article(load_readings()), args.readers.split(","))
        args.out.write_text(json.dumps(wanted, indent=1) + "\n", encoding="utf-8")
        print(f"{len(wanted)} further readings -> {args.out}: {Counter(wanted.values())}")
    else:
        print(json.dumps(kappa_table(by_article(load_readings())), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
