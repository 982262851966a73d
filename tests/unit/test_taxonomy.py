"""Taxonomy files: the default loads; a bad file is refused with file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import TaxonomyError
from monitor.tagging.taxonomy import DEFAULT_WITHIN, Near, Term, load_taxonomy

GOOD = """\
topics:
  - name: ceasefire
    threshold: 3
    terms:
      - ceasefire
      - {term: truce, weight: 2, unless: [trade], within: 4}
      - {term: Patriot, weight: 3, exact: true, requires: [missile]}
    near:
      - {a: [agree], b: [ceasefire], within: 5, weight: 2, ordered: true}
"""


# A topic with a name and threshold, ready for its terms.
HEAD = "topics:\n  - name: t\n    threshold: 3\n"
TERMS = HEAD + "    terms:\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_taxonomy_loads() -> None:
    taxonomy = load_taxonomy()
    assert taxonomy.names == ("air_defence", "ceasefire", "coalition")
    assert taxonomy.field_weights == {"title": 2.0, "lead": 1.5, "body": 1.0}


def test_extended_format_is_parsed(tmp_path: Path) -> None:
    topic = load_taxonomy(write(tmp_path, GOOD)).topics[0]
    assert topic.terms == (
        Term("ceasefire", 1.0),
        Term("truce", 2.0, unless=("trade",), within=4),
        Term("Patriot", 3.0, exact=True, requires=("missile",), within=DEFAULT_WITHIN),
    )
    assert topic.near == (Near(("agree",), ("ceasefire",), 5, 2.0, ordered=True),)


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("topics: [\n  - name: x\n", 2, 3, "expected"),  # bad YAML: unclosed flow sequence
        ("topics:\n  - name: t\n    terms: [a]\n", 2, 5, "missing 'threshold'"),
        ("topics:\n  - name: t\n    threshold: high\n    terms: [a]\n", 3, 16, "must be a number"),
        ("topics:\n  - name: t\n    threshold: 3\n    terms: a\n", 4, 12, "non-empty list"),
        (TERMS + "      - {term: a, weight: x}\n", 5, 27, "'weight' must be a number"),
        (
            "topics:\n  - {name: t, threshold: 3, terms: [a]}\n"
            "  - {name: t, threshold: 3, terms: [b]}\n",
            3,
            5,
            "duplicate topic 't'",
        ),
        (
            "topics:\n  - name: t\n    threshold: 3\n    colour: red\n    terms: [a]\n",
            4,
            13,
            "unknown key 'colour'",
        ),
        (
            TERMS + "      - {term: a, weight: 1, fields: [footer]}\n",
            5,
            38,
            "unknown field 'footer'",
        ),
        (
            TERMS + "      - {term: a, weight: 1, exact: 2}\n",
            5,
            37,
            "'exact' must be true or false",
        ),
        (
            HEAD + "    terms: [a]\n    near:\n      - {a: [x], b: [y], within: 0, weight: 1}\n",
            6,
            34,
            "within must be",
        ),
        ('topics:\n  - name: t\n    threshold: 3\n    terms: ["  "]\n', 4, 13, "word or phrase"),
    ],
    ids=[
        "bad-yaml",
        "missing-threshold",
        "threshold-type",
        "terms-type",
        "weight-type",
        "duplicate-topic",
        "unknown-key",
        "unknown-field",
        "exact-type",
        "within-zero",
        "empty-term",
    ],
)
def test_refused_with_file_line_and_column(
    tmp_path: Path, text: str, line: int, column: int, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(path)
    error = caught.value
    assert (error.location.path, error.location.line, error.location.column) == (
        str(path),
        line,
        column,
    )
    assert message in error.message
    assert str(path) in str(error)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="cannot read"):
        load_taxonomy(tmp_path / "absent.yaml")
