"""The safeguarding detector: free text in, categories of concern out.

Pure: no I/O at call time, no clock, no randomness.  The only state kept
between calls is a bounded memo of how single words match the vocabulary,
which never changes an answer.
"""

from __future__ import annotations

import functools
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import ConfigError
from bot.safeguarding.normalise import glue_contractions, skeleton
from bot.safeguarding.rules import Pattern, Rule, RuleBook, Vocabulary, load_rulebook

DATA_DIR = Path(__file__).resolve().parent / "data"

# A rule word of at least FUZZY_MIN_WORD letters (after collapsing doubles) also
# matches a word of at least FUZZY_MIN_TOKEN letters one edit away (a letter
# added, dropped, changed, or two neighbours swapped), unless that word is a
# real word listed in ``no_fuzzy``.
FUZZY_MIN_WORD = 5
FUZZY_MIN_TOKEN = 5
FUZZY_MAX_TOKEN = 30
_MEMO_LIMIT = 50_000
_MAX_PARTIAL = 256
_EMPTY: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Detection:
    """What the detector found: never any of the user's text."""

    categories: tuple[str, ...]  # sorted, non-empty
    matched: tuple[str, ...]  # ids of the rules that fired, sorted


class _Lexicon:
    """How one word of a message matches the words the rules mention."""

    __slots__ = (
        "_deletes",
        "_exact",
        "_fuzzy",
        "_memo",
        "_no_fuzzy",
        "_prefix_lengths",
        "_prefixes",
        "_suffixes",
    )

    def __init__(self, vocabulary: Vocabulary) -> None:
        self._exact = vocabulary.exact
        self._fuzzy = frozenset(w for w in vocabulary.fuzzy if len(w) >= FUZZY_MIN_WORD)
        self._no_fuzzy = vocabulary.no_fuzzy
        deletes: dict[str, list[str]] = {}
        for word in sorted(self._fuzzy):
            for i in range(len(word)):
                deletes.setdefault(word[:i] + word[i + 1 :], []).append(word)
        self._deletes = {key: tuple(words) for key, words in deletes.items()}
        self._prefixes = vocabulary.prefixes
        self._prefix_lengths = tuple(sorted({len(p) for p in vocabulary.prefixes}))
        self._suffixes = tuple(sorted(vocabulary.suffixes, key=len, reverse=True))
        self._memo: dict[str, frozenset[str]] = {}

    def known(self, word: str) -> bool:
        return word in self._exact

    def terms(self, token: str) -> frozenset[str]:
        found = self._memo.get(token)
        if found is None:
            found = self._compute(token)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[token] = found
        return found

    def _compute(self, token: str) -> frozenset[str]:
        exact = self._exact
        found: set[str] = set()
        if token in exact:
            found.add(token)
            found.add("~" + token)
        if not token.isalpha():
            return frozenset(found) if found else _EMPTY
        for suffix in self._suffixes:
            if token.endswith(suffix) and len(token) - len(suffix) >= 3:
                stem = token[: -len(suffix)]
                for candidate in (stem, stem + "e"):
                    if candidate in exact:
                        found.add(candidate)
                        found.add("~" + candidate)
        if (
            FUZZY_MIN_TOKEN <= len(token) <= FUZZY_MAX_TOKEN
            and token not in exact
            and token not in self._no_fuzzy
        ):
            for word in self._near_words(token):
                found.add("~" + word)
        for length in self._prefix_lengths:
            if length > len(token):
                break
            head = token[:length]
            if head in self._prefixes:
                found.add(head + "*")
        return frozenset(found) if found else _EMPTY

    def _near_words(self, token: str) -> set[str]:
        """Fuzzy words one edit (Damerau) from ``token``."""
        deletes = self._deletes
        near: set[str] = set(deletes.get(token, ()))  # a letter was dropped
        size = len(token)
        for i in range(size):
            shorter = token[:i] + token[i + 1 :]
            if shorter in self._fuzzy:  # a letter was added
                near.add(shorter)
            for word in deletes.get(shorter, ()):
                if len(word) == size and _one_change(token, word):
                    near.add(word)
        return near


def _one_change(a: str, b: str) -> bool:
    """Same-length strings differing by one substitution or one adjacent swap."""
    diffs = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diffs) == 1:
        return True
    return (
        len(diffs) == 2
        and diffs[1] == diffs[0] + 1
        and a[diffs[0]] == b[diffs[1]]
        and a[diffs[1]] == b[diffs[0]]
    )


