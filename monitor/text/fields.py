"""Text normalisation shared by the taxonomy and the rule language.

A word's *norm* is what matching compares: lower case, British spelling mapped to
American (defence/defense, -our/-or, -ise/-ize, -tre/-ter), then the Snowball English
stem, so inflections meet (missiles/missile, paused/pause). Hyphenated compounds are
kept as their parts *and* offered joined (``cease-fire`` also reads ``ceasefire``), so a
pattern matches every hyphen and spacing variant. Positions count words only:
punctuation and possessive ``'s`` take no position.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import Stemmer

_STEMMER = Stemmer.Stemmer("english")

_SPELLINGS = {
    "defence": "defense",
    "offence": "offense",
    "licence": "license",
    "pretence": "pretense",
    "defences": "defenses",
    "offences": "offenses",
    "licences": "licenses",
    "pretences": "pretenses",
    "programme": "program",
    "programmes": "programs",
    "manoeuvre": "maneuver",
    "manoeuvres": "maneuvers",
    "grey": "gray",
    "aeroplane": "airplane",
    "aeroplanes": "airplanes",
    "tyre": "tire",
    "tyres": "tires",
    "sceptic": "skeptic",
    "sceptical": "skeptical",
    "mould": "mold",
    "plough": "plow",
    "storey": "story",
    "cheque": "check",
    "kerb": "curb",
    "jewellery": "jewelry",
    "ageing": "aging",
    "judgement": "judgment",
    "enrol": "enroll",
    "fulfil": "fulfill",
    "artefact": "artifact",
    "draught": "draft",
    "pyjamas": "pajamas",
}
_TRE = ("centre", "theatre", "metre", "litre", "fibre", "calibre", "sabre", "spectre", "lustre")
# -ise words that are not the British form of an -ize word.
_ISE_KEEP = frozenset(
    (
        "advertis",
        "apprais",
        "arise",
        "chastis",
        "circumcis",
        "compris",
        "compromis",
        "concis",
        "demis",
        "despis",
        "devis",
        "disguis",
        "enterpris",
        "excis",
        "exercis",
        "expertis",
        "franchis",
        "improvis",
        "incis",
        "merchandis",
        "noise",
        "otherwis",
        "pois",
        "practis",
        "praise",
        "precis",
        "premis",
        "promis",
        "rais",
        "reprise",
        "revis",
        "supervis",
        "surmis",
        "surpris",
        "televis",
        "treatis",
        "wise",
        "cruis",
        "bruis",
        "premise",
        "paradis",
        "anis",
    )
)
_OUR_KEEP = frozenset(["devour", "detour", "contour", "paramour", "troubadour", "velour"])
_ISE = re.compile(r"^(?P<root>[a-z]{3,}?)is(?P<tail>e|ed|es|ing|er|ers|ation|ations|ational)$")
_YSE = re.compile(r"^(?P<root>[a-z]+)lys(?P<tail>e|ed|es|ing)$")
_OUR = re.compile(r"^(?P<root>[a-z]{3,})our(?P<tail>|s|ed|ing|ite|ites|able|ful|less)$")
_HYPHENS = frozenset("-‐‑‒–")  # hyphen-minus, hyphen, non-breaking hyphen, figure, en dash
_APOSTROPHE_S = frozenset({"'s", "’s", "'", "’"})


def americanize(word: str) -> str:
    """Map a lower-case British spelling to its American form; other words pass through."""
    if word in _SPELLINGS:
        return _SPELLINGS[word]
    for tre in _TRE:
        if word.startswith(tre):
            return tre[:-2] + "er" + word[len(tre) :]
    if match := _ISE.match(word):
        root = match["root"]
        if not any((root + "is").startswith(keep) or root.endswith(keep) for keep in _ISE_KEEP):
            return f"{root}iz{match['tail']}"
    if match := _YSE.match(word):
        return f"{match['root']}lyz{match['tail']}"
    if (match := _OUR.match(word)) and f"{match['root']}our" not in _OUR_KEEP:
        return f"{match['root']}or{match['tail']}"
    return word


@lru_cache(maxsize=262_144)
def norm(word: str) -> str:
    """The matching form of one word: lower case, American spelling, English stem."""
    lowered = word.lower().replace("’", "'").replace(".", "")
    stem: str = _STEMMER.stemWord(americanize(lowered))
    return stem


def norms(words: Iterable[str]) -> tuple[str, ...]:
    """Norms of several words."""
    return tuple(norm(word) for word in words)


_WORD = re.compile(r"[^\W_]+(?:['’.][^\W_]+)*\.?", re.UNICODE)


def pattern_words(phrase: str) -> tuple[str, ...]:
    """Split a pattern phrase into words the way text is split (hyphens separate words)."""
    return tuple(m.group(0) for m in _WORD.finditer(phrase))


def pattern_variants(phrase: str) -> tuple[tuple[str, ...], ...]:
    """Every token sequence of norms that should match ``phrase``.

    ``"air defence"`` gives ``(air, defens)`` and the joined ``(airdefens,)``;
    a single word gives itself. Empty phrases give nothing.
    """
    words = pattern_words(phrase)
    if not words:
        return ()
    split = norms(words)
    if len(words) == 1 or len(words) > 4:
        return (split,)
    joined = (norm("".join(words)),)
    return (split, joined) if joined != split else (split,)


@dataclass(frozen=True, slots=True)
class Field:
    """One text field split into words, as parallel tuples indexed by word position.

    ``starts``/``ends`` are character offsets into ``text``. ``compounds`` lists the
    hyphenated compounds joined, each as ``(norm, first_position, last_position)``.
    """

    name: str
    text: str
    norms: tuple[str, ...]
    lowers: tuple[str, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    compounds: tuple[tuple[str, int, int], ...] = ()

    def __len__(self) -> int:
        return len(self.norms)

    def snippet(self, start: int, end: int, width: int = 60) -> Snippet:
        """The text around characters ``start:end``, cut at word boundaries, one line, with
        where those characters stand in it (runs of white space count as one space)."""
        left = max(0, start - width)
        right = min(len(self.text), end + width)
        if left > 0 and (space := self.text.find(" ", left, start)) != -1:
            left = space + 1
        if right < len(self.text) and (space := self.text.rfind(" ", end, right)) != -1:
            right = space
        before = _SPACES.sub(" ", self.text[left:start]).lstrip()
        hit = _SPACES.sub(" ", self.text[start:end])
        after = _SPACES.sub(" ", self.text[end:right]).rstrip()
        lead = "…" if left > 0 else ""
        mark = len(lead) + len(before)
        tail = "…" if right < len(self.text) else ""
        return Snippet(lead + before + hit + after + tail, mark, mark + len(hit))


class Snippet(NamedTuple):
    """A one-line excerpt and the span ``start:end`` in it of the text it was made for."""

    text: str
    start: int
    end: int


_SPACES = re.compile(r"\s+")


#: What a token is, by spaCy's ORTH id of its text: a word's ``(lower, norm)``, or one of
#: the two markers below. Texts repeat, so most tokens cost one dictionary lookup.
_TOKENS: dict[int, tuple[str, str]] = {}
_TOKEN_CACHE = 262_144
_HYPHEN = ("", "-")  # a hyphen (joins the words around it when nothing separates them)
_OTHER = ("", "")  # punctuation, a possessive, whitespace: no word, no position


def build_field(name: str, text: str, columns: Sequence[Sequence[int]]) -> Field:
    """Make a Field from a tokenizer's tokens, given as four parallel columns.

    ``columns`` is ``(offsets, lengths, spaced, orths)``: token ``i`` is
    ``text[offsets[i] : offsets[i] + lengths[i]]``, followed by a space when ``spaced[i]``;
    ``orths[i]`` identifies its text (spaCy's ORTH id: equal texts, equal ids).
    Punctuation and possessives are dropped; hyphens between two words with no space
    around them join those words into a compound.
    """
    offsets, lengths, spaced, orths = columns
    # The hot loop of tagging: locals only, one dictionary lookup per token, a running
    # word count instead of len(), and a compound tracked as the index of its first word
    # (``run``); _close_compound is only called when a compound of several words ends.
    lowers: list[str] = []
    normed: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    compounds: list[tuple[str, int, int]] = []
    known = _TOKENS
    hyphen, other = _HYPHEN, _OTHER
    count = 0  # == len(lowers)
    run = 0  # first word of the compound being built; == count when none
    joinable = False  # the previous token was a hyphen glued to a word on its left
    end = -1  # where the last word ends
    for offset, length, space, orth in zip(offsets, lengths, spaced, orths, strict=True):
        token = known.get(orth)
        if token is None:
            token = _learn(orth, text[offset : offset + length])
        if token is hyphen:
            joinable = run < count and not space and end == offset
            continue
        if token is other:
            if count - run > 1:
                _close_compound(text, starts, ends, run, compounds)
            run = count
            joinable = False
            continue
        if not (joinable and end + 1 == offset):
            if count - run > 1:
                _close_compound(text, starts, ends, run, compounds)
            run = count
        joinable = False
        lowers.append(token[0])
        normed.append(token[1])
        starts.append(offset)
        end = offset + length
        ends.append(end)
        count += 1
        if space:
            if count - run > 1:
                _close_compound(text, starts, ends, run, compounds)
            run = count
    if count - run > 1:
        _close_compound(text, starts, ends, run, compounds)
    return Field(
        name, text, tuple(normed), tuple(lowers), tuple(starts), tuple(ends), tuple(compounds)
    )


def _learn(orth: int, surface: str) -> tuple[str, str]:
    """What the token ``surface`` is (see ``_TOKENS``), remembered under ``orth``."""
    if surface in _HYPHENS:
        token = _HYPHEN
    elif surface in _APOSTROPHE_S or not any(ch.isalnum() for ch in surface):
        token = _OTHER
    else:
        lower = surface.lower()
        token = (lower, norm(lower))
    if len(_TOKENS) >= _TOKEN_CACHE:
        _TOKENS.clear()
    _TOKENS[orth] = token
    return token


def field_from_spans(
    name: str,
    text: str,
    starts: Sequence[int],
    ends: Sequence[int],
    compounds: Sequence[tuple[int, int]] = (),
) -> Field:
    """Rebuild the Field that :func:`build_field` made, from where its words are.

    No tokenizer runs: the words are slices of ``text``; ``compounds`` are
    ``(first_position, last_position)`` pairs. Inconsistent spans raise ValueError.
    """
    if len(starts) != len(ends) or any(not 0 <= f < t < len(starts) for f, t in compounds):
        raise ValueError(f"{name}: word spans do not fit together")
    surfaces = [text[start:end] for start, end in zip(starts, ends, strict=True)]
    if not all(surfaces):
        raise ValueError(f"{name}: a word span lies outside the text")
    lowers = tuple([surface.lower() for surface in surfaces])
    joined = tuple((norm("".join(surfaces[f : t + 1])), f, t) for f, t in compounds)
    return Field(name, text, tuple(map(norm, lowers)), lowers, tuple(starts), tuple(ends), joined)


def _close_compound(
    text: str,
    starts: list[int],
    ends: list[int],
    run: int,
    compounds: list[tuple[str, int, int]],
) -> None:
    """Record the words from ``run`` to the last one as one compound, joined."""
    last = len(starts) - 1
    joined = "".join(text[a:b] for a, b in zip(starts[run:], ends[run:], strict=True))
    compounds.append((norm(joined), run, last))
