"""The topic table: every topic newsmon uses, declared once, as data.

Nothing else spells a topic name. Per-watchlist routes (``alerts.<name>``) come from
the rule file and take the ``route`` spec.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.settings import Settings

DAY_MS = 86_400_000
#: Largest record any newsmon topic accepts. A tagged article repeats its article (up to
#: NEWSMON_MAX_ARTICLE_BYTES, 1 MiB by default) plus evidence and entities, so topics and
#: producers allow well above the article limit and above Kafka's 1 MB default.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """How a topic is created: partitions (None = the data-topic default), retention, compaction."""

    key: str
    name: str
    description: str
    partitions: int | None = None
    retention_ms: int = 7 * DAY_MS
    compacted: bool = False

    def configs(self) -> dict[str, str]:
        size = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
        if self.compacted:
            return {"cleanup.policy": "compact", "min.compaction.lag.ms": "0", **size}
        return {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms), **size}


ARTICLES = TopicSpec("articles", "news.articles", "raw articles from replay or any source")
TAGGED = TopicSpec("tagged", "news.tagged", "articles with topics, evidence and entities")
STORY_INPUT = TopicSpec(
    "story-input",
    "news.story-input",
    "every tagged article's story summary and rule matches, for the story agent (one "
    "partition: one place assigns stories)",
    partitions=1,
)
STORIES = TopicSpec(
    "stories",
    "news.stories",
    "stories as records: title, first and last seen, articles, sources, topics, entities "
    "and member ids, keyed by story id (compacted, latest wins)",
    compacted=True,
)
CANDIDATES = TopicSpec(
    "candidates",
    "news.candidates",
    "rule matches awaiting the once-per-story decision, keyed by <watchlist>/<rule id>",
)
ALERTS = TopicSpec("alerts", "news.alerts", "every alert, all watchlists", retention_ms=30 * DAY_MS)
DEADLETTER = TopicSpec(
    "deadletter",
    "news.deadletter",
    "rejected input with reason and provenance",
    partitions=3,
    retention_ms=30 * DAY_MS,
)
RULES = TopicSpec(
    "rules",
    "newsmon.rules",
    "deployed rule sets (compacted, latest wins)",
    partitions=1,
    compacted=True,
)
SILENCES = TopicSpec(
    "silences", "newsmon.silences", "alert silences by id (compacted)", partitions=1, compacted=True
)
FEEDBACK = TopicSpec(
    "feedback",
    "news.feedback",
    "analysts' verdicts on alerts, keyed by alert id and user (compacted, latest wins)",
    partitions=1,
    compacted=True,
)
TRIAGE = TopicSpec(
    "triage",
    "news.triage",
    "where each alert stands on the desk (open, acknowledged, assigned, resolved), keyed by "
    "alert id (compacted, latest wins)",
    partitions=1,
    compacted=True,
)
DIGESTS = TopicSpec(
    "digests",
    "newsmon.digests",
    "the last e-mail digest period done, keyed <watchlist>/<digest> (compacted)",
    partitions=1,
    compacted=True,
)
ROUTE = TopicSpec(
    "route", "alerts.*", "alerts of one watchlist", partitions=3, retention_ms=30 * DAY_MS
)

TOPICS = (
    ARTICLES,
    TAGGED,
    STORY_INPUT,
    STORIES,
    CANDIDATES,
    ALERTS,
    DEADLETTER,
    RULES,
    SILENCES,
    FEEDBACK,
    TRIAGE,
    DIGESTS,
)


@dataclass(frozen=True, slots=True)
class ResolvedTopic:
    name: str
    partitions: int
    configs: dict[str, str]


def resolve(spec: TopicSpec, settings: Settings, name: str | None = None) -> ResolvedTopic:
    """The concrete topic for a spec under the settings' prefix and partition default."""
    return ResolvedTopic(
        settings.topic_prefix + (name or spec.name),
        spec.partitions or settings.partitions,
        spec.configs(),
    )


def route_topics(settings: Settings, routes: tuple[str, ...]) -> list[ResolvedTopic]:
    """The route topics of a rule set."""
    return [resolve(ROUTE, settings, route) for route in routes]


def spike_route(settings: Settings) -> str:
    """The route of topic and entity spike alerts (``alerts.<NEWSMON_SPIKE_WATCHLIST>``)."""
    return f"alerts.{settings.spike_watchlist}"


def all_topics(settings: Settings, routes: tuple[str, ...] = ()) -> list[ResolvedTopic]:
    """Every topic newsmon uses: the table's, the rule set's routes and the spike route."""
    if settings.spikes and spike_route(settings) not in routes:
        routes = (*routes, spike_route(settings))
    return [resolve(spec, settings) for spec in TOPICS] + route_topics(settings, routes)
