"""Spikes in the stream, on the real broker: a dated feed replayed faster than real time
(`newsmon replay --speedup`) with a burst of one watchlist's matches in one window raises
exactly one spike alert, for that window, on news.alerts and the watchlist's route; the
last window closes on the worker's ticks after the feed has ended."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.integration.processes import (
    kcat_read,
    quick_env,
    run_newsmon,
    running_worker,
    wait_for,
)

pytestmark = pytest.mark.broker
WINDOW, PER_WINDOW, WINDOWS, BURST = 10, 12, 6, 4
RULES = """\
watchlists:
  - name: burst
    rules:
      - id: marker
        query: '"burst marker"'
"""
_NEUTRAL = [
    "market",
    "harvest",
    "river",
    "school",
    "bridge",
    "weather",
    "railway",
    "village",
    "tunnel",
    "valley",
    "station",
    "festival",
    "museum",
    "garden",
    "library",
    "bakery",
    "orchard",
    "meadow",
    "stadium",
    "theatre",
    "harbour",
    "ferry",
]


def _feed(path: Path, start: float) -> list[dict[str, Any]]:
    """WINDOWS windows of PER_WINDOW dated articles; one in each matches the rule, eight in
    window BURST."""
    rng, records = random.Random(7), []
    for w in range(WINDOWS):
        for i in range(PER_WINDOW):
            words = [rng.choice(_NEUTRAL) for _ in range(50)]
            if i < (8 if w == BURST else 1):
                words.insert(rng.randrange(50), "burst marker")
            published = start + w * WINDOW + i * WINDOW / PER_WINDOW
            records.append(
                {
                    "id": f"w{w}-{i}",
                    "title": " ".join(words[:6]),
                    "body": " ".join(words).capitalize() + ".",
                    "source": "wire",
                    "published_at": datetime.fromtimestamp(published, UTC).isoformat(),
                }
            )
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return records


def _spikes(bootstrap: str, topic: str) -> list[dict[str, Any]] | None:
    found = [json.loads(v) for v in kcat_read(bootstrap, topic)]
    spikes = [a for a in found if a.get("kind") == "spike"]
    return spikes or None


def test_a_burst_in_a_replayed_feed_raises_one_spike_for_its_window(
    bootstrap: str, tmp_path: Path, alert_schema: Any
) -> None:
    prefix = f"spikes{free_port()}."
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    env = quick_env(
        bootstrap,
        prefix,
        rules,
        NEWSMON_SPIKE_WINDOW=str(WINDOW),
        NEWSMON_SPIKE_LATENESS="2",
        NEWSMON_SPIKE_WARMUP="3",
        NEWSMON_SPIKE_MIN_COUNT="3",
    )
    start = time.time() - 3600  # an hour ago: the feed's own clock runs 4 times faster
    start -= start % WINDOW
    feed = _feed(tmp_path / "feed.jsonl", start)
    with running_worker(env, free_port(), tmp_path) as worker:
        replayed = run_newsmon(worker.env, "replay", str(tmp_path / "feed.jsonl"), "--speedup", "4")
        assert replayed.returncode == 0, replayed.stderr
        spikes = wait_for(partial(_spikes, bootstrap, f"{prefix}news.alerts"), 60, "a spike alert")
        time.sleep(2 * WINDOW / 4 + 5)  # later windows close too: none may spike
        spikes = _spikes(bootstrap, f"{prefix}news.alerts") or []
        routed = _spikes(bootstrap, f"{prefix}alerts.burst") or []
    [alert] = spikes
    alert_schema.validate(alert)
    spike = alert["spike"]
    assert (spike["kind"], spike["name"]) == ("watchlist", "burst")
    assert (spike["observed"], spike["total"]) == (8, PER_WINDOW)
    assert spike["window"] == datetime.fromtimestamp(start + BURST * WINDOW, UTC).isoformat()
    burst_ids = {r["id"] for r in feed[BURST * PER_WINDOW : (BURST + 1) * PER_WINDOW]}
    assert set(spike["stories"][0]["ids"]) <= burst_ids
    assert alert["rule"]["watchlist"] == "burst"
    assert [a["alert_id"] for a in routed] == [alert["alert_id"]]
