"""The safeguarding decision: the rules and the learned model together.

* A rule fires: an urgent **alert**. The rules are the written, reviewed
  knowledge (and an organisation's own ``extra_rules``); the model is never
  allowed to overrule what a person wrote a rule for.
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
        return Screening(Level.ALERT, found.categories, p)
    if model is None:
        return None
    if p >= model.thresholds.alert:
        return Screening(Level.ALERT, (LEARNED,), p)
    if p >= model.thresholds.review:
        return Screening(Level.REVIEW, (LEARNED,), p)
    return None
