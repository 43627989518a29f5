"""Loading and compiling the safeguarding rule files (TOML).

The format is described in the header of ``data/en.toml``.  In short:

* ``[meta]``: ``language`` (free text) and ``mutations`` (``"none"`` or
  ``"welsh"``: also accept the Welsh initial-consonant mutations of every
  word in this file, so ``taro`` matches ``daro``, ``nharo`` and ``tharo``).
* ``[normalise]``: ``rewrite`` (text-speak and contractions, e.g.
  ``dont = "do not"``; a key starting with ``=`` only matches that exact
  spelling, apostrophes included), ``clitics`` (``"'n" = "yn"``),
  ``suffixes`` (endings tried off a word, e.g. ``"ing"``) and ``no_fuzzy``
  (real words that must never be read as a misspelling of a rule word).
* ``[sets]``: named lists of words, used in patterns as ``@name``.  A set
  named in several files is the union of them all.
* ``[[rule]]``: ``id``, ``category``, and either ``match`` (one pattern or a
  list of alternatives) or ``near`` (a list of parts that must all occur
  within ``window`` words of each other, in any order; a part is a pattern or
  a list of alternative patterns).  Optional:
  ``unless`` (patterns that cancel any match sharing a word with them),
  ``requires`` (categories: the rule is tried only after one of them has been
  found by another rule), ``examples`` (texts the rule must fire on; checked
  when the file is loaded) and ``note``.
* ``[[idiom]]``: ``id`` and ``match``: everyday phrases; any rule match sharing
  a word with an idiom match is ignored.

A pattern is words separated by spaces; ``a|b|@set`` is one word position
with alternatives; ``~N`` allows up to N other words before the next
position; ``=word`` matches that word exactly (no typo tolerance);
``word*`` matches any word starting with ``word``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.errors import ConfigError
from bot.core.safeguarding.normalise import Normaliser, fold, skeleton

CATEGORIES: tuple[str, ...] = ("child_at_risk", "harm_from_others", "immediate_danger", "self_harm")

MAX_GAP = 12
MAX_WINDOW = 40
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
_GAP = re.compile(r"^~(\d+)$")
_TOP_KEYS = frozenset({"meta", "normalise", "sets", "rule", "idiom"})
_META_KEYS = frozenset({"language", "mutations", "description"})
_NORMALISE_KEYS = frozenset({"rewrite", "clitics", "suffixes", "no_fuzzy"})
_RULE_KEYS = frozenset(
    {"id", "category", "match", "near", "window", "unless", "requires", "examples", "note"}
)
_IDIOM_KEYS = frozenset({"id", "match", "note", "examples"})
_MUTATIONS = ("none", "welsh")


@dataclass(frozen=True, slots=True)
class Step:
    """One word position of a pattern: the terms it accepts and the gap before it."""

    index: int  # the same for every step with the same terms
    terms: frozenset[str]
    gap: int


Pattern = tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    categories: tuple[str, ...]
    alternatives: tuple[Pattern, ...]  # ``match``: any one of these
    near: tuple[tuple[Pattern, ...], ...]  # ``near``: one of each part within ``window``
    window: int
    unless: tuple[Pattern, ...]
    requires: tuple[str, ...]
    examples: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class Idiom:
    id: str
    alternatives: tuple[Pattern, ...]
    examples: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Every word the patterns mention, by how it may be matched."""

    exact: frozenset[str]  # all words (skeletons)
    fuzzy: frozenset[str]  # words that also accept one typo
    prefixes: frozenset[str]
    suffixes: tuple[str, ...]
    no_fuzzy: frozenset[str]


@dataclass(frozen=True, slots=True)
class RuleBook:
    normaliser: Normaliser
    vocabulary: Vocabulary
    rules: tuple[Rule, ...]
    idioms: tuple[Idiom, ...]
    steps: tuple[frozenset[str], ...]  # the terms of every Step, by Step.index


@dataclass(slots=True)
class _File:
    path: Path
    data: dict[str, Any]
    mutations: str


# ---------------------------------------------------------------------------
# Welsh mutations


_SOFT = {"p": "b", "t": "d", "c": "g", "b": "f", "g": "", "m": "f", "rh": "r"}
_NASAL = {"p": "mh", "t": "nh", "c": "ngh", "b": "m", "d": "n", "g": "ng"}
_ASPIRATE = {"p": "ph", "t": "th", "c": "ch"}


