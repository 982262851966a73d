"""What analysts' verdicts say about each rule: its precision as judged on the desk.

A rule's precision is the share of its judged alerts that were judged relevant: each
user's latest verdict on an alert counts once ("relevant" for, "not_relevant" against);
"wrong_topic" and "missed_topic" judge the topic tags, not the rule, and do not count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RuleJudgement:
    watchlist: str
    rule: str
    relevant: int
    not_relevant: int

    @property
    def precision(self) -> float:
        return self.relevant / (self.relevant + self.not_relevant)


def judgements(latest: Iterable[Mapping[str, Any]]) -> list[RuleJudgement]:
    """Per rule (watchlist, rule id), the counts of verdicts for and against it, from the
    latest record of each (alert, user); rules without such a verdict are left out."""
    counts: dict[tuple[str, str], list[int]] = {}
    for record in latest:
        verdict = record["verdict"]
        if verdict not in ("relevant", "not_relevant"):
            continue
        rule = record["rule"]
        pair = counts.setdefault((rule["watchlist"], rule["id"]), [0, 0])
        pair[verdict == "not_relevant"] += 1
    return [RuleJudgement(w, r, yes, no) for (w, r), (yes, no) in sorted(counts.items())]


def topic_readings(
    latest: Iterable[Mapping[str, Any]], alerts: Mapping[str, Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """The topic verdicts as readings in the labelled data's format (``{id, reader, round,
    labels, note}``, tests/data/README.md), and how many had no alert to read from.

    The analyst judged the topics the alert showed: "wrong_topic X" takes X from them,
    "missed_topic X" adds X; the other topics shown stand. Relevance verdicts judge the
    rule, not the topics, and give no reading.
    """
    readings, orphans = [], 0
    for record in latest:
        verdict, topic = record["verdict"], record.get("topic")
        if verdict not in ("wrong_topic", "missed_topic") or not topic:
            continue
        alert = alerts.get(record["alert_id"])
        if alert is None:
            orphans += 1
            continue
        shown = {t["name"] for t in alert.get("topics", ())}
        labels = shown - {topic} if verdict == "wrong_topic" else shown | {topic}
        note = f"{verdict.replace('_', ' ')}: {topic}" + (
            f"; {record['note']}" if record.get("note") else ""
        )
        readings.append(
            {
                "id": alert["article"]["id"],
                "reader": f"desk:{record['user']}",
                "round": "desk",
                "labels": sorted(labels),
                "note": note,
                "alert_id": record["alert_id"],
                "at": record["at"],
            }
        )
    readings.sort(key=lambda r: (r["at"], r["id"]))
    return readings, orphans
