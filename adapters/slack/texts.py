"""Everything the Slack adapter itself says, in one place.

The family conversation's wording lives in `bot/locales/`; these are the few
extra things only Slack needs: the kind reply when something fails on our
side, and the worker-facing answers to the slash command (workers use Heard
in English for now).
"""

from __future__ import annotations

SORRY = "Sorry, something went wrong on our side. Please try again in a few minutes."

HELP = "\n".join(
    (
        "*Heard* asks families how things are going with their social worker.",
        "• `{command} invite` makes an invite card for one family"
        " ({default_set} questions, {default_language}).",
        "• `{command} invite young` uses the questions for children and young people.",
        "• `{command} invite {example_language}` or `{command} invite young {example_language}`"
        " uses another language. Languages: {languages}.",
        "• `{command} report [team] [period] [csv]` shows a team's results to its"
        " managers, e.g. `{command} report 2026-Q4 csv`.",
        "• `{command} help` shows this message.",
        "Only workers registered with Heard can make invite cards.",
    )
)

UNKNOWN_WORD = "Sorry, I don't know “{word}”. Here is what I can do:"

NOT_A_WORKER = (
    "Sorry, only social workers registered with Heard can make invite cards. "
    "If you are one, please ask your Heard administrator to register you with:\n"
    '`heard worker add --team "Your team" --name "Your name" --slack-user {user_id}`'
)

CARD_TITLE = "Invite card for one family"
CARD_DETAILS = "Questions: {set_title} · Language: {language} · Works once, until {expires}"
CARD_CODE = "*Code:* `{code}`\n*Link:* <{link}>"
CARD_HOW = (
    "Give the family the link, the QR code or the code. They open the link or scan the "
    "QR code on their phone to answer in Telegram. If they use Slack, they can instead send "
    "the code to {bot} in a direct message."
)
CARD_QR_SENT = "The QR code is in your direct messages with {bot}."
CARD_FALLBACK = "Invite card: code {code}, link <{link}>"

QR_TITLE = "Heard invite QR code"
QR_ALT = "QR code that opens the Heard invite link"
QR_COMMENT = "QR code for invite {code}. Print it or show it to the family."
QR_FAILED = "I could not send the QR code image just now. The link and the code work without it."