def welsh_mutations(word: str) -> set[str]:
    """Mutated forms of a Welsh word (skeleton in, skeletons out)."""
    forms: set[str] = set()
    if word[:2] in {"ch", "ph", "th"}:
        return forms
    if word[:2] == "rh":
        forms.add("r" + word[2:])
    elif word[:1] in "aeiouwy":
        forms.add("h" + word)
    else:
        head, tail = word[:1], word[1:]
        for table in (_SOFT, _NASAL, _ASPIRATE):
            if head in table:
                forms.add(skeleton(table[head] + tail))
    return {form for form in forms if len(form) >= 3 and form != word}


# ---------------------------------------------------------------------------
# Loading


def load_rulebook(paths: Sequence[Path]) -> RuleBook:
    files = [_read(path) for path in paths]
    normaliser, suffixes, no_fuzzy = _normalisation(files)
    compiler = _Compiler(normaliser)
    for file in files:
        compiler.add_sets(file)
    rules: list[Rule] = []
    idioms: list[Idiom] = []
    seen: dict[str, Path] = {}
    for file in files:
        for n, table in enumerate(_tables(file, "rule"), start=1):
            rule = compiler.rule(file, n, table)
            _unique(rule.id, file.path, seen, f"[[rule]] #{n}")
            rules.append(rule)
        for n, table in enumerate(_tables(file, "idiom"), start=1):
            idiom = compiler.idiom(file, n, table)
            _unique(idiom.id, file.path, seen, f"[[idiom]] #{n}")
            idioms.append(idiom)
    if not rules:
        raise ConfigError(f"safeguarding rules: no [[rule]] found in {', '.join(map(str, paths))}")
    vocabulary = Vocabulary(
        exact=frozenset(compiler.exact),
        fuzzy=frozenset(compiler.fuzzy),
        prefixes=frozenset(compiler.prefixes),
        suffixes=suffixes,
        no_fuzzy=no_fuzzy,
    )
    return RuleBook(
        normaliser=normaliser,
        vocabulary=vocabulary,
        rules=tuple(rules),
        idioms=tuple(idioms),
        steps=tuple(compiler.step_terms),
    )


def _unique(rule_id: str, path: Path, seen: dict[str, Path], where: str) -> None:
    if rule_id in seen:
        raise ConfigError(
            f"{path}: {where}: key 'id': '{rule_id}' is already used in {seen[rule_id]}; "
            "give each rule and idiom its own id"
        )
    seen[rule_id] = path


def _read(path: Path) -> _File:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read safeguarding rules file: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: safeguarding rules file is not UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key '{unknown[0]}'; the keys are {', '.join(sorted(_TOP_KEYS))}"
        )
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise ConfigError(f"{path}: key 'meta' must be a table ([meta])")
    _no_unknown(meta, _META_KEYS, path, "[meta]")
    mutations = meta.get("mutations", "none")
    if mutations not in _MUTATIONS:
        raise ConfigError(
            f"{path}: [meta] key 'mutations' must be one of {', '.join(_MUTATIONS)}, "
            f"not {mutations!r}"
        )
    for key in ("language", "description"):
        if key in meta and not isinstance(meta[key], str):
            raise ConfigError(f"{path}: [meta] key '{key}' must be a string")
    return _File(path=path, data=data, mutations=mutations)


