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
        '• `{command} promise CODE "what you promised" by 2026-12-05` records a promise'
        " you made to that family; after the date Heard asks them if it happened.",
        "• `{command} report` will show your team's results (not available yet).",
        "• `{command} help` shows this message.",
        "Only workers registered with Heard can make invite cards.",
    )
)

UNKNOWN_WORD = "Sorry, I don't know “{word}”. Here is what I can do:"

REPORT_NOT_YET = (
    "Reports are not available in Slack yet. They will come in a later version of Heard."
)

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

PROMISE_USAGE = (
    'Write it like this: `{command} promise CODE "I will ring you on Friday" by 2026-12-05` '
    "(or `by 3d` for three days from now)."
)

PROMISE_PROBLEM = "Nothing was recorded: {problem}.\n{usage}"

PROMISE_RECORDED = (
    "Promise recorded for the family with the code `{code}`. From {ask} Heard will ask them "
    "whether it happened. You will only ever see how many promises were kept across "
    "several families, never one family's answer."
)

NOT_A_WORKER_PROMISE = (
    "Sorry, only social workers registered with Heard can record promises. "
    "If you are one, please ask your Heard administrator to register you with:\n"
    '`heard worker add --team "Your team" --name "Your name" --slack-user {user_id}`'
)
