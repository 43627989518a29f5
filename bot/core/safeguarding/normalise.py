"""Text normalisation for the safeguarding detector.

Turns free text, written however people really write, into a list of plain
word tokens that the rules are matched against.  The same steps are applied to
the words in the rule files, so a rule author writes ordinary words ("don't",
"step dad") and they line up with what the detector sees.

Steps, in order:

1. fold: every apostrophe-like character becomes ``'``; accents are stripped
   (``tŷ`` -> ``ty``); everything is case-folded.
2. split into tokens of letters/digits (an apostrophe inside a word is kept
   for now); everything else (punctuation, emoji, odd spacing) separates.
3. per token: exact rewrites (``=key`` entries, e.g. ``od'd``) are applied
   to the word as typed; runs of three or more of the same letter are cut to
   two; apostrophes
   are resolved (a known contraction such as ``don't``/``dont`` is rewritten
   in step 5; a Welsh clitic such as ``'n``/``'r`` becomes its own word; any
   other apostrophe is dropped, so ``mum's`` -> ``mums``); letters mixed with
   digits are split (``13yo`` -> ``13 yo``) or read as look-alikes
   (``su1c1de`` -> ``suicide``).
4. skeleton: any repeated letter collapses to one (``killl``, ``kill`` ->
   ``kil``; ``ddiogel`` -> ``diogel``; ``sooo`` -> ``so``), so stretched or
   doubled letters never matter.  The few real words this merges that matter
   (``soon``/``son``, ``noose``/``nose``) are told apart by exact rewrites in
   the data files, which see the word before this step.
5. rewrites: text-speak and contractions from the data files (``u`` ->
   ``you``, ``dont`` -> ``do not``, ``no one`` -> ``nobody``); keys may be
   several words and the longest match wins.

Nothing here does I/O; the only state beyond the tables is a bounded memo of
how each distinct word was converted, which never changes a result.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

_APOSTROPHE_LIKE = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u02bc": "'", "\u2032": "'"}
)
_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789@$'")
# bytes.translate table: every byte that cannot be part of a word becomes a space.
_SEPARATE = bytes(b if b in _WORD_BYTES else 0x20 for b in range(256))
_MEMO_LIMIT = 50_000
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
_RUN3 = re.compile(r"([a-z])\1{2,}")
_DOUBLE = re.compile(r"([a-z])\1+")
_EDGE_DIGITS = re.compile(r"^(\d+)([a-z]{2,})$|^([a-z]{2,})(\d+)$")
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
_HAS_LETTER = re.compile(r"[a-z]")
_HAS_DIGIT_OR_SYMBOL = re.compile(r"[0-9@$]")
# Pieces of an English contraction that some keyboards split off with a space
# ("don t", "i m"); they are glued back onto the word before.
_SPLIT_CONTRACTION = frozenset({"t", "s", "d", "m", "ll", "re", "ve"})


def fold(text: str) -> str:
    """Unify apostrophes, strip accents and case-fold."""
    folded = text.translate(_APOSTROPHE_LIKE)
    if not folded.isascii():
        folded = _COMBINING.sub("", unicodedata.normalize("NFKD", folded))
    return folded.casefold()


def split_words(text: str) -> list[str]:
    """Fold ``text`` and split it into words of letters, digits, '@', '$' and "'"."""
    data = fold(text).encode("ascii", "replace")
    return data.translate(_SEPARATE).decode("ascii").split()


def skeleton(token: str) -> str:
    """Collapse every run of a repeated letter to one letter (digits untouched)."""
    return _DOUBLE.sub(r"\1", token)


def squeeze(token: str) -> str:
    """Cut runs of three or more of a letter to two ("pleeease" -> "pleease")."""
    return _RUN3.sub(r"\1\1", token)


class Normaliser:
    """Applies the steps in the module docstring with a given set of tables.

    ``exact`` maps a raw token (folded, apostrophes kept, as typed) to its
    replacement words; ``rewrite`` maps tuples of skeleton tokens to their
    replacement; ``clitics`` maps a trailing clitic such as ``'n`` to a word.
    All replacement words must already be skeletons.
    """

    __slots__ = (
        "_clitics",
        "_exact",
        "_memo",
        "_multi_first",
        "_rewrite",
        "_rewrite_max",
        "_single",
    )

    def __init__(
        self,
        *,
        exact: Mapping[str, tuple[str, ...]],
        rewrite: Mapping[tuple[str, ...], tuple[str, ...]],
        clitics: Mapping[str, tuple[str, ...]],
    ) -> None:
        self._exact = dict(exact)
        self._rewrite = dict(rewrite)
        self._clitics = dict(clitics)
        self._rewrite_max = max((len(key) for key in rewrite), default=1)
        self._multi_first = frozenset(key[0] for key in rewrite if len(key) > 1)
        self._single = {key[0]: value for key, value in rewrite.items() if len(key) == 1}
        self._memo: dict[str, tuple[str, ...]] = {}

    def raw_tokens(self, text: str) -> list[str]:
        """Steps 1-4: folded skeleton tokens, before rewrites."""
        memo = self._memo
        out: list[str] = []
        for token in split_words(text):
            converted = memo.get(token)
            if converted is None:
                converted = self._convert(token)
                if len(memo) >= _MEMO_LIMIT:
                    memo.clear()
                memo[token] = converted
            out.extend(converted)
        return out

    def _convert(self, token: str) -> tuple[str, ...]:
        token = token.strip("'")
        if not token:
            return ()
        exact = self._exact.get(token)  # as typed: "soooon" is not the "=soon" key
        if exact is not None:
            return exact
        out: list[str] = []
        self._token(squeeze(token), out)
        return tuple(out)

    def rewrite(self, tokens: Sequence[str]) -> list[str]:
        """Step 5: apply the rewrite table (longest key first)."""
        table = self._rewrite
        singles = self._single
        multi_first = self._multi_first
        out: list[str] = []
        i = 0
        n = len(tokens)
        while i < n:
            token = tokens[i]
            if token in multi_first:
                for size in range(min(self._rewrite_max, n - i), 1, -1):
                    replacement = table.get(tuple(tokens[i : i + size]))
                    if replacement is not None:
                        out.extend(replacement)
                        i += size
                        break
                else:
                    single = table.get((token,))
                    out.extend(single if single is not None else (token,))
                    i += 1
                continue
            single = singles.get(token)
            if single is not None:
                out.extend(single)
            else:
                out.append(token)
            i += 1
        return out

    def words(self, text: str) -> list[str]:
        """All steps, without the vocabulary-aware repairs the detector adds."""
        return self.rewrite(glue_contractions(self.raw_tokens(text)))

    def _token(self, token: str, out: list[str]) -> None:
        if "'" in token:
            bare = token.replace("'", "")
            bare_skeleton = skeleton(bare)
            if (bare_skeleton,) not in self._rewrite:
                cut = token.rfind("'")
                clitic = self._clitics.get(token[cut:])
                if clitic is not None:
                    self._token(token[:cut], out)
                    out.extend(clitic)
                    return
            token = bare
        if _HAS_DIGIT_OR_SYMBOL.search(token):
            self._mixed(token, out)
            return
        out.append(skeleton(token))

    def _mixed(self, token: str, out: list[str]) -> None:
        if not _HAS_LETTER.search(token):
            digits = token.strip("@$")
            if digits:
                out.append(digits)
            return
        token = token.strip("@$")
        as_is = skeleton(token)
        if (as_is,) in self._rewrite or token in self._exact:
            out.append(as_is)
            return
        edge = _EDGE_DIGITS.match(token)
        if edge is not None:
            if edge.group(1) is not None:
                out.append(edge.group(1))
                out.append(skeleton(edge.group(2)))
            else:
                out.append(skeleton(edge.group(3)))
                out.append(edge.group(4))
            return
        out.append(skeleton(token.translate(_LEET)))


def glue_contractions(tokens: list[str]) -> list[str]:
    """Re-attach contraction pieces split off by a space: "don t" -> "dont"."""
    if _SPLIT_CONTRACTION.isdisjoint(tokens):
        return tokens
    out: list[str] = []
    for token in tokens:
        if token in _SPLIT_CONTRACTION and out and _HAS_LETTER.search(out[-1]):
            out[-1] = skeleton(out[-1] + token)
        else:
            out.append(token)
    return out
