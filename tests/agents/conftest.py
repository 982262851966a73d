"""Fixtures of the agent tests."""

from __future__ import annotations

from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry

from agents.app import build_context
from agents.context import Context, RulesHolder
from agents.settings import load_settings
from monitor.rules.files import parse_rules

RULES = """\
watchlists:
  - name: desk
    story_updates:
      - sources: 3
      - {articles: 4, within: 1h}
    rules:
      - id: willing
        query: '"coalition of the willing"'
      - id: quiet
        query: 'Macron'
        story_updates: []
"""


@pytest.fixture(scope="module")
def ctx() -> Context:
    settings = load_settings({"NEWSMON_SPACY_MODEL": "blank", "NEWSMON_NER": "false"})
    base = build_context(settings, CollectorRegistry())
    return replace(base, rules=RulesHolder(parse_rules(RULES, "desk.yaml", ()), "test"))