class _Message:
    """Per-message matching state: where each term occurs, with memoised step positions."""

    __slots__ = ("_cache", "_idiom_spans", "index")

    def __init__(self, index: dict[str, list[int]], steps: int) -> None:
        self.index = index
        self._cache: list[list[int] | None] = [None] * steps
        self._idiom_spans: list[tuple[int, int]] | None = None

    def positions(self, step_index: int, terms: frozenset[str]) -> list[int]:
        cached = self._cache[step_index]
        if cached is None:
            index = self.index
            if len(terms) < len(index):
                found = {p for t in terms if t in index for p in index[t]}
            else:
                found = {p for t, where in index.items() if t in terms for p in where}
            cached = sorted(found)
            self._cache[step_index] = cached
        return cached

    def sequence(self, pattern: Pattern) -> list[tuple[int, ...]]:
        """Every way ``pattern`` matches, as the positions of its words."""
        first = self.positions(pattern[0].index, pattern[0].terms)
        partial: list[tuple[int, ...]] = [(p,) for p in first]
        for step in pattern[1:]:
            if not partial:
                return partial
            where = self.positions(step.index, step.terms)
            if not where:
                return []
            extended: list[tuple[int, ...]] = []
            for match in partial:
                low = match[-1] + 1
                start = bisect_left(where, low)
                stop = bisect_right(where, low + step.gap)
                for p in where[start:stop]:
                    extended.append((*match, p))
            partial = extended[:_MAX_PARTIAL]
        return partial

    def near(self, patterns: Sequence[Pattern], window: int) -> list[tuple[int, ...]]:
        """Matches of all ``patterns`` inside a stretch of at most ``window`` words."""
        spans: list[list[tuple[int, int, tuple[int, ...]]]] = []
        for pattern in patterns:
            found = self.sequence(pattern)
            if not found:
                return []
            spans.append(sorted((m[0], m[-1], m) for m in found))
        results: list[tuple[int, ...]] = []
        for anchor_at, anchor_spans in enumerate(spans):
            for start, end, positions in anchor_spans:
                if end - start > window:
                    continue
                combined = set(positions)
                last = end
                for other_at, other in enumerate(spans):
                    if other_at == anchor_at:
                        continue
                    best: tuple[int, int, tuple[int, ...]] | None = None
                    i = bisect_left(other, (start, -1, ()))
                    while i < len(other) and other[i][0] <= start + window:
                        candidate = other[i]
                        if best is None or candidate[1] < best[1]:
                            best = candidate
                        i += 1
                    if best is None or best[1] - start > window:
                        break
                    combined.update(best[2])
                    last = max(last, best[1])
                else:
                    if last - start <= window:
                        results.append(tuple(sorted(combined)))
                if len(results) >= _MAX_PARTIAL:
                    return results
        return results

    def spans(self, patterns: Sequence[Pattern]) -> list[tuple[int, int]]:
        return [(m[0], m[-1]) for pattern in patterns for m in self.sequence(pattern)]

    def idiom_spans(self, book: RuleBook) -> list[tuple[int, int]]:
        if self._idiom_spans is None:
            self._idiom_spans = [
                span for idiom in book.idioms for span in self.spans(idiom.alternatives)
            ]
        return self._idiom_spans


def _covered(match: tuple[int, ...], spans: Sequence[tuple[int, int]]) -> bool:
    low, high = min(match), max(match)
    return any(start <= low and high <= end for start, end in spans)


def _trigger_terms(rule: Rule) -> frozenset[str]:
    """Terms of which at least one must occur for ``rule`` to have any chance."""
    if rule.alternatives:
        terms: set[str] = set()
        for pattern in rule.alternatives:
            terms |= min((step.terms for step in pattern), key=len)
        return frozenset(terms)
    return min((min((s.terms for s in p), key=len) for p in rule.near), key=len)


