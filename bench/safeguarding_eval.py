"""Evaluate the safeguarding screen (rules + learned model), honestly.

    python bench/safeguarding_eval.py                          # cross-validation, blind sets
    python bench/safeguarding_eval.py --blind PATH [PATH ...]  # ... and these blind sets instead
    python bench/safeguarding_eval.py --no-cv --blind PATH     # a blind set only (and timing)
    python bench/safeguarding_eval.py --suggest-no-fuzzy /usr/share/dict/words

1. The training corpus (tests/data/safeguarding/train, plus the older
   labelled set as the writer "repo"), leave-one-writer-out: every message is
   screened by a model trained without its writer, with the shipped
   thresholds and the shipped decision (bot/core/safeguarding/decision.py).
2. Each blind set (``--blind``; by default every CSV in
   tests/data/safeguarding/blind/), screened by the shipped model. A blind set
   is a CSV with columns text, label ("alert" or "ok"), category, style and
   language; no writer column is needed. Aggregates only: this script never
   prints a message. Nothing may be tuned on these figures (docs/SAFETY.md).
3. Timing: model load, and the whole screen per message.

"Reaches the duty team" counts an urgent alert or a "for review" alert: both
are sent to the duty channel at once, so false alerts count both too.
"Urgent only" counts urgent alerts; "rules only" what the rules alone catch.
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
from bot.core.safeguarding.decision import Level, Screening, screen  # noqa: E402
from bot.core.safeguarding.model import MODEL_FILE, Model, default_model  # noqa: E402

BLIND_DIR = ROOT / "tests" / "data" / "safeguarding" / "blind"
RECALL_TARGET = 0.95
GROUP_TARGET = 0.90
FALSE_TARGET = 0.10


def _pct(hits: int, total: int) -> str:
    return f"{hits:4d}/{total:<4d} {100.0 * hits / total:5.1f}%" if total else "     n/a"


def report(
    title: str,
    rows: Sequence[td.Row],
    found: Sequence[Screening | None],
    rules: np.ndarray,
    by_writer: bool = False,
) -> None:
    """Recall and false alerts of ``found`` (one screening per row) by every grouping."""
    caught = np.array([s is not None for s in found], dtype=bool)
    urgent = np.array([s is not None and s.level is Level.ALERT for s in found], dtype=bool)
    y = np.array([r.alert for r in rows], dtype=bool)
    print(f"\n== {title}: {len(rows)} messages, {int(y.sum())} must-alert ==")
    print(f"{'':28s} {'reaches duty team':>18s} {'urgent only':>18s} {'rules only':>18s}")

    def line(name: str, idx: np.ndarray) -> None:
        n = int(idx.sum())
        print(
            f"  {name:26s} {_pct(int(caught[idx].sum()), n):>18s} "
            f"{_pct(int(urgent[idx].sum()), n):>18s} {_pct(int(rules[idx].sum()), n):>18s}"
        )

    groups = ["category", "style", "language"] + (["writer"] if by_writer else [])
    print("recall on must-alert messages")
    line("overall", y)
    for key in groups:
        print(f" by {key}")
        for value in sorted({getattr(r, key) for r in rows if r.alert}):
            line(value or "-", y & np.array([getattr(r, key) == value for r in rows]))
    print("false alerts on ordinary messages")
    line("overall", ~y)
    for key in ["category", "language"] + (["writer"] if by_writer else []):
        print(f" by {'kind' if key == 'category' else key}")
        for value in sorted({getattr(r, key) for r in rows if not r.alert}):
            line(value or "-", ~y & np.array([getattr(r, key) == value for r in rows]))
    verdict(rows, caught)


def verdict(rows: Sequence[td.Row], caught: np.ndarray) -> None:
    """One line per target: met or not, with the figure."""
    y = np.array([r.alert for r in rows], dtype=bool)
    checks: list[tuple[str, float, bool]] = []
    if y.any():
        recall = float(caught[y].mean())
        checks.append((f"recall overall >= {RECALL_TARGET:.0%}", recall, recall >= RECALL_TARGET))
        for style in sorted({r.style for r in rows if r.alert and r.style}):
            idx = y & np.array([r.style == style for r in rows])
            value = float(caught[idx].mean())
            name = f"recall, style {style} >= {GROUP_TARGET:.0%}"
            checks.append((name, value, value >= GROUP_TARGET))
        welsh = y & np.array([r.language == "cy" for r in rows])
        if welsh.any():
            value = float(caught[welsh].mean())
            checks.append((f"recall in Welsh >= {GROUP_TARGET:.0%}", value, value >= GROUP_TARGET))
    if (~y).any():
        false = float(caught[~y].mean())
        checks.append((f"false alerts <= {FALSE_TARGET:.0%}", false, false <= FALSE_TARGET))
    print(" against the targets (reaches the duty team)")
    for name, value, ok in checks:
        print(f"  {name:38s} {100 * value:5.1f}%  {'met' if ok else 'NOT MET'}")


def fold_models(rows: list[td.Row], model: Model) -> dict[str, Model]:
    """For each writer, the shipped recipe trained without that writer."""
    x = td.matrix([r.text for r in rows])
    recipe = td.Recipe(str(model.info.get("recipe", "lr")), float(model.info["c"]))
    return td.fold_models(rows, x, recipe, model.thresholds)


def cross_validated(model: Model, detector: Detector) -> None:
    rows = td.training_rows()
    models = fold_models(rows, model)
    found = [screen(r.text, detector, models[r.writer]) for r in rows]
    rules = np.array([detector.detect(r.text) is not None for r in rows], dtype=bool)
    th = model.thresholds
    report(
        f"training corpus, leave-one-writer-out ({model.info.get('recipe', 'lr')} "
        f"C={model.info.get('c')}, "
        f"review>={th.review:.2f}, alert>={th.alert:.2f})",
        rows,
        found,
        rules,
        by_writer=True,
    )


def blind(path: Path, model: Model, detector: Detector) -> bool:
    """Score one blind set with the shipped model; False (and one line) if it cannot be read."""
    try:
        rows = td.read_csv(path, writer=path.stem)
    except (OSError, ValueError, KeyError) as exc:
        print(f"\n== blind set {path}: cannot read it: {exc}", file=sys.stderr)
        return False
    found = [screen(r.text, detector, model) for r in rows]
    rules = np.array([detector.detect(r.text) is not None for r in rows], dtype=bool)
    report(f"blind set {path.name} (never used for training or tuning)", rows, found, rules)
    return True


def timing(detector: Detector) -> None:
    texts = [r.text for r in td.training_rows()]
    t0 = time.perf_counter()
    model = Model.load(MODEL_FILE)
    load = time.perf_counter() - t0
    for text in texts:
        screen(text, detector, model)
    samples = []
    for text in texts:
        t0 = time.perf_counter()
        screen(text, detector, model)
        samples.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for text in texts:
        model.probability(text)
    per_model = (time.perf_counter() - t0) / len(texts)
    long_text = " ".join(texts)[:2000]
    long_samples = []
    for _ in range(20):
        t0 = time.perf_counter()
        screen(long_text, detector, model)
        long_samples.append(time.perf_counter() - t0)
    samples.sort()
    size = MODEL_FILE.stat().st_size / 1e6
    print("\n== timing (this machine, wall clock; the target is under 5 ms a message) ==")
    print(f"  model file {size:.1f} MB, loaded in {load * 1e3:.0f} ms (once, on first use)")
    print(
        f"  screen per message (rules + model):  mean {statistics.fmean(samples) * 1e3:.2f} ms, "
        f"p99 {samples[int(0.99 * (len(samples) - 1))] * 1e3:.2f} ms, "
        f"slowest {samples[-1] * 1e3:.2f} ms ({len(samples)} messages)"
    )
    print(f"  model alone per message:             mean {per_model * 1e3:.2f} ms")
    print(
        f"  a 2,000-character message:           median "
        f"{statistics.median(long_samples) * 1e3:.2f} ms"
    )


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
    parser.add_argument(
        "--blind",
        type=Path,
        nargs="+",
        action="extend",
        metavar="PATH",
        help="blind set CSV(s) to score (default: every CSV in tests/data/safeguarding/blind/)",
    )
    parser.add_argument("--no-blind", action="store_true", help="score no blind set")
    parser.add_argument("--no-cv", action="store_true", help="skip the cross-validation")
    parser.add_argument("--no-timing", action="store_true", help="skip the timing")
    parser.add_argument("--suggest-no-fuzzy", type=Path, nargs="+", metavar="WORDLIST")
    args = parser.parse_args(argv)
    detector = default_detector()
    if args.suggest_no_fuzzy:
        suggest_no_fuzzy(detector, args.suggest_no_fuzzy)
        return 0
    model = default_model()
    if not args.no_cv:
        cross_validated(model, detector)
    readable = True
    if not args.no_blind:
        paths = args.blind if args.blind else sorted(BLIND_DIR.glob("*.csv"))
        if not paths:
            print(f"\n(no blind set in {BLIND_DIR}; pass one with --blind PATH)")
        for path in paths:
            readable = blind(path, model, detector) and readable
    if not args.no_timing:
        timing(detector)
    return 0 if readable else 2


if __name__ == "__main__":
    raise SystemExit(main())
