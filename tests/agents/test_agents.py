"""Agent adapters on fakes of our own ports: decode, call the core, send, count."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from prometheus_client import CollectorRegistry

from agents.analyser import INGESTED_AT, process_articles
from agents.app import build_context
from agents.context import Context, RulesHolder
from agents.deadletter import DeadLetter
from agents.notifier import StoryTable, process_candidate, process_candidates, story_key
from agents.settings import load_settings
from agents.stories import StoryPorts, StoryState, process_arrivals
from monitor.alerting.silences import new_silence
from monitor.rules.files import parse_rules
from monitor.text.article import article_from_text, encode_article
from tests.agents.fakes import ChangelogTable, FakeSinks, FakeTopic, events
from tests.conftest import SEED


@pytest.fixture(scope="module")
def registry_and_ctx() -> tuple[CollectorRegistry, Context]:
    registry = CollectorRegistry()
    settings = load_settings({"NEWSMON_SPACY_MODEL": "blank", "NEWSMON_NER": "false"})
    return registry, build_context(settings, registry)


def _count(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def _total(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """A counter summed over every label set that has ``labels``: the module shares one
    registry, so a test compares totals before and after its own work."""
    return sum(
        sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


async def _analyse(ctx: Context, *values: bytes) -> tuple[FakeTopic, FakeTopic, FakeTopic]:
    """Run the analyser on messages, then the story agent on what it sent: what went to
    news.tagged, news.candidates and the dead letters."""
    tagged, story_input = FakeTopic("news.tagged"), FakeTopic("news.story-input")
    dead = FakeTopic("news.deadletter")
    await process_articles(events(*values), ctx, tagged, story_input, DeadLetter(dead, ctx.metrics))
    candidates, _ = await assign(ctx, StoryState({}, ctx.settings.dedupe_window), story_input)
    return tagged, candidates, dead


async def assign(
    ctx: Context, state: StoryState, story_input: FakeTopic
) -> tuple[FakeTopic, FakeTopic]:
    """Run the story agent on what the analyser sent: its candidates and story records."""
    candidates, stories = FakeTopic("news.candidates"), FakeTopic("news.stories")
    dead = DeadLetter(FakeTopic("news.deadletter"), ctx.metrics)
    ports = StoryPorts(stories, candidates, dead, _flushed)
    arrivals = [s.value for s in story_input.sent]
    await process_arrivals(events(*arrivals, topic="news.story-input"), ctx, state, ports)
    return candidates, stories


async def _flushed() -> None:
    return None


async def _tag(ctx: Context, *values: bytes) -> tuple[FakeTopic, FakeTopic]:
    tagged, _, dead = await _analyse(ctx, *values)
    return tagged, dead


async def test_seed_is_tagged_with_its_three_topics(
    registry_and_ctx: Any, tagged_schema: Any
) -> None:
    _, ctx = registry_and_ctx
    seed = article_from_text(SEED.read_text(encoding="utf-8"))
    sink, dead = await _tag(ctx, encode_article(seed))
    assert dead.sent == []
    [record] = sink.sent
    assert record.key == seed.id.encode()
    assert INGESTED_AT in record.headers
    tagged = json.loads(record.value)
    tagged_schema.validate(tagged)
    # Three readers: air defence and coalition; the ceasefire clause is a passing mention.
    assert {t["name"] for t in tagged["topics"]} == {"air_defence", "coalition"}
    assert all(0 < t["confidence"] <= 1 for t in tagged["topics"])


async def test_bad_messages_go_to_the_dead_letter_topic_with_provenance(
    registry_and_ctx: Any,
) -> None:
    registry, ctx = registry_and_ctx
    before = _count(registry, "newsmon_deadletter_total", reason="bad_json", stage="tag")
    good = encode_article(article_from_text("Truce agreed\nThe ceasefire holds."))
    sink, dead = await _tag(ctx, b"{oops", good, b"[1]")
    assert len(sink.sent) == 1
    assert [s.value for s in dead.sent] == [b"{oops", b"[1]"]
    first = dead.sent[0].headers
    assert first["newsmon-reason"] == b"bad_json"
    assert first["newsmon-source-topic"] == b"news.articles"
    assert (first["newsmon-source-partition"], first["newsmon-source-offset"]) == (b"0", b"0")
    assert dead.sent[1].headers["newsmon-reason"] == b"not_an_object"
    assert dead.sent[1].headers["newsmon-source-offset"] == b"2"
    after = _count(registry, "newsmon_deadletter_total", reason="bad_json", stage="tag")
    assert after == before + 1


async def _candidates(ctx: Context) -> FakeTopic:
    seed = article_from_text(SEED.read_text(encoding="utf-8"))
    _, candidates, dead = await _analyse(ctx, encode_article(seed))
    assert dead.sent == []
    return candidates


def _key(candidate: dict[str, Any]) -> str:
    """A candidate's rule key, ``<watchlist>/<rule id>``."""
    return f"{candidate['rule']['watchlist']}/{candidate['rule']['id']}"


