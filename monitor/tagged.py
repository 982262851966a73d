"""Tagged articles: what the tagger publishes and ``newsmon tag`` prints.

One JSON object per article: ``{"id", "topics": [{"name", "score", "evidence": [...]}],
"entities": [{"text", "label", "canonical", "field", "start", "end"}], "fingerprint"}``;
on ``news.tagged`` it also carries the ``article`` itself, so later stages need nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.article import Article, article_from_mapping
from monitor.entities import Entity
from monitor.nlp import Analyzed
from monitor.story import fingerprint, story_fields
from monitor.tagging import Evidence, Tagger, TopicTag


@dataclass(frozen=True, slots=True)
class TaggedArticle:
    article: Article
    topics: tuple[TopicTag, ...]
    entities: tuple[Entity, ...]
    fingerprint: int

    @property
    def topic_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.topics)

    def to_json(self, *, with_article: bool = True) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": self.article.id,
            "topics": [t.to_json() for t in self.topics],
            "entities": [e.to_json() for e in self.entities],
            "fingerprint": f"{self.fingerprint:016x}",
        }
        if with_article:
            record["article"] = self.article.to_json()
        return record


def tag_analyzed(analyzed: Analyzed, tagger: Tagger) -> TaggedArticle:
    """Tag one analysed article: topics with evidence, entities, story fingerprint."""
    return TaggedArticle(
        analyzed.article,
        tagger.tag(analyzed),
        analyzed.entities,
        fingerprint(story_fields(analyzed.title, analyzed.body)),
    )


def tagged_from_json(record: dict[str, Any]) -> TaggedArticle:
    """Rebuild a TaggedArticle from its ``news.tagged`` JSON (raises KeyError/TypeError)."""
    topics = tuple(
        TopicTag(t["name"], float(t["score"]), tuple(Evidence(**e) for e in t.get("evidence", ())))
        for t in record["topics"]
    )
    entities = tuple(Entity(**e) for e in record["entities"])
    return TaggedArticle(
        article_from_mapping(record["article"]), topics, entities, int(record["fingerprint"], 16)
    )
