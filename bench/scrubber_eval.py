"""Measure the comment scrubber on its labelled set.

    python bench/scrubber_eval.py            # the figures
    python bench/scrubber_eval.py --misses   # also list the development set's misses

Both sets mark every identifying detail inline as [[kind|text]].
tests/data/scrubber/comments_labelled.jsonl is the development set: its
misses have been read and fixed, so its figures only show the scrubber fits
what it was built on. tests/data/scrubber/comments_blind.jsonl (350 comments)
was written by another writer who saw neither the scrubber nor the
development set, and frozen before it was first opened; the scrubber was
frozen (committed) before that too and is not tuned on it. Its figures are the
blind figures; its misses are never printed.

Recall: a detail counts as removed when every letter and digit of it is
covered by what the scrubber replaced. Over-removal: the share of ordinary
words (outside any marked detail) that the scrubber replaced.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.core.scrub import find  # noqa: E402

LABELLED = ROOT / "tests" / "data" / "scrubber" / "comments_labelled.jsonl"
BLIND = ROOT / "tests" / "data" / "scrubber" / "comments_blind.jsonl"
MARKUP = re.compile(r"\[\[(\w+)\|(.+?)\]\]")


def parse(marked: str) -> tuple[str, list[tuple[int, int, str]]]:
    text, spans, at = [], [], 0
    pos = 0
    for m in MARKUP.finditer(marked):
        text.append(marked[at : m.start()])
        pos += m.start() - at
        spans.append((pos, pos + len(m.group(2)), m.group(1)))
        text.append(m.group(2))
        pos += len(m.group(2))
        at = m.end()
    text.append(marked[at:])
    return "".join(text), spans


FUNCTION_WORDS = frozenset(
    {"the", "a", "an", "at", "in", "on", "of", "to", "from", "and", "last", "next", "this"}
    | {"y", "yr", "o", "ar", "yn", "i"}
)
"""Words a labelled span may include that identify nobody ("the Co-op in …")."""


def covered(mask: list[bool], text: str, start: int, end: int) -> bool:
    """Every word of the detail that can identify (all but function words) is
    replaced, letter by letter."""
    for w in re.finditer(r"\w+", text[start:end]):
        if w.group().lower() in FUNCTION_WORDS:
            continue
        if not all(mask[start + i] for i in range(w.start(), w.end())):
            return False
    return True


def evaluate(rows: list[dict[str, str]], show: bool) -> dict[str, float]:
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    words = removed_words = 0
    seconds = 0.0
    for row in rows:
        text, spans = parse(row["text"])
        started = time.perf_counter()
        found = find(text)
        seconds += time.perf_counter() - started
        mask = [False] * len(text)
        for f in found:
            for i in range(f.start, f.end):
                mask[i] = True
        inside = [False] * len(text)
        for start, end, kind in spans:
            totals[kind] += 1
            for i in range(start, end):
                inside[i] = True
            if covered(mask, text, start, end):
                hits[kind] += 1
            elif show:
                print(f"  missed {kind}: {text[start:end]!r} in {text!r}")
        for w in re.finditer(r"\w+", text):
            if any(inside[w.start() : w.end()]):
                continue
            words += 1
            if any(mask[w.start() : w.end()]):
                removed_words += 1
                if show:
                    print(f"  removed ordinary word {w.group()!r} in {text!r}")
    total = sum(totals.values())
    for kind in sorted(totals):
        share = 100 * hits[kind] / totals[kind]
        print(f"    {kind:9} {hits[kind]:4}/{totals[kind]:<4} = {share:5.1f}%")
    recall = sum(hits.values()) / total if total else 1.0
    over = removed_words / words if words else 0.0
    print(f"  recall {sum(hits.values())}/{total} = {100 * recall:.1f}%")
    print(f"  ordinary words removed {removed_words}/{words} = {100 * over:.1f}%")
    print(f"  {1000 * seconds / max(1, len(rows)):.2f} ms per comment")
    return {"recall": recall, "over": over}


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--misses", action="store_true", help="list the development set's misses")
    opts = args.parse_args()
    dev = _rows(LABELLED)
    print(f"development set: {len(dev)} comments (all seen while building the scrubber)")
    evaluate(dev, opts.misses)
    blind = _rows(BLIND)
    print(f"blind set: {len(blind)} comments (frozen, never tuned on) -- the blind figure")
    evaluate(blind, False)
    return 0


def _rows(path: Path) -> list[dict[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


if __name__ == "__main__":
    sys.exit(main())