async def test_analyser_publishes_one_candidate_per_matching_rule_keyed_by_rule(
    registry_and_ctx: Any,
) -> None:
    _, ctx = registry_and_ctx
    sink = await _candidates(ctx)
    rules = [json.loads(s.value)["rule"] for s in sink.sent]
    assert len({r["watchlist"] for r in rules}) >= 2, "the seed matches several watchlists"
    keys = [f"{r['watchlist']}/{r['id']}".encode() for r in rules]
    assert [s.key for s in sink.sent] == keys
    assert len(set(keys)) == len(keys)


async def test_candidates_carry_the_article_message_time_as_ingest_time(
    registry_and_ctx: Any,
) -> None:
    _, ctx = registry_and_ctx
    seed = article_from_text(SEED.read_text(encoding="utf-8"))
    tagged, candidates, _ = await _analyse(ctx, encode_article(seed))
    header = float(tagged.sent[0].headers[INGESTED_AT])
    assert header == round(events(b"x")[0].message.timestamp, 3)
    assert {json.loads(c.value)["ingested_at"] for c in candidates.sent} == {header}


async def test_tagged_records_are_lean_unless_words_are_asked_for(
    registry_and_ctx: Any,
) -> None:
    _, ctx = registry_and_ctx
    seed = encode_article(article_from_text(SEED.read_text(encoding="utf-8")))
    lean, _, _ = await _analyse(ctx, seed)
    assert "words" not in json.loads(lean.sent[0].value)
    wordy_settings = ctx.settings.model_copy(update={"tagged_words": True})
    wordy, _, _ = await _analyse(replace(ctx, settings=wordy_settings), seed)
    record = json.loads(wordy.sent[0].value)
    assert set(record["words"]) == {"title", "body"}
    assert len(lean.sent[0].value) < len(wordy.sent[0].value)


async def test_notifier_alerts_once_per_story_and_counts_copies(
    registry_and_ctx: Any, alert_schema: Any
) -> None:
    registry, ctx = registry_and_ctx
    candidates = await _candidates(ctx)
    before = _total(registry, "newsmon_alerts_suppressed_total", reason="duplicate_story")
    stories = StoryTable({})
    sinks, dead = FakeSinks(), FakeTopic("news.deadletter")
    copies = [s.value for s in candidates.sent] * 2
    for event in events(*copies, topic="news.candidates"):
        await process_candidate(event, ctx, stories, sinks, DeadLetter(dead, ctx.metrics))
    alerts = [json.loads(s.value) for s in sinks.alerts.sent]
    assert len(alerts) == len(candidates.sent)
    for alert in alerts:
        alert_schema.validate(alert)
        assert alert["kind"] == "rule"
        rule = next(r for r in ctx.rules.current.rules if r.id == alert["rule"]["id"])
        routed = {json.loads(s.value)["alert_id"] for s in sinks.routes[rule.route].sent}
        assert alert["alert_id"] in routed
    suppressed = _total(registry, "newsmon_alerts_suppressed_total", reason="duplicate_story")
    assert suppressed - before == len(alerts), "each copy counted once as duplicate_story"


