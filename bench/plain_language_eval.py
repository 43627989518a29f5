"""Measure the plain-language check on its labelled questions.

    python bench/plain_language_eval.py             # the figures
    python bench/plain_language_eval.py --misses    # also list the dev rows it gets wrong

The set (tests/data/plain_language/questions_labelled.csv) was written for
this by someone who had not seen the checker: half plain, half not, with the
main reason (long, jargon, double, nominalisation, hard_words), in English
and Welsh. Rows alternate between a dev half (its mistakes may be read and
fixed) and a held-out half, of which only the figures are printed.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.core.plain_language import check_text  # noqa: E402

LABELLED = ROOT / "tests" / "data" / "plain_language" / "questions_labelled.csv"


def evaluate(name: str, rows: list[dict[str, str]], show: bool) -> None:
    flagged: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    false_flags = plain = 0
    for row in rows:
        reasons = check_text(row["text"], row["language"])
        if row["label"] == "plain":
            plain += 1
            if reasons:
                false_flags += 1
                if show:
                    print(f"  false flag ({row['language']}): {row['text']!r}: {reasons}")
            continue
        totals[row["reason"]] += 1
        if reasons:
            flagged[row["reason"]] += 1
        elif show:
            print(f"  missed {row['reason']} ({row['language']}): {row['text']!r}")
    unplain = sum(totals.values())
    print(f"{name}: {len(rows)} questions")
    for reason in sorted(totals):
        print(f"    {reason:15} flagged {flagged[reason]:3}/{totals[reason]}")
    hits = sum(flagged.values())
    print(f"  unplain flagged {hits}/{unplain} = {100 * hits / unplain:.1f}%")
    print(f"  plain flagged (false flags) {false_flags}/{plain} = {100 * false_flags / plain:.1f}%")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--misses", action="store_true", help="list the dev half's mistakes")
    args = parser.parse_args()
    with LABELLED.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    evaluate("dev half", rows[0::2], args.misses)
    evaluate("held-out half", rows[1::2], False)
    evaluate("all", rows, False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
