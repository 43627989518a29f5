"""The safeguarding detector: free text in, categories of concern out.

Pure: no I/O at call time, no clock, no randomness.  The only state kept
between calls is a bounded memo of how single words match the vocabulary,
which never changes an answer.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.core.errors import ConfigError
from bot.core.safeguarding.normalise import glue_contractions, skeleton
from bot.core.safeguarding.rules import Pattern, Rule, RuleBook, Vocabulary, load_rulebook

DATA_DIR = Path(__file__).resolve().parent / "data"

# A rule word of at least FUZZY_MIN_WORD letters (after collapsing doubles) also
# matches a word of at least FUZZY_MIN_TOKEN letters one edit away (a letter
# added, dropped, changed, or two neighbours swapped), unless that word is a
# real word listed in ``no_fuzzy``.
FUZZY_MIN_WORD = 5
FUZZY_MIN_TOKEN = 4
FUZZY_MAX_TOKEN = 30
_MEMO_LIMIT = 50_000
_MAX_PARTIAL = 256
_EMPTY: frozenset[str] = frozenset()
_SPELLED = re.compile(r"(?:^| )[a-z] [a-z] [a-z](?: |$)")


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
        "_fuzzy_prefixes",
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
        deletes: dict[str, set[str]] = {}
        for word in sorted(self._fuzzy):
            for i in range(len(word)):
                shorter = word[:i] + word[i + 1 :]
                deletes.setdefault(shorter, set()).add(word)
                # A dropped letter can bring two equal letters together, which the
                # skeleton then merges: "deserve" -> "deerve" -> "derve".
                deletes.setdefault(skeleton(shorter), set()).add(word)
        self._deletes = {key: tuple(sorted(words)) for key, words in deletes.items()}
        self._prefixes = vocabulary.prefixes
        self._prefix_lengths = tuple(sorted({len(p) for p in vocabulary.prefixes}))
        self._fuzzy_prefixes = tuple(
            sorted(p for p in vocabulary.prefixes if len(p) >= FUZZY_MIN_WORD)
        )
        self._suffixes = tuple(sorted(vocabulary.suffixes, key=len, reverse=True))
        self._memo: dict[str, frozenset[str]] = {}

    @property
    def exact(self) -> frozenset[str]:
        return self._exact

    def known(self, word: str) -> bool:
        return word in self._exact

    def typo_of(self, word: str) -> set[str]:
        """Rule words (and ``prefix*``) that ``word`` (a skeleton) would be read as a typo of."""
        if not word.isalpha():
            return set()
        found = self._typos(word, self._stems(word))
        found.update(prefix + "*" for prefix in self._near_prefixes(word))
        return found

    def _typos(self, token: str, stems: list[str]) -> set[str]:
        """Fuzzy words one edit from the token ("sucide") or from a stem of it ("stragled")."""
        if token in self._exact:
            return set()
        found: set[str] = set()
        for candidate in (token, *stems):
            if (
                FUZZY_MIN_TOKEN <= len(candidate) <= FUZZY_MAX_TOKEN
                and candidate not in self._exact
            ):
                found |= self._near_words(candidate)
        return found

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
        stems = self._stems(token)
        for stem in stems:
            if stem in exact:
                found.add(stem)
                found.add("~" + stem)
        if token not in self._no_fuzzy:
            for word in self._typos(token, stems):
                found.add("~" + word)
                # The corrected word's own stems count too ("chocked" -> "choked" -> "choke").
                for stem in self._stems(word):
                    if stem in exact:
                        found.add("~" + stem)
        for length in self._prefix_lengths:
            if length > len(token):
                break
            head = token[:length]
            if head in self._prefixes:
                found.add(head + "*")
        if token not in self._no_fuzzy:
            for prefix in self._near_prefixes(token):
                found.add(prefix + "*")
        return frozenset(found) if found else _EMPTY

    def _near_prefixes(self, token: str) -> list[str]:
        """Prefixes of five letters or more that the token starts with, give or take a typo."""
        if len(token) < FUZZY_MIN_TOKEN or len(token) > FUZZY_MAX_TOKEN:
            return []
        return [
            prefix
            for prefix in self._fuzzy_prefixes
            if not token.startswith(prefix)
            and any(
                _within_one(token[:size], prefix)
                for size in (len(prefix) - 1, len(prefix), len(prefix) + 1)
                if size <= len(token)
            )
        ]

    def _stems(self, token: str) -> list[str]:
        """The token with each known ending taken off (and with an "e" put back)."""
        stems: list[str] = []
        for suffix in self._suffixes:
            if token.endswith(suffix) and len(token) - len(suffix) >= 3:
                stem = token[: -len(suffix)]
                stems.append(stem)
                stems.append(stem + "e")
        return stems

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


def _within_one(a: str, b: str) -> bool:
    """Damerau distance of at most one (for short strings)."""
    if a == b:
        return True
    if len(a) == len(b):
        return _one_change(a, b)
    if abs(len(a) - len(b)) != 1:
        return False
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    i = 0
    while i < len(shorter) and shorter[i] == longer[i]:
        i += 1
    return shorter[i:] == longer[i + 1 :]


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
    """Per-message matching state: the sorted positions at which each step matches."""

    __slots__ = ("_idiom_spans", "_positions")

    def __init__(self, positions: dict[int, list[int]]) -> None:
        self._positions = positions
        self._idiom_spans: list[tuple[int, int]] | None = None

    def has(self, step: int) -> bool:
        return step in self._positions

    def steps(self) -> Iterable[int]:
        return self._positions.keys()

    def has_all(self, steps: frozenset[int]) -> bool:
        return self._positions.keys() >= steps

    def sequence(self, pattern: Pattern) -> list[tuple[int, ...]]:
        """Every way ``pattern`` matches, as the positions of its words.

        Matching starts from the step with the fewest positions and grows both ways.
        """
        positions = self._positions
        found: list[list[int]] = []
        for step in pattern:
            where = positions.get(step.index)
            if where is None:
                return []
            found.append(where)
        anchor = min(range(len(pattern)), key=lambda k: len(found[k]))
        partial: list[tuple[int, ...]] = [(p,) for p in found[anchor]]
        for k in range(anchor + 1, len(pattern)):
            where = found[k]
            gap = pattern[k].gap
            grown: list[tuple[int, ...]] = []
            for match in partial:
                low = match[-1] + 1
                start = bisect_left(where, low)
                for p in where[start : bisect_right(where, low + gap, start)]:
                    grown.append((*match, p))
            if not grown:
                return grown
            partial = grown[:_MAX_PARTIAL]
        for k in range(anchor - 1, -1, -1):
            where = found[k]
            gap = pattern[k + 1].gap
            grown = []
            for match in partial:
                high = match[0] - 1
                start = bisect_left(where, high - gap)
                for p in where[start : bisect_right(where, high, start)]:
                    grown.append((p, *match))
            if not grown:
                return grown
            partial = grown[:_MAX_PARTIAL]
        return partial

    def near(self, parts: Sequence[Sequence[Pattern]], window: int) -> Iterator[tuple[int, ...]]:
        """Matches of one alternative of every part inside at most ``window`` words.

        Lazy: the caller usually needs only the first match that is not cancelled.
        """
        spans: list[list[tuple[int, int, tuple[int, ...]]]] = []
        for part in parts:
            found = [m for pattern in part for m in self.sequence(pattern)]
            if not found:
                return
            spans.append(sorted((m[0], m[-1], m) for m in found))
        spans.sort(key=len)  # anchor on the rarest part first
        produced = 0
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
                    # Each part must be a different word ("scared" cannot be both).
                    if last - start <= window and len(combined) >= len(spans):
                        yield tuple(sorted(combined))
                        produced += 1
                        if produced >= _MAX_PARTIAL:
                            return

    def spans(self, patterns: Sequence[Pattern]) -> list[tuple[int, int]]:
        return [(m[0], m[-1]) for pattern in patterns for m in self.sequence(pattern)]

    def idiom_spans(self, book: RuleBook) -> list[tuple[int, int]]:
        if self._idiom_spans is None:
            self._idiom_spans = [
                span for idiom in book.idioms for span in self.spans(idiom.alternatives)
            ]
        return self._idiom_spans


def _touched(match: tuple[int, ...], spans: Sequence[tuple[int, int]]) -> bool:
    """Does any span include any word of the match?"""
    return any(start <= p <= end for start, end in spans for p in match)


Need = tuple[frozenset[int], ...]  # satisfied when all steps of any one set occur


def _rule_needs(rule: Rule) -> tuple[Need, ...]:
    """What must occur for the rule to have a chance: every Need must be satisfied."""
    if rule.alternatives:
        return (tuple(frozenset(step.index for step in p) for p in rule.alternatives),)
    return tuple(tuple(frozenset(step.index for step in p) for p in part) for part in rule.near)


class Detector:
    """Checks free text against the shipped rules plus any organisation files."""

    __slots__ = (
        "_book",
        "_first",
        "_lexicon",
        "_needs",
        "_second",
        "_step_memo",
        "_term_steps",
        "_trigger",
    )

    def __init__(self, book: RuleBook) -> None:
        self._book = book
        self._lexicon = _Lexicon(book.vocabulary)
        term_steps: dict[str, list[int]] = {}
        for index, terms in enumerate(book.steps):
            for term in terms:
                term_steps.setdefault(term, []).append(index)
        self._term_steps = {term: tuple(steps) for term, steps in term_steps.items()}
        self._step_memo: dict[str, tuple[int, ...]] = {}
        self._needs = [_rule_needs(rule) for rule in book.rules]
        trigger: dict[int, list[int]] = {}
        for at, needs in enumerate(self._needs):
            # Every need must be met, so the first one is enough to trigger on.
            for steps in needs[0]:
                rarest = min(steps, key=lambda index: len(book.steps[index]))
                trigger.setdefault(rarest, []).append(at)
        self._trigger = {step: tuple(sorted(set(rules))) for step, rules in trigger.items()}
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

    def is_rule_word(self, word: str) -> bool:
        """Is ``word`` itself a word the rules mention (so never read as a typo)?"""
        tokens = self.tokens(word)
        return len(tokens) == 1 and self._lexicon.known(tokens[0])

    def reads_as_typo(self, word: str) -> bool:
        """Does ``word`` match rule words only by typo tolerance ("sucide")?"""
        tokens = self.tokens(word)
        if len(tokens) != 1:
            return False
        terms = self._lexicon.terms(tokens[0])
        return bool(terms) and all(term.startswith("~") for term in terms)

    @property
    def protected_words(self) -> frozenset[str]:
        """Real words never read as a typo of a rule word (``no_fuzzy``), as skeletons."""
        return self._book.vocabulary.no_fuzzy

    def typo_matches(self, word: str) -> tuple[str, ...]:
        """Rule words that ``word`` would be read as a misspelling of (ignoring no_fuzzy).

        Used by bench/safeguarding_eval.py to suggest real words for ``no_fuzzy``.
        """
        tokens = self._book.normaliser.raw_tokens(word)
        if len(tokens) != 1:
            return ()
        return tuple(sorted(self._lexicon.typo_of(tokens[0])))

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

    def _steps_of(self, token: str) -> tuple[int, ...]:
        found = self._step_memo.get(token)
        if found is None:
            found = self._steps_for_terms(self._lexicon.terms(token))
            if len(self._step_memo) >= _MEMO_LIMIT:
                self._step_memo.clear()
            self._step_memo[token] = found
        return found

    def _steps_for_terms(self, terms: frozenset[str]) -> tuple[int, ...]:
        if not terms:
            return ()
        term_steps = self._term_steps
        found: set[int] = set()
        for term in terms:
            steps = term_steps.get(term)
            if steps:
                found.update(steps)
        return tuple(sorted(found))

    def _message(self, text: str) -> _Message:
        tokens = self.tokens(text)
        by_token: dict[str, list[int]] = {}
        for at, token in enumerate(tokens):
            where = by_token.get(token)
            if where is None:
                by_token[token] = [at]
            else:
                where.append(at)
        positions: dict[int, list[int]] = {}
        unsorted: set[int] = set()
        steps_of = self._steps_of
        get = positions.get
        for token, where in by_token.items():
            for step in steps_of(token):
                known = get(step)
                if known is None:
                    positions[step] = where.copy()
                else:
                    known += where
                    unsorted.add(step)
        for at, steps in self._join_split(tokens):
            for step in steps:
                known = positions.get(step)
                if known is None:
                    positions[step] = [at]
                elif at not in known:
                    known.append(at)
                    unsorted.add(step)
        for step in unsorted:
            positions[step].sort()  # no duplicates: each position has one token
        return _Message(positions)

    def _fired(self, text: str) -> list[Rule]:
        message = self._message(text)
        candidates: set[int] = set()
        trigger = self._trigger
        for step in message.steps():
            triggered = trigger.get(step)
            if triggered is not None:
                candidates.update(triggered)
        if not candidates:
            return []
        rules = self._book.rules
        fired = [
            rules[at]
            for at in sorted(candidates & self._first)
            if self._possible(at, message) and self._fires(rules[at], message)
        ]
        categories = {c for rule in fired for c in rule.categories}
        for at in sorted(candidates & self._second):
            rule = rules[at]
            if (
                categories.intersection(rule.requires)
                and self._possible(at, message)
                and self._fires(rule, message)
            ):
                fired.append(rule)
        return fired

    def _possible(self, at: int, message: _Message) -> bool:
        return all(any(message.has_all(steps) for steps in need) for need in self._needs[at])

    def _fires(self, rule: Rule, message: _Message) -> bool:
        if rule.alternatives:
            matches: Iterable[tuple[int, ...]] = (
                match for pattern in rule.alternatives for match in message.sequence(pattern)
            )
        else:
            matches = message.near(rule.near, rule.window)
        idioms: list[tuple[int, int]] | None = None
        unless: list[tuple[int, int]] = []
        for match in matches:
            if idioms is None:
                idioms = message.idiom_spans(self._book)
                if rule.unless:
                    unless = message.spans(rule.unless)
            if not _touched(match, idioms) and not _touched(match, unless):
                return True
        return False

    def _join_spelled(self, tokens: list[str]) -> list[str]:
        """Join letters typed with spaces ("s u i c i d e") when they spell a rule word."""
        if _SPELLED.search(" ".join(tokens)) is None:
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

    def _join_split(self, tokens: list[str]) -> list[tuple[int, tuple[int, ...]]]:
        """Words broken by a space ("sui cide"), when neither half is a rule word.

        Returns the position of the first half and the steps the whole word matches.
        """
        exact = self._lexicon.exact
        joins: list[tuple[int, tuple[int, ...]]] = []
        for i in range(len(tokens) - 1):
            first, second = tokens[i], tokens[i + 1]
            if len(first) + len(second) < 5 or first in exact or second in exact:
                continue
            # Both halves are skeletons already: only the seam can repeat a letter.
            joined = skeleton(first + second) if first[-1] == second[0] else first + second
            if joined in exact and joined.isalpha():
                joins.append((i, self._steps_of(joined)))
        return joins

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
                if not self._message(example).spans(idiom.alternatives):
                    raise ConfigError(
                        f"{idiom.source}: [[idiom]] '{idiom.id}': key 'examples': {example!r} "
                        "is not matched by this idiom; fix the pattern or the example"
                    )


@functools.cache
def default_detector() -> Detector:
    """The detector for the shipped rules only, built once."""
    return Detector.load()