async def test_the_alert_kind_is_one_of_three_and_absent_means_an_older_rule_alert(
    registry_and_ctx: Any, alert_schema: Any
) -> None:
    _, ctx = registry_and_ctx
    candidates, sinks = await _candidates(ctx), FakeSinks()
    dead = DeadLetter(FakeTopic("d"), ctx.metrics)
    [event] = events(candidates.sent[0].value, topic="news.candidates")
    await process_candidate(event, ctx, StoryTable({}), sinks, dead)
    alert = json.loads(sinks.alerts.sent[0].value)
    alert_schema.validate(dict(alert, kind="rule"))
    with pytest.raises(jsonschema.ValidationError, match="'spike' is a required property"):
        alert_schema.validate(dict(alert, kind="spike"))
    update = dict(alert, kind="story_update", update={"threshold": "articles>=10/1h"})
    alert_schema.validate(update)
    alert_schema.validate({k: v for k, v in alert.items() if k != "kind"})
    with pytest.raises(jsonschema.ValidationError):
        alert_schema.validate(dict(alert, kind="burst"))
    with pytest.raises(jsonschema.ValidationError, match="'update' is a required property"):
        alert_schema.validate(dict(alert, kind="story_update"))
    with pytest.raises(jsonschema.ValidationError):
        alert_schema.validate(dict(update, update={"threshold": "many"}))


async def test_alert_ids_are_the_same_after_a_restart(registry_and_ctx: Any) -> None:
    _, ctx = registry_and_ctx
    candidates = await _candidates(ctx)
    runs = []
    for _ in range(2):  # two workers with empty state: as after losing the table
        sinks = FakeSinks()
        for event in events(*[s.value for s in candidates.sent], topic="news.candidates"):
            dead = DeadLetter(FakeTopic("d"), ctx.metrics)
            await process_candidate(event, ctx, StoryTable({}), sinks, dead)
        runs.append(sorted(json.loads(s.value)["alert_id"] for s in sinks.alerts.sent))
    assert runs[0] == runs[1]
    assert len(runs[0]) == len(candidates.sent)


async def test_notifier_suppresses_silenced_and_throttled_candidates(
    registry_and_ctx: Any,
) -> None:
    registry, ctx = registry_and_ctx
    candidates = [json.loads(s.value) for s in (await _candidates(ctx)).sent]
    rule = candidates[0]["rule"]
    other_story = _in_story(candidates[0], "0f0f0f0f0f0f0f0f")
    third_story = _in_story(candidates[0], "1234567812345678")
    throttled = [dict(c, throttle=[1, 3600]) for c in (candidates[0], other_story)]
    labels = {"watchlist": rule["watchlist"], "severity": rule["severity"]}
    suppressed = "newsmon_alerts_suppressed_total"
    throttled_before = _count(registry, suppressed, reason="throttled", **labels)
    silenced_before = _count(registry, suppressed, reason="silenced", **labels)
    sinks = FakeSinks()
    dead = DeadLetter(FakeTopic("d"), ctx.metrics)
    stories = StoryTable({})
    for record in throttled:
        event = events(json.dumps(record).encode(), topic="news.candidates")[0]
        await process_candidate(event, ctx, stories, sinks, dead)
    assert len(sinks.alerts.sent) == 1, "the second new story is over the throttle"
    throttled_count = _count(registry, suppressed, reason="throttled", **labels)
    assert throttled_count - throttled_before == 1

    ctx.silences["s1"] = new_silence(starts_at=0, seconds=1e12, rule=rule["id"])
    try:
        event = events(json.dumps(third_story).encode(), topic="news.candidates")[0]
        await process_candidate(event, ctx, StoryTable({}), sinks, dead)
    finally:
        ctx.silences.clear()
    assert len(sinks.alerts.sent) == 1
    silenced = _count(registry, suppressed, reason="silenced", **labels)
    assert silenced - silenced_before == 1


