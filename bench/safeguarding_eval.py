"""Evaluate the safeguarding screen (rules + learned model), honestly.

    python bench/safeguarding_eval.py            # cross-validated training corpus, then blind set A
    python bench/safeguarding_eval.py --no-blind # the cross-validation only
    python bench/safeguarding_eval.py --suggest-no-fuzzy /usr/share/dict/words

1. The training corpus (tests/data/safeguarding/train, plus the older
   labelled set as a sixth writer), leave-one-writer-out: every message is
   scored by a model trained without its writer, with the shipped thresholds.
2. The blind set (tests/data/safeguarding/blind/blind_a.csv), scored by the
   shipped model. Aggregates only: this script never prints a blind row.
   Nothing may be tuned on these figures (docs/SAFETY.md).
3. Timing: model load, and the whole screen per message.

"Reaches the duty team" counts an urgent alert or a "for review" alert: both
are sent to the duty channel at once. False alerts count both too.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "scripts"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import numpy as np  # noqa: E402
import train_detector as td  # noqa: E402

from bot.core.safeguarding import Detector, default_detector  # noqa: E402
from bot.core.safeguarding.decision import Level, screen  # noqa: E402
from bot.core.safeguarding.model import MODEL_FILE, Model, default_model  # noqa: E402

BLIND = ROOT / "tests" / "data" / "safeguarding" / "blind" / "blind_a.csv"


def _pct(hits: int, total: int) -> str:
    return f"{hits:4d}/{total:<4d} {100.0 * hits / total:5.1f}%" if total else "     n/a"


def report(
    title: str, rows: Sequence[td.Row], levels: Sequence[str | None], rules: np.ndarray
) -> None:
    """levels[i]: "alert", "review" or None for rows[i]."""
    caught = np.array([lv is not None for lv in levels])
    urgent = np.array([lv == "alert" for lv in levels])
    y = np.array([r.alert for r in rows])
    print(f"\n== {title}: {len(rows)} messages, {int(y.sum())} must-alert ==")
    print(f"{'':28s} {'reaches duty team':>18s} {'urgent only':>18s} {'rules only':>18s}")

    def line(name: str, idx: np.ndarray) -> None:
        n = int(idx.sum())
        print(
            f"  {name:26s} {_pct(int(caught[idx].sum()), n):>18s} "
            f"{_pct(int(urgent[idx].sum()), n):>18s} {_pct(int(rules[idx].sum()), n):>18s}"
        )

    print("recall on must-alert messages")
    line("overall", y)
    for key, get in (("category", "category"), ("style", "style"), ("language", "language")):
        print(f" by {key}")
        for value in sorted({getattr(r, get) for r in rows if r.alert}):
            line(value or "-", y & np.array([getattr(r, get) == value for r in rows]))
    print("false alerts on ordinary messages")
    line("overall", ~y)
    print(" by kind")
    for value in sorted({r.category for r in rows if not r.alert}):
        line(value or "-", ~y & np.array([r.category == value for r in rows]))
    print(" by language")
    for value in sorted({r.language for r in rows if not r.alert}):
        line(value, ~y & np.array([r.language == value for r in rows]))


def level_of(p: float, rule: bool, th: td.Thresholds) -> str | None:
    """As bot.core.safeguarding.decision.screen, from a probability and a rule hit."""
    if rule and p < th.review:
        return Level.REVIEW.value
    if rule or p >= th.alert:
        return Level.ALERT.value
    if p >= th.review:
        return Level.REVIEW.value
    return None


def cross_validated(model: Model) -> None:
    rows = td.training_rows()
    x = td.matrix([r.text for r in rows])
    c = float(model.info.get("c", 30.0))
    probs, _ = td.out_of_fold(rows, x, c)
    rules = td.rule_hits(rows)
    levels = [level_of(p, bool(r), model.thresholds) for p, r in zip(probs, rules, strict=True)]
    report(
        f"training corpus, leave-one-writer-out (C={c:g}, review>={model.thresholds.review:.2f}, "
        f"alert>={model.thresholds.alert:.2f})",
        rows,
        levels,
        rules,
    )


def blind(model: Model, detector: Detector) -> None:
    rows = td.read_csv(BLIND, writer="blind_a")
    results = [screen(r.text, detector, model) for r in rows]
    levels = [s.level.value if s else None for s in results]
    rules = np.array([detector.detect(r.text) is not None for r in rows])
    report("blind set A (never used for training or tuning)", rows, levels, rules)


def timing(detector: Detector) -> None:
    rows = td.training_rows()
    texts = [r.text for r in rows]
    t0 = time.perf_counter()
    model = Model.load(MODEL_FILE)
    load = time.perf_counter() - t0
    for text in texts:
        screen(text, detector, model)
    runs = 3
    t0 = time.perf_counter()
    for _ in range(runs):
        for text in texts:
            screen(text, detector, model)
    per = (time.perf_counter() - t0) / (runs * len(texts))
    t0 = time.perf_counter()
    for _ in range(runs):
        for text in texts:
            model.probability(text)
    per_model = (time.perf_counter() - t0) / (runs * len(texts))
    long_text = " ".join(texts)[:2000]
    samples = []
    for _ in range(20):
        t0 = time.perf_counter()
        screen(long_text, detector, model)
        samples.append(time.perf_counter() - t0)
    size = MODEL_FILE.stat().st_size / 1e6
    print("\n== timing (this machine, wall clock) ==")
    print(f"  model file {size:.1f} MB, loaded in {load * 1e3:.0f} ms (once, on first use)")
    print(f"  screen per message (rules + model): mean {per * 1e3:.2f} ms")
    print(f"  model alone per message:            mean {per_model * 1e3:.2f} ms")
    print(f"  a 2,000-character message:          median {statistics.median(samples) * 1e3:.2f} ms")


def suggest_no_fuzzy(detector: Detector, word_lists: list[Path]) -> None:
    seen: set[str] = set()
    for path in word_lists:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            word = line.strip()
            if not word or not word.isalpha() or word.lower() in seen:
                continue
            seen.add(word.lower())
            matches = detector.typo_matches(word.lower())
            if matches:
                print(f"{word.lower()}\t{' '.join(matches)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--no-blind", action="store_true")
    parser.add_argument("--no-cv", action="store_true")
    parser.add_argument("--suggest-no-fuzzy", type=Path, nargs="+", metavar="WORDLIST")
    args = parser.parse_args(argv)
    detector = default_detector()
    if args.suggest_no_fuzzy:
        suggest_no_fuzzy(detector, args.suggest_no_fuzzy)
        return 0
    model = default_model()
    if not args.no_cv:
        cross_validated(model)
    if not args.no_blind:
        blind(model, detector)
    timing(detector)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
