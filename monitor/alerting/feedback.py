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
