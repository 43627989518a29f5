"""Every word Heard says comes from the locale files: family texts, staff
texts, and the apology for when we do not know the reader's language."""

from __future__ import annotations

import string
import tomllib
from datetime import datetime
from pathlib import Path

import pytest

from bot.core import alert_texts
from bot.core.errors import ConfigError
from bot.core.texts import COMMANDS, load


def test_an_apology_is_in_the_readers_language_when_known() -> None:
    t = load()
    assert t.for_anyone("try_later", "cy") == t.get("cy", "try_later")
    assert t.for_anyone("try_later", "en-GB") == t.get("en", "try_later")


def test_an_apology_to_someone_unknown_is_in_every_language_default_first() -> None:
    t = load()
    en, cy = t.get("en", "try_later"), t.get("cy", "try_later")
    assert en != cy
    assert t.for_anyone("try_later") == f"{en}\n\n{cy}"
    assert t.for_anyone("try_later", "de", first="cy") == f"{cy}\n\n{en}"


def test_every_command_word_is_in_each_language() -> None:
    t = load()
    for command in COMMANDS:
        assert command in t.words, command


def test_staff_texts_have_a_welsh_translation() -> None:
    t = load()
    staff = {k for k in t.strings["en"] if k.startswith(("slack_", "alert_"))}
    assert len(staff) > 20
    for key in staff:
        assert t.strings["cy"].get(key), key
        assert t.strings["cy"][key] != t.strings["en"][key], key


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_english_key_has_a_welsh_one_with_the_same_placeholders() -> None:
    """Family and staff texts alike (digests, comment review, promises,
    reassign, "you said"): a key added in English only would fall back to
    English for a Welsh reader without anyone noticing."""
    locales = Path(__file__).parents[2] / "bot" / "locales"
    en = tomllib.loads((locales / "en.toml").read_text(encoding="utf-8"))
    cy = tomllib.loads((locales / "cy.toml").read_text(encoding="utf-8"))
    for table in ("text", "staff", "words"):
        missing = sorted(set(en[table]) - set(cy[table]))
        assert not missing, f"[{table}] has no Welsh for: {', '.join(missing)}"
        assert not set(cy[table]) - set(en[table]), table
        if table == "words":
            continue
        for key, template in en[table].items():
            assert cy[table][key].strip(), key
            assert _placeholders(cy[table][key]) == _placeholders(template), key


def test_the_staff_flows_of_this_issue_are_in_welsh() -> None:
    t = load()
    keys = [
        k
        for k in t.strings["en"]
        if k.startswith(("digest_", "review_", "slack_you_said", "slack_yousaid", "slack_promise"))
        or "reassign" in k
    ]
    assert len(keys) > 30
    for key in keys:
        assert t.strings["cy"][key] != t.strings["en"][key], key


def test_a_key_in_both_tables_is_refused(tmp_path: Path) -> None:
    (tmp_path / "en.toml").write_text('[text]\nhi = "Hi"\n[staff]\nhi = "Hello"\n')
    with pytest.raises(ConfigError, match="hi is in both"):
        load(tmp_path)


def test_an_alert_takes_its_wording_from_the_locale_files() -> None:
    facts = alert_texts.AlertFacts(
        7,
        ("self_harm", "something_new"),
        datetime(2026, 1, 2, 3, 4),
        "I {am} scared",
        alert_texts.describe_case("North", None, "K7Q2"),
    )
    text = alert_texts.alert_text(facts, chase=2)
    assert text.startswith("⏰ NOT YET ACKNOWLEDGED (reminder 2) — safeguarding alert #7\n")
    assert "What: harm to self, something new\n" in text
    assert "When: 2026-01-02 03:04 UTC\nCase: team North, invite code K7Q2\n" in text
    assert "They wrote:\n> I {am} scared\n" in text
    assert alert_texts.describe_case(None, None, None).startswith("not yet linked")
    done = alert_texts.acknowledged_text(7, "Jo", datetime(2026, 1, 2, 9, 5))
    assert done == "✓ Alert #7 acknowledged by Jo at 09:05 UTC"
