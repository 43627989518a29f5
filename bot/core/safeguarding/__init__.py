"""Safeguarding: spotting free text that suggests someone may be in danger.

Every free-text answer is checked here first (DESIGN.md §8).  The detector is
pure and fast; what to do about a detection (reply with where to get help,
alert the duty channel) is decided elsewhere.

    detection = default_detector().detect(text)
    if detection is not None:
        ...  # detection.categories, detection.matched (rule ids only, never user text)

The rules live in ``bot/safeguarding/data/*.toml`` (one file per language);
an organisation adds its own files with ``Detector.load(extra_files=[...])``.
"""

from bot.core.safeguarding.detector import Detection, Detector, default_detector
from bot.core.safeguarding.rules import CATEGORIES

__all__ = ["CATEGORIES", "Detection", "Detector", "default_detector"]
