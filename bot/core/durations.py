"""Durations and daily time windows as people write them in config: "48h", "6w",
"20:00-09:00"."""

from __future__ import annotations

import re
from datetime import time, timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_duration(text: str) -> timedelta:
    """Parse "90s", "15m", "48h", "3d", "6w". Raises ValueError with a hint."""
    match = _DURATION.match(str(text).lower())
    if not match:
        raise ValueError(f"{text!r} is not a duration; write a number and one of s, m, h, d, w")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return timedelta(seconds=seconds)


def parse_window(text: str) -> tuple[time, time]:
    """Parse "20:00-09:00" into (start, end); the window may wrap midnight."""
    match = _WINDOW.match(str(text))
    if not match:
        raise ValueError(f'{text!r} is not a time window; write it like "20:00-09:00"')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"{text!r} has a time that does not exist")
    return time(h1, m1), time(h2, m2)
