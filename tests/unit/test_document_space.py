"""The document space: fitted by scikit-learn at training, read by NumPy in the stream."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from monitor.errors import TopicModelError
from monitor.tagging.model import TopicClassifier, TopicModel, load_topic_model
from monitor.tagging.space import TEXT_CHARS, DocumentSpace, document_text, load_space

pytest.importorskip("sklearn")

TEXTS = [
    "Air defence units shot down drones over Kyiv overnight",
    "Patriot batteries intercepted missiles; air defence held",
    "Drones and missiles hit the grid; air defence shot most down",
    "Both sides agreed a ceasefire after talks in Istanbul",
    "The truce held a second day; ceasefire talks go on",
    "Ceasefire monitors reported shelling despite the truce",
    "The coalition of the willing met in Paris to plan support",
    "Allies pledged troops to the coalition's reassurance force",
    "Coalition leaders met allies in Paris about troops",
] * 3


@pytest.fixture(scope="module")
def space() -> DocumentSpace:
    return DocumentSpace.fit(TEXTS, dimensions=4, min_documents=2)


def test_a_position_is_where_scikit_learn_puts_the_text(space: DocumentSpace) -> None:
    # Refit scikit-learn's own pipeline and project with the stored (half-precision)
    # projection: the stream's NumPy reading must point the same way.
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    words = r"\b\w\w+\b"  # scikit-learn's default, which the space is documented to use
    vectorizer = TfidfVectorizer(
        sublinear_tf=True, min_df=2, max_df=0.5, stop_words="english", token_pattern=words
    ).fit(TEXTS)
    assert tuple(vectorizer.get_feature_names_out()) == space.vocabulary
    text = "Air defence shot down drones; drones again, and the ceasefire talks"
    expected = normalize(vectorizer.transform([text]) @ space.components.T)[0]
    assert np.allclose(space.position(text, ""), expected, atol=1e-6)


def test_a_position_has_unit_length_and_ignores_case_and_unknown_words(
    space: DocumentSpace,
) -> None:
    place = space.position("CEASEFIRE talks", "the truce held")
    assert len(place) == space.dimensions
    assert sum(v * v for v in place) == pytest.approx(1.0)
    assert space.position("ceasefire talks", "the truce held zzyzx") == place
    assert space.position("", "") == ()
    assert space.position("zzyzx", "qwerty") == ()  # none of its words is known


def test_articles_on_one_subject_stand_together(space: DocumentSpace) -> None:
    def cosine(a: tuple[float, ...], b: tuple[float, ...]) -> float:
        return float(np.dot(a, b))

    drones = space.position("Drones shot down", "air defence intercepted missiles")
    patriot = space.position("Patriot missiles", "air defence units held")
    truce = space.position("Truce", "ceasefire talks held in Istanbul")
    assert cosine(drones, patriot) > cosine(drones, truce)


def test_only_the_start_of_a_long_text_is_read(space: DocumentSpace) -> None:
    lead = "ceasefire talks " * 10
    assert document_text("Title", lead + "x" * TEXT_CHARS).startswith("Title\n" + lead)
    assert len(document_text("Title", lead + "drones " * 5000)) == TEXT_CHARS
    assert space.position("", lead + " " * TEXT_CHARS + "drones " * 100) == space.position("", lead)


def test_the_space_file_round_trips_and_is_bound_to_its_model(
    space: DocumentSpace, tmp_path: Path
) -> None:
    path = tmp_path / "m.space.npz"
    path.write_bytes(space.to_bytes())
    again = load_space(path, space.digest)
    assert again == space
    assert again.position("ceasefire", "truce") == space.position("ceasefire", "truce")
    with pytest.raises(TopicModelError, match="make train"):
        load_space(path, "0" * 16)
    path.write_bytes(b"not a space")
    with pytest.raises(TopicModelError, match="not a document space"):
        load_space(path, space.digest)


def test_a_model_file_names_its_space_beside_it(space: DocumentSpace, tmp_path: Path) -> None:
    classifier = TopicClassifier({"d:0": 1.0}, bias=0.0, slope=1.0, intercept=0.0, threshold=0.5)
    model = TopicModel("v1", "abc", {"ceasefire": classifier}, space)
    with pytest.raises(TopicModelError, match="file name"):
        model.to_json()
    (tmp_path / "m.space.npz").write_bytes(space.to_bytes())
    path = tmp_path / "m.json"
    path.write_text(json.dumps(model.to_json("m.space.npz")), encoding="utf-8")
    assert load_topic_model(path) == model
    (tmp_path / "m.space.npz").unlink()
    with pytest.raises(TopicModelError, match="cannot read the document space"):
        load_topic_model(path)
    path.write_text(json.dumps(model.to_json("../m.space.npz")), encoding="utf-8")
    with pytest.raises(TopicModelError, match="not a file name"):
        load_topic_model(path)


@pytest.mark.parametrize("order", ["C", "F"])
def test_the_projection_is_held_once_whatever_its_memory_order(order: str) -> None:
    rng = np.random.default_rng(0)
    components = np.asarray(rng.random((4, 6)), order=order)
    space = DocumentSpace.stored(tuple("abcdef"), np.ones(6), components)
    assert np.shares_memory(space.components, space.by_word)
    assert np.array_equal(space.components, components.astype(np.float16))
    again = DocumentSpace.from_bytes(space.to_bytes())
    assert again == space
    assert np.shares_memory(again.components, again.by_word)
