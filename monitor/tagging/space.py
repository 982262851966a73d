"""Where an article stands among the themes of the news: a document space learnt from the corpus.

The second stage's words are the article's own; an article about a topic that names it in
words the labelled set never paired with it (an institution, a format, an operation) has
little for the linear model to go on. Latent semantic analysis places every article in a
space of a few hundred themes learnt, without labels, from the words that occur together
across the whole corpus: articles on the same subject stand close together whichever of
its words they use. The second stage reads an article's position (unit length, so a long
article stands where a short one on the same subject does) as features ``d:0`` ... beside
its words (docs/topic-tagging.md: what it gains, measured).

:meth:`DocumentSpace.fit` learns the space (``make train``, scikit-learn); the stream only
reads it: :meth:`DocumentSpace.position` is a count of the article's words, a weighting and
one projection, in NumPy. The words are found the way scikit-learn's ``TfidfVectorizer``
finds them (runs of two or more word characters, lower-cased), so the space fitted there and
the one read here are the same.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from monitor.errors import TopicModelError

#: The words of a text, as scikit-learn's default token pattern finds them (after lower-casing).
TOKEN = re.compile(r"\b\w\w+\b")
#: Only the start of a long text is read: the lead carries the subject.
TEXT_CHARS = 6000


def document_text(title: str, body: str) -> str:
    """The text an article is placed by: its title and the start of its body."""
    return f"{title}\n{body}"[:TEXT_CHARS]


def words_of(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


@dataclass(frozen=True, slots=True, eq=False)
class DocumentSpace:
    """Vocabulary, inverse document frequencies and the projection onto the themes.

    Two spaces are equal when they hold the same numbers (:attr:`digest`)."""

    vocabulary: tuple[str, ...]
    idf: npt.NDArray[np.float64]
    components: npt.NDArray[np.float64]  # themes x vocabulary
    index: dict[str, int] = field(init=False, repr=False)
    #: The projection with a row per word (what :meth:`place` gathers).
    by_word: npt.NDArray[np.float64] = field(init=False, repr=False)
    #: A digest of what the space holds (not of its file, whose zip records a time).
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        if self.components.ndim != 2 or self.components.shape[1] != len(self.vocabulary):
            raise TopicModelError("document space: projection and vocabulary disagree")
        if self.idf.shape != (len(self.vocabulary),):
            raise TopicModelError("document space: idf and vocabulary disagree")
        object.__setattr__(self, "index", {w: k for k, w in enumerate(self.vocabulary)})
        by_word = np.ascontiguousarray(self.components.T)
        object.__setattr__(self, "by_word", by_word)
        object.__setattr__(self, "components", by_word.T)  # a view: the numbers held once
        h = hashlib.sha256("\n".join(self.vocabulary).encode())
        h.update(self.idf.astype(np.float32).tobytes())
        h.update(self.components.astype(np.float16).tobytes())
        object.__setattr__(self, "digest", h.hexdigest()[:16])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DocumentSpace) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    @property
    def dimensions(self) -> int:
        return int(self.components.shape[0])

    def position(self, title: str, body: str) -> tuple[float, ...]:
        """The article's place in the space, unit length; () when none of its words is known.

        Each known word weighs (1 + log count) x idf, as the space was fitted."""
        place = self.place(title, body)
        return () if place is None else tuple(place.tolist())

    def place(self, title: str, body: str) -> npt.NDArray[np.float64] | None:
        """:meth:`position` as a NumPy vector (None for ()), as the stream reads it."""
        index = self.index
        counts = Counter(words_of(document_text(title, body)))
        known = [(index[w], n) for w, n in counts.items() if w in index]
        if not known:
            return None
        rows = np.fromiter((k for k, _ in known), dtype=np.intp, count=len(known))
        weights = np.log(np.fromiter((n for _, n in known), dtype=np.float64, count=len(known)))
        point = (weights + 1.0) * self.idf[rows] @ self.by_word[rows]
        norm = math.sqrt(float(point @ point))
        return None if norm == 0.0 else point / norm

    @classmethod
    def fit(
        cls, texts: Iterable[str], dimensions: int, min_documents: int, seed: int = 0
    ) -> DocumentSpace:
        """Learn a space from texts (:func:`document_text` of each): TF-IDF with sub-linear
        counts over the words in at least ``min_documents`` texts and at most half of them
        (English stop words left out), then a truncated SVD. Needs scikit-learn."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(
            sublinear_tf=True,
            min_df=min_documents,
            max_df=0.5,
            stop_words="english",
            token_pattern=TOKEN.pattern,
            dtype=np.float64,
        )
        matrix = vectorizer.fit_transform(texts)
        svd = TruncatedSVD(dimensions, random_state=seed).fit(matrix)
        vocabulary = tuple(str(w) for w in vectorizer.get_feature_names_out())
        return cls.stored(vocabulary, vectorizer.idf_, svd.components_)

    @classmethod
    def stored(
        cls,
        vocabulary: tuple[str, ...],
        idf: npt.NDArray[np.floating],
        components: npt.NDArray[np.floating],
    ) -> DocumentSpace:
        """The space as its file holds it: idf in single, the projection in half precision
        (what is fitted is rounded so, and training scores the very numbers the stream will)."""
        return cls(
            vocabulary,
            np.asarray(idf, dtype=np.float32).astype(np.float64),
            np.asarray(components, dtype=np.float16).astype(np.float64),
        )

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            vocabulary=np.array(self.vocabulary, dtype=np.str_),
            idf=self.idf.astype(np.float32),
            components=self.components.astype(np.float16),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "<space>") -> DocumentSpace:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as stored:
                return cls.stored(
                    tuple(str(w) for w in stored["vocabulary"]),
                    stored["idf"],
                    stored["components"],
                )
        except (OSError, ValueError, KeyError) as exc:
            raise TopicModelError(f"{source}: not a document space ({exc})") from exc


def load_space(path: Path, expected_digest: str) -> DocumentSpace:
    """Read a space file; refuse one that is not the space its model was trained with."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TopicModelError(f"{path}: cannot read the document space: {exc}") from exc
    space = DocumentSpace.from_bytes(data, str(path))
    if space.digest != expected_digest:
        raise TopicModelError(
            f"{path}: document space {space.digest} is not the one the model was trained "
            f"with ({expected_digest}): run `make train`"
        )
    return space