class CrashingSinks(FakeSinks):
    """Sends to news.alerts, then 'crashes' before the route topic gets its copy."""

    async def send_many(
        self, alerts: list[tuple[dict[str, Any], str]], only: set[str] | None = None
    ) -> None:
        record = alerts[0][0]
        await self.alerts.send(key=record["alert_id"].encode(), value=json.dumps(record).encode())
        raise ConnectionError("worker killed mid-send")


async def _crashed(ctx: Any, sinks: FakeSinks, *values: bytes) -> dict[str, Any]:
    """The table a worker left when ``sinks`` crashed it in the middle of a batch."""
    table: dict[str, Any] = {}
    dead = DeadLetter(FakeTopic("d"), ctx.metrics)
    stories = StoryTable(table)
    with pytest.raises(ConnectionError):
        await process_candidates(
            events(*values, topic="news.candidates"), ctx, stories, sinks, dead
        )
    return table


STORIES = ["0f0f0f0f0f0f0f0f", "1234567812345678", "f0f0f0f0f0f0f0f0"]


def _three_stories(candidate: dict[str, Any]) -> list[bytes]:
    """The candidate as three unrelated stories."""
    return [json.dumps(_in_story(candidate, fp)).encode() for fp in STORIES]


def _in_story(candidate: dict[str, Any], story_id: str) -> dict[str, Any]:
    """The candidate as the founding article of another story."""
    return dict(candidate, fingerprint=story_id, story_id=story_id)


async def test_an_alert_interrupted_by_a_crash_is_completed_once(registry_and_ctx: Any) -> None:
    _, ctx = registry_and_ctx
    [first, *_] = (await _candidates(ctx)).sent
    crashing = CrashingSinks()
    table = await _crashed(ctx, crashing, first.value)
    dead = DeadLetter(FakeTopic("d"), ctx.metrics)
    assert crashing.flushes == 1, "the pending mark was flushed before the alert left"
    assert any(key.endswith("|pending") for key in table)

    # The restarted worker shares the broker's topics and the restored table.
    restarted = FakeSinks()
    restarted.alerts = crashing.alerts
    await process_candidate(events(first.value)[0], ctx, StoryTable(table), restarted, dead)
    rule = json.loads(first.value)["route"]
    assert len(restarted.alerts.sent) == 1, "news.alerts already had it: not sent twice"
    assert len(restarted.route(rule).sent) == 1, "the missing route copy was sent"
    assert not any(key.endswith("|pending") for key in table)


class ReadBackFailingSinks(FakeSinks):
    """Cannot read the alert topics back."""

    async def missing(self, alerts: dict[str, str], since: float) -> dict[str, set[str]]:
        raise ConnectionError("broker unreachable")


class FlushCrashingSinks(FakeSinks):
    """Crashes while flushing the changelog: nothing was sent yet."""

    async def flush(self) -> None:
        raise ConnectionError("worker killed mid-flush")


async def test_a_mark_that_outlived_its_story_does_not_page_twice(registry_and_ctx: Any) -> None:
    _, ctx = registry_and_ctx
    [first, *_] = (await _candidates(ctx)).sent
    table = await _crashed(ctx, FlushCrashingSinks(), first.value)
    dead = DeadLetter(FakeTopic("d"), ctx.metrics)
    # The changelog got the mark (written first) but not the story.
    restored = {key: value for key, value in table.items() if key.endswith("|pending")}
    assert restored
    assert len(restored) < len(table)

    restarted, stories = FakeSinks(), StoryTable(restored)
    await process_candidate(events(first.value)[0], ctx, stories, restarted, dead)
    await process_candidate(events(first.value)[0], ctx, stories, restarted, dead)
    assert len(restarted.alerts.sent) == 1, "completed once, then the candidate is a duplicate"
    assert not any(key.endswith("|pending") for key in restored)


SAME_ID_TWICE = """\
watchlists:
  - name: alpha
    rules:
      - id: urgent
        query: coalition
        must_match: ["a coalition"]
        must_not_match: ["nothing"]
  - name: bravo
    rules:
      - id: urgent
        query: coalition
        must_match: ["a coalition"]
        must_not_match: ["nothing"]
"""


