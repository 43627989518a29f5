"""The learned detector and the decision that combines it with the rules: the
shipped model file, the one feature function, and what the combined screen
does with the older labelled set and the retired blind sets. (Recall and false
alerts on the training corpus and the current blind set are figures, printed by
bench/safeguarding_eval.py, which is run here on a made-up blind set.)"""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.errors import ConfigError
from bot.core.safeguarding import default_detector
from bot.core.safeguarding.decision import LEARNED, Level, screen
from bot.core.safeguarding.features import (
    CUE_WEIGHT,
    DIMENSION,
    _bucket,
    cues_in,
    features,
    words_of,
)
from bot.core.safeguarding.model import MODEL_FILE, Model, Thresholds, default_model
from bot.service.spool import AlertSpool

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
LABELLED = DATA / "safeguarding_labelled.csv"
TRAIN_DIR = DATA / "safeguarding" / "train"
BLIND_DIR = DATA / "safeguarding" / "blind"
RETIRED_BLIND = (
    TRAIN_DIR / "writer_retired_blind_a.csv",
    TRAIN_DIR / "writer_retired_blind_c.csv",
)
"""Blind sets that have been scored, and so moved into the training corpus."""


def _texts(path: Path, label: str) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [r["text"] for r in csv.DictReader(handle) if r["label"] == label]


def _labelled(label: str) -> list[str]:
    return _texts(LABELLED, label)


def test_every_must_alert_line_of_the_labelled_set_is_still_an_urgent_alert() -> None:
    detector, model = default_detector(), default_model()
    not_urgent = [
        t
        for t in _labelled("alert")
        if (found := screen(t, detector, model)) is None or found.level is not Level.ALERT
    ]
    assert not_urgent == []


@pytest.mark.parametrize("path", RETIRED_BLIND, ids=lambda p: p.stem)
def test_every_must_alert_line_of_a_retired_blind_set_still_reaches_the_duty_team(
    path: Path,
) -> None:
    detector, model = default_detector(), default_model()
    texts = _texts(path, "alert")
    assert len(texts) >= 100
    assert [t for t in texts if screen(t, detector, model) is None] == []


def _training_texts() -> list[str]:
    texts: list[str] = []
    for path in sorted(TRAIN_DIR.glob("writer_*.csv")):
        texts += _texts(path, "alert") + _texts(path, "ok")
    return texts + _labelled("alert") + _labelled("ok")


def test_the_shipped_model_is_plain_json_small_and_trained_on_todays_corpus() -> None:
    assert MODEL_FILE.stat().st_size <= 10_000_000
    raw = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert raw["format"] == "heard-safeguarding-model" and raw["dimension"] == DIMENSION
    writers = set()
    for path in TRAIN_DIR.glob("writer_*.csv"):
        with path.open(encoding="utf-8", newline="") as handle:
            writers |= {r["writer"] for r in csv.DictReader(handle)}
    assert set(raw["trained_on"]["writers"]) == writers | {"repo"}
    assert raw["trained_on"]["rows"] == len(_training_texts()), "run scripts/train_detector.py"
    model = Model.load()
    assert 0 < model.thresholds.review <= model.thresholds.alert < 1


def test_a_model_made_for_other_features_is_refused(tmp_path: Path) -> None:
    raw = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    raw["feature_version"] = -1
    bad = tmp_path / "model.json"
    bad.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match="train_detector"):
        Model.load(bad)


def test_features_fold_case_accents_apostrophes_and_stretched_letters() -> None:
    assert words_of("I’m SOOOO scared, tŷ") == ["im", "soo", "scared", "ty"]
    assert features("I'm scared") == features("im SCARED!!")
    vec = features("the worker phoned me")
    assert abs(sum(v * v for v in vec.values()) - 1.0) < 1e-9, "no cue: n-grams of unit length"
    assert all(0 <= b < DIMENSION for b in vec)
    assert features("") == {} and features("!!! ...") == {}


def test_context_cues_gather_phrasings_in_english_and_welsh() -> None:
    def cues(text: str) -> list[str]:
        return cues_in(words_of(text))

    assert cues("He used to hit me but he's in prison and we're safe now") == [
        "now",
        "past",
        "resolved",
    ]
    assert cues("Roedd e'n arfer fy nharo i, ond ni'n saff erbyn hyn") == ["past", "resolved"]
    assert cues("bruise on his shin from football") == ["innocent"]
    assert cues("Mae e wedi cwympo oddi ar ei feic") == ["innocent"]
    assert cues("we had a lesson on grooming at school") == ["topic"]
    assert cues("mum will kill me lol") == ["idiom"]
    assert cues("he still hits me every night") == ["ongoing"]
    assert cues("Dwi ddim yn saff heno") == ["negation", "now", "resolved"]
    # A cue is one more feature beside the n-grams (which stay, so "not safe"
    # is still read as "not safe"), and so is each pair of cues found together.
    vec = features("Dwi ddim yn saff heno")
    for name in ("negation", "now", "resolved", "negation+resolved", "now+resolved"):
        assert vec[_bucket("q" + name)] >= CUE_WEIGHT
    assert _bucket("qongoing") not in vec


