"""The safeguarding decision: the rules and the learned model together.

* A rule fires: an urgent **alert**, unless the model finds the message
  very unlike a disclosure (probability below ``thresholds.review``); then it
  is **review** with the rule's categories. The rules are written, reviewed
  knowledge, so the model never silences one: the duty team still hears at
  once. But a rule matches words, and most of its false alerts are
  near-misses (an innocent injury, a subject talked about, a past that is
  over) that the model reads in context. In leave-one-writer-out
  cross-validation this turns 78 of the rules' 130 false urgent alerts into
  reviews, and 81 of their 1,085 true ones, which the family's answer or
  silence then makes urgent.
* No rule fires, and the model's probability is at or above
  ``thresholds.alert``: an urgent **alert**. This is what catches the
  wording nobody wrote a rule for.
* The probability is between ``thresholds.review`` and ``thresholds.alert``:
  **review**, the uncertain band. The duty team hears of it at once, marked
  "for review", and the family is asked one gentle question.
* Otherwise nothing.

The two thresholds are chosen by leave-one-writer-out cross-validation on the
training corpus (``scripts/train_detector.py``): ``review`` for recall on a
voice the model has never seen, ``alert`` so that only confident model
detections start the urgent chase. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.core.safeguarding.detector import Detector
from bot.core.safeguarding.model import Model

LEARNED = "concern"
"""The category of a detection the model made and no rule explains."""


class Level(StrEnum):
    ALERT = "alert"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class Screening:
    """What the screen found in one message: never any of the message's text."""

    level: Level
    categories: tuple[str, ...]
    probability: float


def screen(text: str, detector: Detector, model: Model | None) -> Screening | None:
    """Screen one message (see the module docstring); None when nothing was found."""
    found = detector.detect(text)
    p = model.probability(text) if model is not None else 0.0
    if found is not None:
        if model is not None and p < model.thresholds.review:
            return Screening(Level.REVIEW, found.categories, p)
        return Screening(Level.ALERT, found.categories, p)
    if model is None:
        return None
    if p >= model.thresholds.alert:
        return Screening(Level.ALERT, (LEARNED,), p)
    if p >= model.thresholds.review:
        return Screening(Level.REVIEW, (LEARNED,), p)
    return None