async def test_one_rule_id_in_two_watchlists_gives_two_rules_with_their_own_alerts(
    registry_and_ctx: Any,
) -> None:
    registry, base = registry_and_ctx
    ctx = replace(base, rules=RulesHolder(parse_rules(SAME_ID_TWICE, "two.yaml", ()), "two"))
    candidates = await _candidates(ctx)
    assert sorted(s.key for s in candidates.sent) == [b"alpha/urgent", b"bravo/urgent"]
    table, sinks = ChangelogTable(), FakeSinks()
    dead = DeadLetter(FakeTopic("d"), ctx.metrics)
    await process_candidates(
        events(*(s.value for s in candidates.sent), topic="news.candidates"),
        ctx,
        StoryTable(table),
        sinks,
        dead,
    )
    alerts = [json.loads(s.value) for s in sinks.alerts.sent]
    assert sorted(a["rule"]["watchlist"] for a in alerts) == ["alpha", "bravo"]
    assert len({a["alert_id"] for a in alerts}) == 2, "one story, two rules, two alerts"
    assert sum("|story|" in key for key, _ in table.changelog) == 2, "a story per rule"
    for watchlist in ("alpha", "bravo"):
        rule = f"{watchlist}/urgent"
        assert _count(registry, "newsmon_rule_outcomes_total", rule=rule, outcome="alert") >= 1


async def test_a_crashed_batch_is_completed_with_one_read_back(registry_and_ctx: Any) -> None:
    _, ctx = registry_and_ctx
    first = json.loads((await _candidates(ctx)).sent[0].value)
    batch = _three_stories(first)
    crashing = CrashingSinks()
    table = await _crashed(ctx, crashing, *batch)
    dead = DeadLetter(FakeTopic("d"), ctx.metrics)
    assert len(table[f"{_key(first)}|pending"]) == 3

    restarted = FakeSinks()
    restarted.alerts = crashing.alerts  # the first alert reached news.alerts before the crash
    stories = StoryTable(table)
    await process_candidates(events(*batch, topic="news.candidates"), ctx, stories, restarted, dead)
    assert restarted.read_backs == 1, "one read-back for all of the rule's pending alerts"
    ids = [json.loads(s.value)["alert_id"] for s in restarted.alerts.sent]
    assert len(ids) == len(set(ids)) == 3, "each alert on news.alerts exactly once"
    assert len(restarted.route(first["route"]).sent) == 3
    assert not any(key.endswith("|pending") for key in table)


async def test_a_batch_raises_each_alert_once_and_flushes_once(registry_and_ctx: Any) -> None:
    _, ctx = registry_and_ctx
    first = json.loads((await _candidates(ctx)).sent[0].value)
    batch = _three_stories(first)
    batch.append(batch[0])  # a copy of the first story in the same batch
    sinks, table = FakeSinks(), {}  # type: ignore[var-annotated]
    await process_candidates(
        events(*batch, topic="news.candidates"),
        ctx,
        StoryTable(table),
        sinks,
        DeadLetter(FakeTopic("d"), ctx.metrics),
    )
    ids = [json.loads(s.value)["alert_id"] for s in sinks.alerts.sent]
    assert len(ids) == len(set(ids)) == 3
    assert sinks.flushes == 1
    assert not any(key.endswith("|pending") for key in table)


async def test_a_batch_marks_once_before_its_stories_and_clears_once(
    registry_and_ctx: Any,
) -> None:
    _, ctx = registry_and_ctx
    first_candidate = json.loads((await _candidates(ctx)).sent[0].value)
    batch = _three_stories(first_candidate)
    table, sinks = ChangelogTable(), FakeSinks()
    dead = DeadLetter(FakeTopic("d"), ctx.metrics)
    await process_candidates(
        events(*batch, topic="news.candidates"), ctx, StoryTable(table), sinks, dead
    )
    keys = [key for key, _ in table.changelog]
    marks = [i for i, key in enumerate(keys) if key.endswith("|pending")]
    assert len(marks) == 2, "one mark for the batch's three alerts, one clear"
    assert marks == [0, len(keys) - 1], "marked before every story, cleared after"
    assert len(table.changelog[0][1]) == 3
    assert len(keys) == len(set(keys[1:-1])) + 2, "every story key written once"
    assert keys[1:-1] == [story_key(_key(first_candidate), int(fp, 16)) for fp in STORIES]
    assert len(sinks.alerts.sent) == 3