def _model(bias: float, alert: float = 0.9, review: float = 0.3) -> Model:
    from array import array

    return Model(array("f", bytes(4 * DIMENSION)), bias, Thresholds(alert, review), {})


def test_the_decision_combines_rules_and_model() -> None:
    detector = default_detector()
    disclosure = "my step dad hits me and im scared to go home"
    ordinary = "the worker was late again"
    sure, unsure, unlike = _model(5.0), _model(0.0), _model(-5.0)  # p = .99, .5, .007
    assert screen(ordinary, detector, sure).level is Level.ALERT  # type: ignore[union-attr]
    assert screen(ordinary, detector, sure).categories == (LEARNED,)  # type: ignore[union-attr]
    assert screen(ordinary, detector, unsure).level is Level.REVIEW  # type: ignore[union-attr]
    assert screen(ordinary, detector, unlike) is None
    assert screen(disclosure, detector, unsure).level is Level.ALERT  # type: ignore[union-attr]
    # A rule hit the model finds very unlike a disclosure is still heard, for review.
    found = screen(disclosure, detector, unlike)
    assert found is not None and found.level is Level.REVIEW
    assert "harm_from_others" in found.categories
    assert screen(disclosure, detector, None).level is Level.ALERT  # type: ignore[union-attr]


def test_the_spool_is_owner_only_durable_and_skips_a_torn_line(tmp_path: Path) -> None:
    spool = AlertSpool(tmp_path / "data" / "spool.jsonl")
    assert spool.pending() == ([], 0)
    spool.put({"delivery_key": "telegram:1", "text": "a"})
    spool.put({"delivery_key": "telegram:2", "text": "b"})
    assert stat.S_IMODE(os.stat(spool.path).st_mode) == 0o600
    with spool.path.open("ab") as fh:
        fh.write(b'{"delivery_key": "telegram:3"')  # a crash mid-write
    records, upto = spool.pending()
    assert [r["delivery_key"] for r in records] == ["telegram:1", "telegram:2"]
    spool.put({"delivery_key": "telegram:4"})  # arrives while the drain runs
    spool.remove(upto)
    left, _ = spool.pending()
    assert spool.path.exists() and stat.S_IMODE(os.stat(spool.path).st_mode) == 0o600
    assert [r["delivery_key"] for r in left] == ["telegram:4"], "the torn line is skipped"


def test_no_current_blind_set_leaks_into_the_training_corpus() -> None:
    """A blind message found word for word in training was copied, not
    written twice; except a reply of four words or fewer ("Kind of", "Same as
    last time"), which independent writers do write alike."""
    training = set(_training_texts())
    for path in sorted(BLIND_DIR.rglob("*.csv")):
        blind = [t for t in _texts(path, "alert") + _texts(path, "ok") if len(t.split()) > 4]
        assert training.isdisjoint(blind), f"{path.name} is blind: never train on it"


def test_the_benchmark_scores_a_blind_set_without_a_writer_column(tmp_path: Path) -> None:
    blind = tmp_path / "blind_x.csv"
    blind.write_text(
        "\ufefftext,label,category,style,language\n"
        '"my stepdad hits me when mum is at work, please dont tell him",alert,'
        "harm_from_others,direct,en\n"
        "Dw i isio marw,alert,self_harm,direct,cy\n"
        "The worker was on time and kind,ok,ordinary_feedback,,en\n",
        encoding="utf-8",
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nhello,maybe\n", encoding="utf-8")
    bench = [sys.executable, str(ROOT / "bench" / "safeguarding_eval.py"), "--no-cv"]
    run = subprocess.run(
        [*bench, "--no-timing", "--blind", str(blind)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = run.stdout
    assert "blind set blind_x.csv" in out and "3 messages, 2 must-alert" in out
    for heading in ("by category", "by style", "by language", "urgent only", "rules only"):
        assert heading in out
    assert "harm_from_others" in out and "cy " in out
    assert "false alerts <= 10%" in out
    assert "dont tell him" not in out and "marw" not in out, "never prints a message"
    failed = subprocess.run(
        [*bench, "--no-timing", "--blind", str(bad)], capture_output=True, text=True, timeout=120
    )
    assert failed.returncode == 2 and "line 2" in failed.stderr and "maybe" in failed.stderr
