"""Tagged articles: what the tagger publishes and ``newsmon tag`` prints.

One JSON object per article: ``{"id", "topics": [{"name", "score", "confidence",
"evidence": [...]}],
"entities": [{"text", "label", "canonical", "field", "start", "end"}], "fingerprint"}``;
on ``news.tagged`` it also carries the ``article`` itself and, when the worker is asked to
(``NEWSMON_TAGGED_WORDS``), its ``words`` (per field, the character ``starts`` and
``ends`` of each word and the hyphenated ``compounds`` as ``[first, last]`` word
positions), so a subscriber can rebuild the analysed fields without a tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.tagging.tagger import Tagger
from monitor.tagging.tags import Evidence, TopicTag
from monitor.text.article import Article, article_from_mapping
from monitor.text.entities import Entity
from monitor.text.fields import Field, field_from_spans
from monitor.text.fingerprint import fingerprint, story_fields
from monitor.text.nlp import Analyzed


@dataclass(frozen=True, slots=True)
class TaggedArticle:
    article: Article
    topics: tuple[TopicTag, ...]
    entities: tuple[Entity, ...]
    fingerprint: int
    fields: tuple[Field, Field] | None = None  # title and body as analysed, when known

    @property
    def topic_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.topics)

    def analyzed(self) -> Analyzed | None:
        """The article as the tagger analysed it (None for a record without words)."""
        if self.fields is None:
            return None
        return Analyzed(self.article, *self.fields, self.entities)

    def to_json(self, *, with_article: bool = True, words: bool = False) -> dict[str, Any]:
        """The record; ``words`` adds the word offsets (with the article only)."""
        record: dict[str, Any] = {
            "id": self.article.id,
            "topics": [t.to_json() for t in self.topics],
            "entities": [e.to_json() for e in self.entities],
            "fingerprint": f"{self.fingerprint:016x}",
        }
        if with_article:
            record["article"] = self.article.to_json()
            if words and self.fields is not None:
                record["words"] = {f.name: _words(f) for f in self.fields}
        return record


def _words(field: Field) -> dict[str, list[Any]]:
    return {
        "starts": list(field.starts),
        "ends": list(field.ends),
        "compounds": [[first, last] for _, first, last in field.compounds],
    }


def tag_analyzed(analyzed: Analyzed, tagger: Tagger) -> TaggedArticle:
    """Tag one analysed article: topics with evidence, entities, story fingerprint."""
    return TaggedArticle(
        analyzed.article,
        tagger.tag(analyzed),
        analyzed.entities,
        fingerprint(story_fields(analyzed.title, analyzed.body)),
        analyzed.fields,
    )


def tagged_from_json(record: dict[str, Any]) -> TaggedArticle:
    """Rebuild a TaggedArticle from its ``news.tagged`` JSON (KeyError/TypeError/ValueError)."""
    topics = tuple(
        TopicTag(
            t["name"],
            float(t["score"]),
            tuple(Evidence.from_json(e) for e in t.get("evidence", ())),
            None if t.get("confidence") is None else float(t["confidence"]),
        )
        for t in record["topics"]
    )
    entities = tuple(Entity(**e) for e in record["entities"])
    article = article_from_mapping(record["article"])
    words = record.get("words")
    fields = None
    if words is not None:
        fields = (_field("title", article.title, words), _field("body", article.body, words))
    return TaggedArticle(article, topics, entities, int(record["fingerprint"], 16), fields)


def _field(name: str, text: str, words: dict[str, Any]) -> Field:
    spans = words[name]
    compounds = [(int(first), int(last)) for first, last in spans["compounds"]]
    return field_from_spans(name, text, spans["starts"], spans["ends"], compounds)
