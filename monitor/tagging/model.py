"""The learned second stage of topic tagging: a calibrated confidence for each candidate topic.

Stage one, the taxonomy (:mod:`monitor.tagging.tagger`), finds every topic with counted evidence
in an article: the *candidates*. Stage two scores each candidate with that topic's linear
model over the article's words, its place in the document space
(:mod:`monitor.tagging.space`) and the taxonomy's evidence, turns the score into a
probability with the topic's Platt calibration (fitted with the labelled set's population
weights, so it is a probability at the stream's prevalence, not at the labelled set's) and
keeps the topic when the probability reaches the topic's threshold, chosen on held-out
scores for precision of at least 0.90.

The model is a JSON file (``monitor/data/topic_model.json``, made by ``make train`` from
``tests/data`` and the corpus) that names its document space, a file beside it, by digest.
:func:`features` is the one featuriser training and evaluation share, and
:func:`article_features` the stream's form of it, which gives the very same confidences, so
a backtest and the stream score the same numbers. A model is bound to the taxonomy it was
trained with (:func:`taxonomy_fingerprint`); with any other taxonomy it is not applied.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.errors import TopicModelError
from monitor.tagging.space import DocumentSpace, load_space
from monitor.tagging.tags import TopicCandidate, TopicTag
from monitor.tagging.taxonomy import Taxonomy
from monitor.text.nlp import Analyzed

DEFAULT_MODEL = Path(__file__).parents[1] / "data" / "topic_model.json"
#: Bumped whenever :func:`features` changes meaning; a model records the version it used.
FEATURE_VERSION = 2
FORMAT = 1
#: How much an article's place in the document space weighs beside its words.
SPACE_WEIGHT = 2.0
_LENGTH_BUCKETS = (0, 40, 120, 400, 1200)


def taxonomy_fingerprint(taxonomy: Taxonomy) -> str:
    """A digest of what the taxonomy means (not of its comments or layout)."""
    return hashlib.sha256(repr(taxonomy).encode()).hexdigest()[:16]


def features(
    analyzed: Analyzed,
    candidates: Sequence[TopicCandidate],
    taxonomy: Taxonomy,
    space: DocumentSpace | None = None,
) -> dict[str, float]:
    """The features of one article: its words and the taxonomy's evidence.

    Words: the norms of title and body (``w:``) and their adjacent pairs (``b:``), present
    or not, scaled together to unit length so a long article does not outweigh a short one;
    title norms again (``t:``). Evidence, per topic with any: the log of its score, whether
    the taxonomy alone passes it, whether evidence stands in the title or the lead, how many
    distinct terms and how densely they stand in the body, and which terms they are
    (``e:``: so the model learns which of the taxonomy's terms to trust). The body's length
    in buckets. With a document space, the article's place in it (``d:0`` ...).
    """
    title, body = analyzed.title.norms, analyzed.body.norms
    words = {f"w:{w}" for w in title}
    words.update(f"w:{w}" for w in body)
    for part in (title, body):
        words.update(f"b:{a} {b}" for a, b in pairwise(part))
    scale = 1.0 / math.sqrt(len(words)) if words else 0.0
    found: dict[str, float] = dict.fromkeys(words, scale)
    titles = {f"t:{w}" for w in title}
    title_scale = 1.0 / math.sqrt(len(titles)) if titles else 0.0
    found.update(dict.fromkeys(titles, title_scale))
    found.update(_evidence_features(analyzed, candidates, taxonomy))
    if space is not None:
        place = space.place(analyzed.article.title, analyzed.article.body)
        if place is not None:
            found.update(
                zip(_place_names(len(place)), (place * SPACE_WEIGHT).tolist(), strict=True)
            )
    return found


@cache
def _place_names(dimensions: int) -> tuple[str, ...]:
    return tuple(f"d:{k}" for k in range(dimensions))


def _evidence_features(
    analyzed: Analyzed, candidates: Sequence[TopicCandidate], taxonomy: Taxonomy
) -> dict[str, float]:
    """The features of :func:`features` other than the words and the document space:
    length and evidence."""
    body = analyzed.body.norms
    found = {f"len:{sum(len(body) >= edge for edge in _LENGTH_BUCKETS)}": 1.0}
    lead = taxonomy.lead_chars
    for candidate in candidates:
        tag = candidate.tag
        name = tag.name
        # Signed: counter-signs may outweigh a candidate's evidence (score <= 0).
        found[f"x:{name}:score"] = math.copysign(math.log1p(abs(tag.score)), tag.score)
        found[f"x:{name}:passed"] = float(candidate.passed)
        found[f"x:{name}:terms"] = math.log1p(len({e.term for e in tag.evidence}))
        if any(e.field == "title" for e in tag.evidence):
            found[f"x:{name}:title"] = 1.0
        if any(e.field == "body" and e.start < lead for e in tag.evidence):
            found[f"x:{name}:lead"] = 1.0
        for e in tag.evidence:
            found[f"e:{name}:{e.term.lower()}"] = 1.0
        in_body = sum(e.field == "body" for e in tag.evidence)
        found[f"x:{name}:density"] = min(1.0, 100.0 * in_body / (len(body) + 50))
    return found


@dataclass(frozen=True, slots=True)
class ArticleFeatures:
    """:func:`features` of one article in the form a classifier looks them up in.

    The words stay norms and pairs of norms instead of becoming ``w:``/``b:``/``t:``
    strings (most of an article's features, and all but a few unknown to the model);
    the place in the document space stays a vector (``d:0`` ... without the weight);
    ``other`` holds the rest as :func:`features` names them.
    """

    unigrams: set[str]
    pairs: set[tuple[str, str]]
    scale: float
    titles: set[str]
    title_scale: float
    other: dict[str, float]
    place: npt.NDArray[np.float64] | None = None


def article_features(
    analyzed: Analyzed,
    candidates: Sequence[TopicCandidate],
    taxonomy: Taxonomy,
    space: DocumentSpace | None = None,
) -> ArticleFeatures:
    """What :func:`features` computes, for :meth:`TopicClassifier.confidence_of`."""
    title, body = analyzed.title.norms, analyzed.body.norms
    unigrams = set(title)
    unigrams.update(body)
    pairs = set(pairwise(title))
    pairs.update(pairwise(body))
    # Norms hold no spaces, so distinct pairs are distinct "b:" names: the same count.
    count = len(unigrams) + len(pairs)
    titles = set(title)
    return ArticleFeatures(
        unigrams,
        pairs,
        1.0 / math.sqrt(count) if count else 0.0,
        titles,
        1.0 / math.sqrt(len(titles)) if titles else 0.0,
        _evidence_features(analyzed, candidates, taxonomy),
        None if space is None else space.place(analyzed.article.title, analyzed.article.body),
    )


@dataclass(frozen=True, slots=True)
class TopicClassifier:
    """One topic's linear model, its calibration and its decision threshold."""

    weights: Mapping[str, float]
    bias: float
    slope: float  # Platt: confidence = sigmoid(slope * (bias + w . x) + intercept)
    intercept: float
    threshold: float

    #: The weights split as :class:`ArticleFeatures` holds the features (made at init).
    lookup: _Lookup = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lookup", _Lookup.of(self.weights))

    def calibrated(self, margin: float) -> float:
        """The confidence of a margin of the linear model: its Platt calibration."""
        return _sigmoid(self.slope * margin + self.intercept)

    def confidence(self, found: Mapping[str, float]) -> float:
        weights = self.weights
        # A C-level intersection (few features are known); fsum is exact whatever the
        # order, so the stream and a backtest in another process compute the same value.
        margin = math.fsum(
            [self.bias, *(found[name] * weights[name] for name in found.keys() & weights.keys())]
        )
        return self.calibrated(margin)

    def confidence_of(self, article: ArticleFeatures) -> float:
        """:meth:`confidence` of :func:`features`, from :func:`article_features`: the same
        products summed exactly, so the very same value, without naming every word."""
        lookup, scale, title_scale = self.lookup, article.scale, article.title_scale
        margin = math.fsum(
            [
                self.bias,
                *(scale * lookup.words[w] for w in article.unigrams & lookup.words.keys()),
                *(scale * lookup.pairs[p] for p in article.pairs & lookup.pairs.keys()),
                *(title_scale * lookup.titles[w] for w in article.titles & lookup.titles.keys()),
                *(v * lookup.other[k] for k, v in article.other.items() if k in lookup.other),
                *_place_products(article.place, lookup.place),
            ]
        )
        return self.calibrated(margin)


def _place_products(
    place: npt.NDArray[np.float64] | None, weights: npt.NDArray[np.float64] | None
) -> list[float]:
    """The products :meth:`TopicClassifier.confidence` sums for the ``d:`` features: the
    same IEEE products (a pruned dimension weighs 0.0, which adds nothing to an exact sum)."""
    if place is None or weights is None:
        return []
    known = min(len(place), len(weights))
    products: list[float] = ((place[:known] * SPACE_WEIGHT) * weights[:known]).tolist()
    return products


@dataclass(frozen=True, slots=True)
class _Lookup:
    """A classifier's weights by kind of feature: words, pairs and title words by their
    norms, the document space's dimensions as a vector, the rest by name."""

    words: dict[str, float]
    pairs: dict[tuple[str, str], float]
    titles: dict[str, float]
    other: dict[str, float]
    place: npt.NDArray[np.float64] | None = None

    @classmethod
    def of(cls, weights: Mapping[str, float]) -> _Lookup:
        lookup = cls({}, {}, {}, {})
        place: dict[int, float] = {}
        for name, weight in weights.items():
            if name.startswith("d:") and name[2:].isdigit():
                place[int(name[2:])] = weight
            elif name.startswith("w:"):
                lookup.words[name[2:]] = weight
            elif name.startswith("b:") and " " in name:
                first, second = name[2:].split(" ", 1)
                lookup.pairs[(first, second)] = weight
            elif name.startswith("t:"):
                lookup.titles[name[2:]] = weight
            else:
                lookup.other[name] = weight
        if not place:
            return lookup
        vector = np.zeros(max(place) + 1)
        vector[list(place)] = list(place.values())
        return replace(lookup, place=vector)


@dataclass(frozen=True, slots=True)
class TopicModel:
    """Per-topic classifiers trained for one taxonomy."""

    version: str
    taxonomy: str  # the taxonomy_fingerprint it was trained with
    topics: Mapping[str, TopicClassifier]
    space: DocumentSpace | None = None  # the document space its features read, if any

    def applies_to(self, taxonomy: Taxonomy) -> bool:
        return self.taxonomy == taxonomy_fingerprint(taxonomy)

    def decide(
        self, analyzed: Analyzed, candidates: Sequence[TopicCandidate], taxonomy: Taxonomy
    ) -> tuple[TopicTag, ...]:
        """The topics an article carries: candidates whose confidence reaches the threshold.

        A topic the model does not cover keeps the taxonomy's own verdict, without confidence.
        """
        if not candidates:
            return ()
        found = article_features(analyzed, candidates, taxonomy, self.space)
        kept = []
        for candidate in candidates:
            classifier = self.topics.get(candidate.tag.name)
            if classifier is None:
                if candidate.passed:
                    kept.append(candidate.tag)
                continue
            confidence = classifier.confidence_of(found)
            if confidence >= classifier.threshold:
                kept.append(replace(candidate.tag, confidence=round(confidence, 4)))
        return tuple(kept)

    def to_json(self, space_file: str = "") -> dict[str, Any]:
        """The model's JSON object; ``space_file``: where its document space is written
        (a name beside the model file), required when the model has one."""
        if self.space is not None and not space_file:
            raise TopicModelError("a model with a document space needs the space's file name")
        space = (
            {"space": {"file": space_file, "digest": self.space.digest}}
            if self.space is not None
            else {}
        )
        return {
            "format": FORMAT,
            "features": FEATURE_VERSION,
            "version": self.version,
            "taxonomy": self.taxonomy,
            **space,
            "topics": {
                name: {
                    "bias": c.bias,
                    "calibration": {"slope": c.slope, "intercept": c.intercept},
                    "threshold": c.threshold,
                    "weights": dict(sorted(c.weights.items())),
                }
                for name, c in sorted(self.topics.items())
            },
        }


def model_from_json(
    data: Mapping[str, Any], source: str = "<model>", directory: Path | None = None
) -> TopicModel:
    """Build a model from its JSON object; refuse another format or feature version.

    A model that reads a document space names its file, found in ``directory`` (the model
    file's folder)."""
    try:
        if data["format"] != FORMAT or data["features"] != FEATURE_VERSION:
            raise TopicModelError(
                f"{source}: topic model format {data['format']}/features {data['features']}, "
                f"this newsmon reads {FORMAT}/{FEATURE_VERSION}: run `make train`",
            )
        topics = {
            str(name): TopicClassifier(
                weights={str(k): float(v) for k, v in item["weights"].items()},
                bias=float(item["bias"]),
                slope=float(item["calibration"]["slope"]),
                intercept=float(item["calibration"]["intercept"]),
                threshold=float(item["threshold"]),
            )
            for name, item in data["topics"].items()
        }
        space = None
        if "space" in data:
            if directory is None:
                raise TopicModelError(f"{source}: the model's document space has no folder")
            name = Path(str(data["space"]["file"]))
            if name.name != str(name):
                raise TopicModelError(f"{source}: document space {name} is not a file name")
            space = load_space(directory / name, str(data["space"]["digest"]))
        return TopicModel(str(data["version"]), str(data["taxonomy"]), topics, space)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TopicModelError(f"{source}: not a topic model ({exc!r})") from exc


def load_topic_model(path: Path = DEFAULT_MODEL) -> TopicModel:
    """Load a topic model file (TopicModelError with the path when it is not one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TopicModelError(f"{path}: cannot read the topic model: {exc}") from exc
    return model_from_json(data, str(path), path.parent)


def model_for(taxonomy: Taxonomy, choice: str = "") -> TopicModel | None:
    """The second stage to run with a taxonomy (``NEWSMON_TOPIC_MODEL``).

    ``""``: the shipped model when it was trained for this taxonomy, else none (a custom
    taxonomy runs alone); ``"none"``: none; a path: that model, which must fit the taxonomy.
    """
    if choice == "none":
        return None
    if choice == "":
        if not DEFAULT_MODEL.exists():
            return None
        model = load_topic_model(DEFAULT_MODEL)
        return model if model.applies_to(taxonomy) else None
    model = load_topic_model(Path(choice))
    if not model.applies_to(taxonomy):
        raise TopicModelError(
            f"{choice}: topic model {model.version} was trained for another taxonomy"
        )
    return model


def tagging_description(model: TopicModel | None) -> str:
    """One line for logs and /health: which stages decide the topics."""
    if model is None:
        return "taxonomy alone (no learned second stage)"
    return f"taxonomy candidates + learned second stage {model.version} ({', '.join(model.topics)})"


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
