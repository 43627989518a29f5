"""The learned detector's features: one function, used at training and at run time.

``features(text)`` turns a message into a sparse vector of hashed n-grams:

* character n-grams of 2 to 5 letters inside each word, with the word's edges
  marked (`` cut``, ``ut ``): they survive misspellings, text-speak, Welsh
  mutations (``mhlant`` / ``plant``) and words run together;
* word unigrams and bigrams: they carry the phrases that matter
  ("not safe", "make me", "hold things");
* context cues (``cues.py``): one feature for each family of phrasings that
  marks a near-miss (a past that is over, an innocent injury, a subject
  talked about, an idiom, a negation) or its opposite (still, tonight), and
  one for each pair of cues found together ("used to" with "safe now").

Every n-gram and cue is hashed with CRC-32 (stable across processes and Python
versions, unlike ``hash``) into ``DIMENSION`` buckets. N-gram counts are
sub-linear (``1 + log(count)``) and scaled to unit length, so a long message
weighs no more than a short one; each cue found adds ``CUE_WEIGHT``. The training script
(``scripts/train_detector.py``) calls this same function; nothing else builds
features, so training and inference cannot drift apart.

Pure: no I/O, no clock, no randomness; the only state is a bounded memo of
each word's buckets, which never changes a result.
"""

from __future__ import annotations

import itertools
import math
import zlib

from bot.core.safeguarding.cues import CUES
from bot.core.safeguarding.normalise import split_words, squeeze

DIMENSION = 1 << 18
"""Hash buckets. 262,144 float32 weights are 1 MiB in the model file."""
CHAR_MIN = 2
CHAR_MAX = 5
CUE_WEIGHT = 0.6
"""What one cue adds, beside an n-gram vector of unit length (chosen by
leave-one-writer-out cross-validation with the rest of the recipe)."""
FEATURE_VERSION = 2
"""Bumped when this function changes; the model file records the version it
was trained with and loading refuses a mismatch."""
_MAX_WORDS = 400
"""Only the first words count: past this a message is screened by the rules
alone for the rest (an answer box holds 2,000 characters, about 400 words)."""
_MEMO_LIMIT = 50_000
_MEMO: dict[str, tuple[int, ...]] = {}
"""Word -> buckets. A bounded cache that never changes a result."""


def words_of(text: str) -> list[str]:
    """Folded, apostrophe-free words with stretched letters cut to two."""
    out: list[str] = []
    for raw in split_words(text)[:_MAX_WORDS]:
        word = squeeze(raw.replace("'", ""))
        if word:
            out.append(word)
    return out


def _bucket(gram: str) -> int:
    return zlib.crc32(gram.encode("utf-8")) & (DIMENSION - 1)


def _word_buckets(word: str) -> tuple[int, ...]:
    """The buckets of a word's character n-grams and of the word itself (memoised)."""
    found = _MEMO.get(word)
    if found is None:
        marked = f" {word} "
        size = len(marked)
        grams = [
            "c" + marked[i : i + n]
            for n in range(CHAR_MIN, CHAR_MAX + 1)
            for i in range(size - n + 1)
        ]
        grams.append("w" + word)
        found = tuple(_bucket(g) for g in grams)
        if len(_MEMO) >= _MEMO_LIMIT:
            _MEMO.clear()
        _MEMO[word] = found
    return found


def _cue_index() -> dict[str, tuple[tuple[tuple[str, ...], str], ...]]:
    """First word -> (phrase words, cue name), for every phrase in ``CUES``."""
    index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for name, phrases in CUES.items():
        for phrase in phrases:
            folded = tuple(words_of(phrase))
            if folded:
                index.setdefault(folded[0], []).append((folded, name))
    return {first: tuple(entries) for first, entries in index.items()}


_CUE_INDEX = _cue_index()


def cues_in(words: list[str]) -> list[str]:
    """The names of the cues whose phrases occur in ``words``, sorted."""
    found: set[str] = set()
    for i, word in enumerate(words):
        for phrase, name in _CUE_INDEX.get(word, ()):
            if name not in found and tuple(words[i : i + len(phrase)]) == phrase:
                found.add(name)
    return sorted(found)


def features(text: str) -> dict[int, float]:
    """The message as {bucket: weight} (empty for a text with no words)."""
    counts: dict[int, int] = {}
    words = words_of(text)
    for word in words:
        for b in _word_buckets(word):
            counts[b] = counts.get(b, 0) + 1
    for first, second in itertools.pairwise(words):
        b = _bucket(f"b{first} {second}")
        counts[b] = counts.get(b, 0) + 1
    if not counts:
        return {}
    weights = {b: 1.0 + math.log(c) for b, c in counts.items()}
    norm = math.sqrt(sum(w * w for w in weights.values()))
    vector = {b: w / norm for b, w in weights.items()}
    found = cues_in(words)
    names = found + [f"{a}+{b}" for a, b in itertools.combinations(found, 2)]
    for name in names:
        b = _bucket("q" + name)
        vector[b] = vector.get(b, 0.0) + CUE_WEIGHT
    return vector
