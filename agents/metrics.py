"""The metrics catalogue: every ``newsmon_`` metric, in one place.

Base units (seconds), ``_total`` on counters, bounded labels only (topic, watchlist,
severity, reason, stage): never article ids, URLs or free text. Faust's own sensor
exports consumer lag, commit latency and the like next to these.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

STAGES = ("decode", "nlp", "tag", "match", "produce")
#: Rule ids are label values only while a rule set has at most this many rules; beyond
#: it every rule counts as "_other", so a 10,000-rule set cannot explode the series count.
RULE_LABEL_LIMIT = 200
OTHER_RULES = "_other"
_STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_STORY_BUCKETS = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)
_FRESHNESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400)


class Metrics:
    """The domain metrics of one worker, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.articles_received = Counter(
            "newsmon_articles_received_total",
            "Messages read from the articles topic, valid or not.",
            registry=registry,
        )
        self.articles_tagged = Counter(
            "newsmon_articles_tagged_total",
            "Articles tagged and published to the tagged topic.",
            registry=registry,
        )
        self.topic_tags = Counter(
            "newsmon_topic_tags_total",
            "Articles tagged with a topic, per topic; moves once per article and topic.",
            ["topic"],
            registry=registry,
        )
        self.deadlettered = Counter(
            "newsmon_deadletter_total",
            "Messages sent to the dead-letter topic, per reason and source stage.",
            ["reason", "stage"],
            registry=registry,
        )
        self.alerts_raised = Counter(
            "newsmon_alerts_raised_total",
            "Alerts published, per watchlist and severity.",
            ["watchlist", "severity"],
            registry=registry,
        )
        self.webhook_deliveries = Counter(
            "newsmon_webhook_deliveries_total",
            "Alerts posted to webhooks, per watchlist, webhook and outcome (delivered, or "
            "failed: given up on and dead-lettered).",
            ["watchlist", "webhook", "outcome"],
            registry=registry,
        )
        self.rule_precision = Gauge(
            "newsmon_rule_precision",
            "Share of a rule's judged alerts that analysts judged relevant (each user's "
            "latest verdict per alert, from news.feedback); the same on every worker.",
            ["watchlist", "rule"],
            registry=registry,
        )
        self.rule_verdicts = Gauge(
            "newsmon_rule_verdicts",
            "Alerts of a rule judged relevant or not_relevant on the desk (latest verdict "
            "of each user per alert); the same on every worker.",
            ["watchlist", "rule", "verdict"],
            registry=registry,
        )
        self.digests = Counter(
            "newsmon_digests_total",
            "E-mail digests per watchlist, digest and outcome (sent, empty: no alert in the "
            "period, failed: tried again in 30 s).",
            ["watchlist", "digest", "outcome"],
            registry=registry,
        )
        self.alerts_suppressed = Counter(
            "newsmon_alerts_suppressed_total",
            "Rule matches that raised no alert, per reason (duplicate_story, throttled, "
            "silenced), watchlist and severity.",
            ["reason", "watchlist", "severity"],
            registry=registry,
        )
        self.rule_outcomes = Counter(
            "newsmon_rule_outcomes_total",
            "Decisions on rule matches, per rule (<watchlist>/<rule id>, while the rule set "
            "has at most "
            f'{RULE_LABEL_LIMIT} rules, else rule="{OTHER_RULES}") and outcome '
            "(alert, duplicate_story, throttled, silenced).",
            ["rule", "outcome"],
            registry=registry,
        )
        self.stage_seconds = Histogram(
            "newsmon_stage_duration_seconds",
            "Time spent per batch in a processing stage.",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=registry,
        )
        self.freshness_published = Histogram(
            "newsmon_alert_freshness_published_seconds",
            "Article published_at to alert emitted; observed per alert with a timestamp.",
            buckets=_FRESHNESS_BUCKETS,
            registry=registry,
        )
        self.freshness_ingest = Histogram(
            "newsmon_alert_freshness_ingest_seconds",
            "Article message timestamp on the articles topic to alert emitted.",
            buckets=_FRESHNESS_BUCKETS,
            registry=registry,
        )
        self.match_seconds = Histogram(
            "newsmon_rule_match_duration_seconds",
            "Time to match one article against the whole rule set (presearch plus evaluation).",
            buckets=_STAGE_BUCKETS,
            registry=registry,
        )
        self.rules_loaded = Gauge(
            "newsmon_rules_loaded",
            "Rules in the rule set now applied, per watchlist.",
            ["watchlist"],
            registry=registry,
        )
        self.ruleset = Info(
            "newsmon_ruleset",
            "The rule set now applied: its version and where it came from.",
            registry=registry,
        )
        self.model = Info("newsmon_nlp_pipeline", "The NLP pipeline in use.", registry=registry)
        self.stories_founded = Counter(
            "newsmon_stories_founded_total",
            "Stories founded: articles no live story claimed.",
            registry=registry,
        )
        self.stories_live = Gauge(
            "newsmon_stories_live",
            "Live stories held by the story agent (on the worker that owns it; 0 elsewhere).",
            registry=registry,
        )
        self.story_articles = Histogram(
            "newsmon_story_articles",
            "Articles per story, observed when a story closes (its window is over).",
            buckets=_STORY_BUCKETS,
            registry=registry,
        )
        self.story_sources = Histogram(
            "newsmon_story_sources",
            "Distinct sources per story, observed when a story closes.",
            buckets=_STORY_BUCKETS,
            registry=registry,
        )
        self.spikes = Counter(
            "newsmon_spikes_total",
            "Spike alerts raised, per series kind (topic, entity, watchlist).",
            ["kind"],
            registry=registry,
        )
        self.spike_windows = Counter(
            "newsmon_spike_windows_closed_total",
            "Spike windows closed (each tested for spikes).",
            registry=registry,
        )
        self.spike_series = Gauge(
            "newsmon_spike_series_tested",
            "Series (topics, entities, watchlists) tested in the last closed spike window.",
            registry=registry,
        )
        self.spike_late = Counter(
            "newsmon_spike_late_articles_total",
            "Articles whose spike window had closed when they came (not counted).",
            registry=registry,
        )
        self.story_updates = Counter(
            "newsmon_story_updates_total",
            "story_update alerts raised, per watchlist and threshold kind (sources, articles).",
            ["watchlist", "threshold"],
            registry=registry,
        )

    def stage(self, name: str) -> Histogram:
        """The timer of one stage (``with metrics.stage("nlp").time(): ...``)."""
        return self.stage_seconds.labels(stage=name)


def rule_label(rule_key: str, rule_count: int) -> str:
    """The bounded ``rule`` label value (``<watchlist>/<rule id>``) for a rule in a set of
    ``rule_count`` rules."""
    return rule_key if rule_count <= RULE_LABEL_LIMIT else OTHER_RULES
