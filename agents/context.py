"""What the agents share: settings, the compiled core, metrics, topics and a clock.

Built once at the composition root (:func:`agents.app.create_app`); agents receive it
instead of reaching for globals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agents.metrics import Metrics
from agents.settings import Settings
from monitor.alerting.silences import Silence
from monitor.rules.files import RuleSet
from monitor.tagging.tagger import Tagger
from monitor.text.nlp import Pipeline


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RulesHolder:
    """The rule set now applied; replaced whole when a new one is deployed."""

    current: RuleSet
    origin: str = "file"


@dataclass
class Context:
    settings: Settings
    metrics: Metrics
    pipeline: Pipeline  # the analyser's (NER when configured)
    tagger: Tagger
    rules: RulesHolder
    clock: Callable[[], datetime] = utc_now
    silences: dict[str, Silence] = field(default_factory=dict)
