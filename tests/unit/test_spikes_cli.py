"""`newsmon spikes backtest` end to end on a small dated feed: the stream's tagger, the
detector, a planted burst reported with its story, and the shuffled-dates null."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.integration.processes import run_newsmon

ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")},
    "NEWSMON_SPACY_MODEL": "blank",
    "NEWSMON_NER": "false",
}
FILLER = [
    "Farmers report a good harvest in the valley",
    "The council debates the new budget for schools",
    "A new bridge opens to traffic in the capital",
    "Inflation eased slightly last month, figures show",
]


def _feed(tmp_path: Path) -> Path:
    start = datetime(2022, 3, 1, tzinfo=UTC)
    lines = []
    for day in range(20):
        for i in range(40):
            title = f"{FILLER[i % len(FILLER)]} (day {day}, item {i})"
            if i == 0:  # one ordinary ceasefire story a day
                title = f"Talks on a ceasefire continue in Geneva (day {day})"
            lines.append(
                {
                    "id": f"d{day}-{i}",
                    "title": title,
                    "published": (start + timedelta(days=day)).isoformat(),
                }
            )
    for i in range(25):  # day 15: a ceasefire is agreed, told by 25 wires
        lines.append(
            {
                "id": f"burst-{i}",
                "title": "Russia and Ukraine agree a ceasefire and a truce from midnight",
                "published": (start + timedelta(days=15, hours=3)).isoformat(),
            }
        )
    path = tmp_path / "dated.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_a_planted_burst_is_listed_with_its_story(tmp_path: Path) -> None:
    feed = _feed(tmp_path)
    found = run_newsmon(ENV, "spikes", "backtest", "--against", str(feed), "--json")
    assert found.returncode == 0, found.stderr
    spikes = [json.loads(line) for line in found.stdout.splitlines()]
    assert [(s["window"], s["kind"], s["name"]) for s in spikes] == [
        ("2022-03-16", "topic", "ceasefire")
    ]
    [spike] = spikes
    assert spike["observed"] >= 25
    assert spike["stories"][0]["articles"] == 25
    assert spike["stories"][0]["title"].startswith("Russia and Ukraine agree a ceasefire")
    assert "1 spikes in 20 windows of 1d over 825 dated articles" in " ".join(found.stderr.split())
    null = run_newsmon(
        ENV, "spikes", "backtest", "--against", str(feed), "--json", "--shuffle-dates", "1"
    )
    assert null.returncode == 0, null.stderr
    assert null.stdout == ""


def test_a_bad_window_is_a_usage_error(tmp_path: Path) -> None:
    done = run_newsmon(
        ENV, "spikes", "backtest", "--against", str(_feed(tmp_path)), "--window", "soon"
    )
    assert done.returncode == 2
    assert done.stderr.startswith("newsmon: ")
    assert "Traceback" not in done.stderr
