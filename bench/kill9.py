"""kill -9 of `heard run` at many random points while families answer
concurrently over the Telegram fake, polling and webhook (issue 13's suite).

    python bench/kill9.py [--kills 100] [--families 20] [--mode polling|webhook|both]

Prints, per mode: kill points survived, surveys completed, answers stored
(and distinct), replies missing (must be 0), and replies that arrived twice
(allowed only for a reply in flight at a kill). The reliability suite runs
the same driver with a few kill points (tests/reliability/test_kill9.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reliability.kill_run import ADULT, run_kills


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--families", type=int, default=20)
    parser.add_argument("--mode", choices=("polling", "webhook", "both"), default="both")
    args = parser.parse_args()
    modes = ("polling", "webhook") if args.mode == "both" else (args.mode,)
    ok = True
    for mode in modes:
        with tempfile.TemporaryDirectory(prefix="heard-kill-") as tmp:
            r = run_kills(Path(tmp), families=args.families, kills=args.kills, mode=mode)
        expected = r.families * len(ADULT.questions)
        good = (
            not r.stuck
            and r.completed == r.families
            and r.missing_replies == 0
            and r.answers == r.distinct_answers == expected
        )
        ok = ok and good
        print(
            f"{mode:8} kill points survived {r.kills:4}   surveys completed "
            f"{r.completed}/{r.families} ({args.families} at a time)   answers {r.answers} stored, "
            f"{r.distinct_answers} distinct, {expected} expected   replies missing "
            f"{r.missing_replies}   repeats (in flight at a kill) {r.repeats}   "
            f"{r.seconds:.0f} s   {'PASS' if good else 'FAIL'}"
        )
        for line in r.stuck:
            print(f"  stuck: {line}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