def _no_unknown(table: Mapping[str, Any], allowed: frozenset[str], path: Path, where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        keys = ", ".join(sorted(allowed))
        raise ConfigError(f"{path}: {where}: unknown key '{unknown[0]}'; the keys are {keys}")


def _tables(file: _File, key: str) -> list[dict[str, Any]]:
    value = file.data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConfigError(f"{file.path}: key '{key}' must be written as [[{key}]] tables")
    return value


def _string_list(value: Any, path: Path, where: str, key: str, *, allow_str: bool) -> list[str]:
    if allow_str and isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        kind = "a string or a list of strings" if allow_str else "a list of strings"
        raise ConfigError(f"{path}: {where}: key '{key}' must be {kind}")
    return value


def _normalisation(files: Sequence[_File]) -> tuple[Normaliser, tuple[str, ...], frozenset[str]]:
    raw_rewrite: dict[str, tuple[Path, str]] = {}
    raw_clitics: dict[str, tuple[Path, str]] = {}
    suffixes: list[str] = []
    no_fuzzy: set[str] = set()
    for file in files:
        table = file.data.get("normalise", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{file.path}: key 'normalise' must be a table ([normalise])")
        _no_unknown(table, _NORMALISE_KEYS, file.path, "[normalise]")
        for key, target in (("rewrite", raw_rewrite), ("clitics", raw_clitics)):
            entries = table.get(key, {})
            if not isinstance(entries, dict):
                raise ConfigError(f"{file.path}: [normalise] key '{key}' must be a table")
            for source, replacement in entries.items():
                if not isinstance(replacement, str):
                    raise ConfigError(
                        f"{file.path}: [normalise.{key}] key '{source}' must map to a string"
                    )
                target[source] = (file.path, replacement)
        for item in _string_list(
            table.get("suffixes", []), file.path, "[normalise]", "suffixes", allow_str=False
        ):
            ending = skeleton(fold(item).strip())
            if not ending.isalpha():
                raise ConfigError(
                    f"{file.path}: [normalise] key 'suffixes': {item!r} must be letters only"
                )
            if ending not in suffixes:
                suffixes.append(ending)
        for item in _string_list(
            table.get("no_fuzzy", []), file.path, "[normalise]", "no_fuzzy", allow_str=False
        ):
            no_fuzzy.add(skeleton(fold(item).replace("'", "").strip()))

    plain = Normaliser(exact={}, rewrite={}, clitics={})

    def words(path: Path, where: str, text: str) -> tuple[str, ...]:
        out = tuple(plain.words(text))
        if not out:
            raise ConfigError(f"{path}: {where}: {text!r} has no letters or digits")
        return out

    exact: dict[str, tuple[str, ...]] = {}
    rewrite: dict[tuple[str, ...], tuple[str, ...]] = {}
    for source, (path, replacement) in raw_rewrite.items():
        where = f"[normalise.rewrite] key '{source}'"
        value = words(path, where, replacement)
        if source.startswith("="):
            key = fold(source[1:]).strip()
            if not key or " " in key:
                raise ConfigError(f"{path}: {where}: an exact key must be one word")
            exact[key] = value
        else:
            rewrite[words(path, where, source)] = value
    clitics: dict[str, tuple[str, ...]] = {}
    for source, (path, replacement) in raw_clitics.items():
        key = fold(source).strip()
        if not re.fullmatch(r"'[a-z]+", key):
            raise ConfigError(
                f"{path}: [normalise.clitics] key '{source}' must be an apostrophe and letters"
            )
        clitics[key] = words(path, f"[normalise.clitics] key '{source}'", replacement)
    return (
        Normaliser(exact=exact, rewrite=rewrite, clitics=clitics),
        tuple(suffixes),
        frozenset(no_fuzzy),
    )


class _Compiler:
    """Turns set members and patterns into terms and steps, recording the vocabulary."""

    def __init__(self, normaliser: Normaliser) -> None:
        self.normaliser = normaliser
        self.sets: dict[str, set[str]] = {}
        self.exact: set[str] = set()
        self.fuzzy: set[str] = set()
        self.prefixes: set[str] = set()
        self.step_terms: list[frozenset[str]] = []
        self._interned: dict[frozenset[str], int] = {}

    # -- words -------------------------------------------------------------

    def _word_terms(self, alt: str, mutate: bool, path: Path, where: str) -> set[str] | None:
        """Terms for one alternative; None if a plain word normalises to several words."""
        if alt.startswith("@"):
            name = alt[1:]
            if name not in self.sets:
                raise ConfigError(f"{path}: {where}: unknown set '@{name}'")
            return set(self.sets[name])
        if alt.startswith("="):
            word = skeleton(fold(alt[1:]).replace("'", ""))
            if not word.isalnum():
                raise ConfigError(f"{path}: {where}: {alt!r} must be one word after '='")
            self.exact.add(word)
            return {word}
        if alt.endswith("*"):
            stem = skeleton(fold(alt[:-1]).replace("'", ""))
            if len(stem) < 3 or not stem.isalnum():
                raise ConfigError(
                    f"{path}: {where}: prefix {alt!r} needs at least three letters before '*'"
                )
            self.prefixes.add(stem)
            return {stem + "*"}
        words = self.normaliser.words(alt)
        if not words:
            raise ConfigError(f"{path}: {where}: {alt!r} has no letters or digits")
        if len(words) > 1:
            return None
        forms = {words[0]}
        if mutate:
            forms |= welsh_mutations(words[0])
        terms: set[str] = set()
        for form in forms:
            self.exact.add(form)
            self.fuzzy.add(form)
            terms.add("~" + form)
        return terms

    def add_sets(self, file: _File) -> None:
        table = file.data.get("sets", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{file.path}: key 'sets' must be a table ([sets])")
        mutate = file.mutations == "welsh"
        for name, members in table.items():
            where = f"[sets] key '{name}'"
            if not _NAME.match(name):
                raise ConfigError(
                    f"{file.path}: {where}: set names use lower-case letters, digits and '_'"
                )
            items = _string_list(members, file.path, "[sets]", name, allow_str=False)
            terms = self.sets.setdefault(name, set())
            for member in items:
                if member.startswith("@"):
                    raise ConfigError(
                        f"{file.path}: {where}: {member!r}: a set cannot include another set"
                    )
                got = self._word_terms(member.strip(), mutate, file.path, where)
                if got is None:
                    raise ConfigError(
                        f"{file.path}: {where}: {member!r} is several words after normalising "
                        "(set members are single words; add a [normalise.rewrite] entry to "
                        "join them)"
                    )
                terms |= got

    # -- patterns ----------------------------------------------------------

    def _step(self, terms: Iterable[str], gap: int) -> Step:
        frozen = frozenset(terms)
        index = self._interned.get(frozen)
        if index is None:
            index = self._interned[frozen] = len(self.step_terms)
            self.step_terms.append(frozen)
        return Step(index=index, terms=frozen, gap=gap)

    def pattern(self, text: str, mutate: bool, path: Path, where: str) -> Pattern:
        steps: list[Step] = []
        gap: int | None = None
        for part in text.split():
            gap_match = _GAP.match(part)
            if gap_match is not None:
                if not steps or gap is not None:
                    raise ConfigError(
                        f"{path}: {where}: {text!r}: '~N' must stand between two words"
                    )
                gap = int(gap_match.group(1))
                if gap > MAX_GAP:
                    raise ConfigError(f"{path}: {where}: {text!r}: '~{gap}' is over ~{MAX_GAP}")
                continue
            alts = part.split("|")
            if any(not alt for alt in alts):
                raise ConfigError(f"{path}: {where}: {text!r}: empty alternative in {part!r}")
            if len(alts) == 1 and alts[0][0] not in "@=" and not alts[0].endswith("*"):
                words = self.normaliser.words(alts[0])
                if not words:
                    raise ConfigError(f"{path}: {where}: {alts[0]!r} has no letters or digits")
                for i, word in enumerate(words):
                    terms = self._word_terms(word, mutate, path, where) or set()
                    steps.append(self._step(terms, (gap or 0) if i == 0 else 0))
                gap = None
                continue
            terms = set()
            for alt in alts:
                got = self._word_terms(alt, mutate, path, where)
                if got is None:
                    raise ConfigError(
                        f"{path}: {where}: {text!r}: alternative {alt!r} becomes several words "
                        f"({' '.join(self.normaliser.words(alt))}); write it as its own pattern"
                    )
                terms |= got
            steps.append(self._step(terms, gap or 0))
            gap = None
        if gap is not None:
            raise ConfigError(f"{path}: {where}: {text!r}: '~N' must stand between two words")
        if not steps:
            raise ConfigError(f"{path}: {where}: empty pattern")
        return tuple(steps)

    def patterns(self, value: Any, mutate: bool, path: Path, where: str, key: str) -> list[Pattern]:
        texts = _string_list(value, path, where, key, allow_str=True)
        if not texts:
            raise ConfigError(f"{path}: {where}: key '{key}' is empty")
        return [self.pattern(text, mutate, path, f"{where} key '{key}'") for text in texts]

    def alternatives(
        self, value: Any, mutate: bool, path: Path, where: str, key: str
    ) -> list[Pattern]:
        """Like ``patterns``, with all one-word alternatives merged into one pattern."""
        patterns = self.patterns(value, mutate, path, where, key)
        singles = [p[0].terms for p in patterns if len(p) == 1]
        if len(singles) < 2:
            return patterns
        merged = self._step(frozenset().union(*singles), 0)
        return [(merged,), *(p for p in patterns if len(p) > 1)]

    # -- tables ------------------------------------------------------------

    def rule(self, file: _File, n: int, table: dict[str, Any]) -> Rule:
        path = file.path
        where = f"[[rule]] #{n}"
        rule_id = table.get("id")
        if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
            raise ConfigError(
                f"{path}: {where}: key 'id' must be a short name (letters, digits, '._:-')"
            )
        where = f"[[rule]] #{n} ('{rule_id}')"
        _no_unknown(table, _RULE_KEYS, path, where)
        mutate = file.mutations == "welsh"
        categories = _string_list(table.get("category"), path, where, "category", allow_str=True)
        for category in categories:
            if category not in CATEGORIES:
                raise ConfigError(
                    f"{path}: {where}: key 'category': {category!r} is not one of "
                    f"{', '.join(CATEGORIES)}"
                )
        if not categories:
            raise ConfigError(f"{path}: {where}: key 'category' is empty")
        has_match, has_near = "match" in table, "near" in table
        if has_match == has_near:
            raise ConfigError(f"{path}: {where}: give exactly one of the keys 'match' or 'near'")
        alternatives: list[Pattern] = []
        near: list[tuple[Pattern, ...]] = []
        window = 0
        if has_match:
            if "window" in table:
                raise ConfigError(f"{path}: {where}: key 'window' only goes with 'near'")
            alternatives = self.alternatives(table["match"], mutate, path, where, "match")
        else:
            parts = table["near"]
            if not isinstance(parts, list) or len(parts) < 2:
                raise ConfigError(
                    f"{path}: {where}: key 'near' must be a list of at least two parts"
                )
            for part in parts:
                if isinstance(part, list) and not part:
                    raise ConfigError(f"{path}: {where}: key 'near' has an empty part")
                near.append(tuple(self.alternatives(part, mutate, path, where, "near")))
            raw_window = table.get("window")
            if not isinstance(raw_window, int) or isinstance(raw_window, bool):
                raise ConfigError(f"{path}: {where}: key 'window' must be a whole number")
            window = raw_window
            if not 1 <= window <= MAX_WINDOW:
                raise ConfigError(f"{path}: {where}: key 'window' must be 1 to {MAX_WINDOW}")
        unless: list[Pattern] = []
        if "unless" in table:
            unless = self.alternatives(table["unless"], mutate, path, where, "unless")
        requires = _string_list(table.get("requires", []), path, where, "requires", allow_str=True)
        for category in requires:
            if category not in CATEGORIES:
                raise ConfigError(
                    f"{path}: {where}: key 'requires': {category!r} is not one of "
                    f"{', '.join(CATEGORIES)}"
                )
        examples = _string_list(table.get("examples", []), path, where, "examples", allow_str=False)
        if "note" in table and not isinstance(table["note"], str):
            raise ConfigError(f"{path}: {where}: key 'note' must be a string")
        return Rule(
            id=rule_id,
            categories=tuple(sorted(set(categories))),
            alternatives=tuple(alternatives),
            near=tuple(near),
            window=window,
            unless=tuple(unless),
            requires=tuple(sorted(set(requires))),
            examples=tuple(examples),
            source=str(path),
        )

    def idiom(self, file: _File, n: int, table: dict[str, Any]) -> Idiom:
        path = file.path
        where = f"[[idiom]] #{n}"
        idiom_id = table.get("id")
        if not isinstance(idiom_id, str) or not _RULE_ID.match(idiom_id):
            raise ConfigError(
                f"{path}: {where}: key 'id' must be a short name (letters, digits, '._:-')"
            )
        where = f"[[idiom]] #{n} ('{idiom_id}')"
        _no_unknown(table, _IDIOM_KEYS, path, where)
        if "match" not in table:
            raise ConfigError(f"{path}: {where}: key 'match' is missing")
        alternatives = self.alternatives(
            table["match"], file.mutations == "welsh", path, where, "match"
        )
        examples = _string_list(table.get("examples", []), path, where, "examples", allow_str=False)
        if "note" in table and not isinstance(table["note"], str):
            raise ConfigError(f"{path}: {where}: key 'note' must be a string")
        return Idiom(
            id=idiom_id,
            alternatives=tuple(alternatives),
            examples=tuple(examples),
            source=str(path),
        )