class Detector:
    """Checks free text against the shipped rules plus any organisation files."""

    __slots__ = ("_book", "_first", "_lexicon", "_second", "_trigger")

    def __init__(self, book: RuleBook) -> None:
        self._book = book
        self._lexicon = _Lexicon(book.vocabulary)
        trigger: dict[str, list[int]] = {}
        for at, rule in enumerate(book.rules):
            for term in _trigger_terms(rule):
                trigger.setdefault(term, []).append(at)
        self._trigger = trigger
        self._first = frozenset(at for at, rule in enumerate(book.rules) if not rule.requires)
        self._second = frozenset(at for at, rule in enumerate(book.rules) if rule.requires)
        self._check_examples()

    @classmethod
    def load(cls, extra_files: Sequence[Path] = ()) -> Detector:
        """The shipped rules (``data/*.toml``) followed by ``extra_files``, in order.

        Raises ConfigError, naming the file and key, if any file is malformed.
        """
        shipped = sorted(DATA_DIR.glob("*.toml"))
        if not shipped:
            raise ConfigError(f"{DATA_DIR}: no safeguarding rules files (*.toml) found")
        return cls(load_rulebook([*shipped, *(Path(p) for p in extra_files)]))

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self._book.rules)

    def tokens(self, text: str) -> list[str]:
        """The normalised words the rules see (for tests and tuning)."""
        normaliser = self._book.normaliser
        raw = self._join_spelled(normaliser.raw_tokens(text))
        return normaliser.rewrite(glue_contractions(raw))

    def detect(self, text: str) -> Detection | None:
        fired = self._fired(text)
        if not fired:
            return None
        categories = sorted({c for rule in fired for c in rule.categories})
        return Detection(
            categories=tuple(categories), matched=tuple(sorted(rule.id for rule in fired))
        )

    # -- internals -------------------------------------------------------------

    def _fired(self, text: str) -> list[Rule]:
        tokens = self.tokens(text)
        if not tokens:
            return []
        lexicon = self._lexicon
        terms = [lexicon.terms(token) for token in tokens]
        self._join_split(tokens, terms)
        index: dict[str, list[int]] = {}
        for at, found in enumerate(terms):
            for term in found:
                index.setdefault(term, []).append(at)
        if not index:
            return []
        candidates: set[int] = set()
        for term in index:
            rules = self._trigger.get(term)
            if rules:
                candidates.update(rules)
        if not candidates:
            return []
        message = _Message(index, self._book.steps)
        rules = self._book.rules
        fired = [
            rules[at] for at in sorted(candidates & self._first) if self._fires(rules[at], message)
        ]
        categories = {c for rule in fired for c in rule.categories}
        for at in sorted(candidates & self._second):
            rule = rules[at]
            if categories.intersection(rule.requires) and self._fires(rule, message):
                fired.append(rule)
        return fired

    def _fires(self, rule: Rule, message: _Message) -> bool:
        if rule.alternatives:
            matches = [m for pattern in rule.alternatives for m in message.sequence(pattern)]
        else:
            matches = message.near(rule.near, rule.window)
        if not matches:
            return False
        suppress = message.idiom_spans(self._book)
        if rule.unless:
            suppress = [*suppress, *message.spans(rule.unless)]
        if not suppress:
            return True
        return any(not _covered(match, suppress) for match in matches)

    def _join_spelled(self, tokens: list[str]) -> list[str]:
        """Join letters typed with spaces ("s u i c i d e") when they spell a rule word."""
        if sum(1 for token in tokens if len(token) == 1) < 3:
            return tokens
        out: list[str] = []
        i = 0
        n = len(tokens)
        while i < n:
            if len(tokens[i]) == 1 and tokens[i].isalpha():
                j = i
                while j < n and len(tokens[j]) == 1 and tokens[j].isalpha() and j - i < 30:
                    j += 1
                if j - i >= 3:
                    k = i
                    while k < j:
                        for end in range(j, k + 2, -1):
                            joined = skeleton("".join(tokens[k:end]))
                            if self._lexicon.terms(joined):
                                out.append(joined)
                                k = end
                                break
                        else:
                            out.append(tokens[k])
                            k += 1
                    i = j
                    continue
            out.append(tokens[i])
            i += 1
        return out

    def _join_split(self, tokens: list[str], terms: list[frozenset[str]]) -> None:
        """Join a word broken by a space ("sui cide") when neither half is a rule word."""
        lexicon = self._lexicon
        for i in range(len(tokens) - 1):
            if terms[i] or terms[i + 1]:
                continue
            first, second = tokens[i], tokens[i + 1]
            if len(first) + len(second) < 5 or not (first.isalpha() and second.isalpha()):
                continue
            joined = skeleton(first + second)
            if lexicon.known(joined):
                terms[i] = lexicon.terms(joined)

    def _check_examples(self) -> None:
        for rule in self._book.rules:
            for example in rule.examples:
                if not any(fired is rule for fired in self._fired(example)):
                    raise ConfigError(
                        f"{rule.source}: [[rule]] '{rule.id}': key 'examples': {example!r} does "
                        "not fire this rule; fix the pattern or the example"
                    )
        for idiom in self._book.idioms:
            for example in idiom.examples:
                tokens = self.tokens(example)
                terms = [self._lexicon.terms(token) for token in tokens]
                index: dict[str, list[int]] = {}
                for at, found in enumerate(terms):
                    for term in found:
                        index.setdefault(term, []).append(at)
                if not _Message(index, self._book.steps).spans(idiom.alternatives):
                    raise ConfigError(
                        f"{idiom.source}: [[idiom]] '{idiom.id}': key 'examples': {example!r} "
                        "is not matched by this idiom; fix the pattern or the example"
                    )


@functools.cache
def default_detector() -> Detector:
    """The detector for the shipped rules only, built once."""
    return Detector.load()
