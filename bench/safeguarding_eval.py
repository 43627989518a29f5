"""Evaluate the safeguarding detector on the labelled set.

    python bench/safeguarding_eval.py                  # the figures
    python bench/safeguarding_eval.py --failures dev   # also list dev misses and false alerts
    python bench/safeguarding_eval.py --rules FILE     # with an organisation rules file too
    python bench/safeguarding_eval.py --suggest-no-fuzzy /usr/share/dict/words

Prints recall on must-alert messages (dev, holdout, all), the false-alert rate
on ordinary messages, category agreement, and the mean detection time per
message.  The holdout split is for measuring, not tuning: list its failures
only to report them, never to write rules from them.

--suggest-no-fuzzy reads word lists (one word per line) and prints the real
words that the detector would read as a one-letter typo of a rule word; paste
the ones that are not misspellings into [normalise] no_fuzzy.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.core.safeguarding import Detector  # noqa: E402

LABELLED = ROOT / "tests" / "data" / "safeguarding_labelled.csv"


@dataclass(frozen=True, slots=True)
class Row:
    text: str
    label: str
    category: str
    language: str
    split: str


def read_rows(path: Path) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Row(r["text"], r["label"], r["category"], r["language"], r["split"])
            for r in csv.DictReader(handle)
        ]


def _rate(hits: int, total: int) -> str:
    return f"{hits}/{total} = {100.0 * hits / total:.1f}%" if total else "n/a"


def evaluate(detector: Detector, rows: list[Row], failures: str, extra: list[Path]) -> None:
    results = [(row, detector.detect(row.text)) for row in rows]
    print(f"labelled messages: {len(rows)}")
    print("\nrecall on must-alert messages")
    for split in ("dev", "holdout", "all"):
        alerts = [(r, d) for r, d in results if r.label == "alert" and split in ("all", r.split)]
        hits = sum(1 for _, d in alerts if d is not None)
        welsh = [(r, d) for r, d in alerts if r.language == "cy"]
        welsh_hits = sum(1 for _, d in welsh if d is not None)
        welsh_rate = _rate(welsh_hits, len(welsh))
        print(f"  {split:8s} {_rate(hits, len(alerts)):>22s}   (Welsh {welsh_rate})")
    print("\nfalse alerts on ordinary messages")
    for split in ("dev", "holdout", "all"):
        oks = [(r, d) for r, d in results if r.label == "ok" and split in ("all", r.split)]
        false = sum(1 for _, d in oks if d is not None)
        print(f"  {split:8s} {_rate(false, len(oks)):>22s}")
    labelled = [(r, d) for r, d in results if r.label == "alert" and r.category and d is not None]
    agree = sum(1 for r, d in labelled if d is not None and r.category in d.categories)
    print(f"\nexpected category among those detected: {_rate(agree, len(labelled))}")

    texts = [row.text for row in rows]
    long_text = " ".join(texts)[:2000]
    for text in [*texts, long_text]:  # warm the word memo, as in a running service
        detector.detect(text)
    runs = 20
    start = time.process_time()
    for _ in range(runs):
        for text in texts:
            detector.detect(text)
    per_message = (time.process_time() - start) / (runs * len(texts))
    timings = []
    for _ in range(10):
        t0 = time.process_time()
        for _ in range(20):
            detector.detect(long_text)
        timings.append((time.process_time() - t0) / 20)
    cold = Detector.load(extra)
    t0 = time.process_time()
    cold.detect(long_text)
    first = time.process_time() - t0
    print(f"\nmean detection time per labelled message: {per_message * 1e6:.0f} µs (CPU)")
    print(
        f"2,000-character message: median {statistics.median(timings) * 1e6:.0f} µs (CPU), "
        f"{first * 1e6:.0f} µs on a fresh detector"
    )

    if failures != "none":
        print(f"\nfailures ({failures}):")
        for row, found in results:
            if failures not in ("all", row.split):
                continue
            if row.label == "alert" and found is None:
                print(f"  MISSED   [{row.language} {row.category}] {row.text}")
            elif row.label == "ok" and found is not None:
                print(f"  FALSE    [{row.language}] {row.text}  -> {', '.join(found.matched)}")
            elif (
                row.label == "alert"
                and found is not None
                and row.category
                and row.category not in found.categories
            ):
                print(
                    f"  CATEGORY [{row.language} {row.category}] {row.text}"
                    f"  -> {', '.join(found.categories)}"
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
    parser.add_argument("--labelled", type=Path, default=LABELLED)
    parser.add_argument("--rules", type=Path, action="append", default=[])
    parser.add_argument("--failures", choices=("none", "dev", "holdout", "all"), default="none")
    parser.add_argument("--suggest-no-fuzzy", type=Path, nargs="+", metavar="WORDLIST")
    args = parser.parse_args(argv)
    detector = Detector.load(args.rules)
    if args.suggest_no_fuzzy:
        suggest_no_fuzzy(detector, args.suggest_no_fuzzy)
        return 0
    evaluate(detector, read_rows(args.labelled), args.failures, args.rules)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
