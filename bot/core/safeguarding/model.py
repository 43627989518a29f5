"""The learned detector: a logistic-regression model over hashed n-grams.

Why this model: the training corpus is a few thousand short messages, and a
linear model over character and word n-grams is the strongest thing that
generalises from that little data to a new voice (it reads misspellings,
text-speak and Welsh mutations through shared character n-grams), while it
stays explainable, trains deterministically in seconds, ships as one weight
vector (no pickle: JSON with the float32 weights in base64) and scores a
message in well under a millisecond of plain Python. The figures that chose
it and its settings come from leave-one-writer-out cross-validation
(``scripts/train_detector.py``, ``bench/safeguarding_eval.py``).

The file is read once, on first use, by ``default_model()``.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.errors import ConfigError
from bot.core.safeguarding.features import DIMENSION, FEATURE_VERSION, features

MODEL_FILE = Path(__file__).resolve().parent / "data" / "model.json"
FORMAT = "heard-safeguarding-model"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """How the model's probability is read (chosen by cross-validation)."""

    alert: float
    """At or above: an urgent alert, as if a rule had fired."""
    review: float
    """At or above (and below ``alert``): the uncertain band, "for review"."""


class Model:
    """Weights and thresholds; ``probability(text)`` is pure."""

    __slots__ = ("bias", "info", "thresholds", "weights")

    def __init__(
        self, weights: array[float], bias: float, thresholds: Thresholds, info: dict[str, Any]
    ) -> None:
        if len(weights) != DIMENSION:
            raise ConfigError(f"safeguarding model: {len(weights)} weights, expected {DIMENSION}")
        self.weights = weights
        self.bias = bias
        self.thresholds = thresholds
        self.info = info

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> Model:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"safeguarding model {path}: cannot read it ({exc})") from exc
        if raw.get("format") != FORMAT or raw.get("feature_version") != FEATURE_VERSION:
            raise ConfigError(
                f"safeguarding model {path}: made for other features; "
                "run scripts/train_detector.py again"
            )
        weights = array("f")
        weights.frombytes(base64.b64decode(raw["weights"]))
        if sys.byteorder != "little":
            weights.byteswap()
        thresholds = Thresholds(
            float(raw["thresholds"]["alert"]), float(raw["thresholds"]["review"])
        )
        info = {k: v for k, v in raw.items() if k not in ("weights",)}
        return cls(weights, float(raw["bias"]), thresholds, info)

    def to_json(self) -> str:
        weights = array("f", self.weights)
        if sys.byteorder != "little":
            weights.byteswap()
        body = dict(self.info)
        body.update(
            format=FORMAT,
            feature_version=FEATURE_VERSION,
            dimension=DIMENSION,
            bias=self.bias,
            thresholds={"alert": self.thresholds.alert, "review": self.thresholds.review},
            weights=base64.b64encode(weights.tobytes()).decode("ascii"),
        )
        return json.dumps(body, indent=1, sort_keys=True)

    def probability(self, text: str) -> float:
        """How likely the message is one a duty social worker must see (0 to 1)."""
        w = self.weights
        z = self.bias + sum(w[b] * v for b, v in features(text).items())
        if z < -30:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))


@functools.cache
def default_model() -> Model:
    """The shipped model, read on first use."""
    return Model.load()
