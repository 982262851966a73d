"""Stories: near-duplicate articles (wire copies, light edits) share a story id.

An article's fingerprint is a 64-bit SimHash over the word 3-shingles of its body (of
title and body when the body is shorter than ``BODY_WORDS`` words), on norms, so
spelling and inflection edits barely move it and a rewritten headline does not move it
at all. Two articles belong to one story when their fingerprints differ in at most
``MAX_DISTANCE`` = 8 bits. Measured: on the seed article a dateline prefix or a new
headline moves 0 bits, three word edits 2, dropping the last of nine paragraphs 7 (two
paragraphs: 10, no longer the same story); among 8.5 million pairs of unrelated corpus
articles, two came within 10 bits and none within 7. Neighbours are found by banding:
with 9 bands, two fingerprints within 8 bits share at least one band exactly
(pigeonhole).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache
from itertools import chain, pairwise

import numpy as np

from monitor.text.fields import Field

BITS = 64
MAX_DISTANCE = 8
BANDS = MAX_DISTANCE + 1
BODY_WORDS = 40
_EDGES = [round(i * BITS / BANDS) for i in range(BANDS + 1)]
_SHINGLE = 3


# Odd multipliers that mix word hashes into a shingle hash, and the SplitMix64 finaliser.
_M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)
_F1, _F2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


@lru_cache(maxsize=262_144)
def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")


def story_fields(title: Field, body: Field) -> tuple[Field, ...]:
    """The fields a story fingerprint covers: the body, or title and body when it is short."""
    return (body,) if len(body) >= BODY_WORDS else (title, body)


def fingerprint(fields: Iterable[Field]) -> int:
    """The SimHash of the word 3-shingles of the given fields (deterministic everywhere)."""
    hashes = chain.from_iterable(map(_word_hash, field.norms) for field in fields)
    words = np.fromiter(hashes, dtype=np.uint64)
    if len(words) < _SHINGLE:
        words = np.concatenate([words, np.zeros(_SHINGLE - len(words), dtype=np.uint64)])
    with np.errstate(over="ignore"):
        mixed = words[:-2] * _M1 ^ words[1:-1] * _M2 ^ words[2:]
        mixed ^= mixed >> np.uint64(30)
        mixed *= _F1
        mixed ^= mixed >> np.uint64(27)
        mixed *= _F2
        mixed ^= mixed >> np.uint64(31)
    # One row of 64 bits per shingle (bit i of the hash in column i), counted per column.
    bits = np.unpackbits(mixed.astype("<u8").view(np.uint8), bitorder="little")
    majority = bits.reshape(-1, BITS).sum(axis=0) * 2 > len(mixed)
    return int(np.packbits(majority, bitorder="little").view("<u8")[0])


def distance(a: int, b: int) -> int:
    """Hamming distance between two fingerprints."""
    return (a ^ b).bit_count()


def bands(value: int) -> tuple[str, ...]:
    """The band keys of a fingerprint: ``"<band>:<bits of that band in hex>"``."""
    return tuple(
        f"{b}:{value >> low & ((1 << (high - low)) - 1):03x}"
        for b, (low, high) in enumerate(pairwise(_EDGES))
    )


def story_id_of(value: int) -> str:
    """The story id a fingerprint founds: 16 hex digits."""
    return f"{value:016x}"