async def test_a_new_story_costs_one_table_record_and_leaves_with_the_window(
    registry_and_ctx: Any,
) -> None:
    _, ctx = registry_and_ctx
    first = json.loads((await _candidates(ctx)).sent[0].value)
    rule_key, fingerprint = _key(first), int(first["fingerprint"], 16)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    table, sinks = ChangelogTable(), FakeSinks()
    dead = DeadLetter(FakeTopic("d"), ctx.metrics)
    window = ctx.settings.dedupe_window
    now = replace(ctx, clock=lambda: start)
    await process_candidates(
        events(json.dumps(first).encode(), topic="news.candidates"),
        now,
        StoryTable(table),
        sinks,
        dead,
    )
    stories = [key for key, _ in table.changelog if "|story|" in key]
    assert stories == [story_key(rule_key, fingerprint)]

    # Past the window, deciding the rule's next candidate deletes the expired story's key.
    later = replace(ctx, clock=lambda: start + timedelta(seconds=window + 1))
    other = _in_story(first, "0f0f0f0f0f0f0f0f")
    await process_candidates(
        events(json.dumps(other).encode(), topic="news.candidates"),
        later,
        StoryTable(table),
        sinks,
        dead,
    )
    assert story_key(rule_key, fingerprint) not in table
    assert story_key(rule_key, 0x0F0F0F0F0F0F0F0F) in table
    assert (story_key(rule_key, fingerprint), None) in table.changelog, "deleted, not left"


async def test_a_restarted_notifier_finds_its_stories_in_the_table(registry_and_ctx: Any) -> None:
    """A new owner of the table (a restart, a rebalance) rebuilds the band index from it."""
    _, ctx = registry_and_ctx
    first = json.loads((await _candidates(ctx)).sent[0].value)
    table: dict[str, Any] = {}
    sinks, dead = FakeSinks(), DeadLetter(FakeTopic("d"), ctx.metrics)
    await process_candidate(
        events(json.dumps(first).encode(), topic="news.candidates")[0],
        ctx,
        StoryTable(table),
        sinks,
        dead,
    )
    # An edited wire copy: its own fingerprint, in the first article's story.
    copy = dict(first, fingerprint=f"{int(first['fingerprint'], 16) ^ 0b1011:016x}")
    restarted = StoryTable(dict(table))
    await process_candidate(
        events(json.dumps(copy).encode(), topic="news.candidates")[0], ctx, restarted, sinks, dead
    )
    assert len(sinks.alerts.sent) == 1, "the edited copy is a duplicate of the stored story"


async def test_a_failed_batch_forgets_the_stories_it_did_not_store(registry_and_ctx: Any) -> None:
    _, ctx = registry_and_ctx
    first = json.loads((await _candidates(ctx)).sent[0].value)
    other_rule = dict(first, rule=dict(first["rule"], id="other-rule"))
    # A pending mark of another rule, to be completed when that rule first comes up.
    mark = {"alert": {"alert_id": "a1"}, "route": first["route"], "at": 0.0}
    table: dict[str, Any] = {f"{_key(other_rule)}|pending": {"a1": mark}}
    stories = StoryTable(table)
    dead = DeadLetter(FakeTopic("d"), ctx.metrics)
    batch = [json.dumps(first).encode(), json.dumps(other_rule).encode()]
    with pytest.raises(ConnectionError):  # the read-back fails after the first was decided
        await process_candidates(
            events(*batch, topic="news.candidates"), ctx, stories, ReadBackFailingSinks(), dead
        )
    assert not any("|story|" in key for key in table), "the batch wrote nothing"
    sinks = FakeSinks()
    await process_candidate(events(batch[0], topic="news.candidates")[0], ctx, stories, sinks, dead)
    assert len(sinks.alerts.sent) == 1, "not taken for a duplicate of a story never stored"
