"""Context cues for the learned detector, in English and Welsh.

Most of the screen's false alerts are near-misses: a message that shares its
words with a disclosure but is not one. An injury with an innocent cause
("bruise from rugby"), a subject talked about rather than lived ("a lesson
on grooming"), a past that is over ("he used to hit me, we're safe now"), an
idiom ("mum will kill me"). The n-grams see each of these phrasings only as
often as a writer happened to use it; a cue gathers a family of phrasings
into one feature, so what the model learns from "years ago" also counts for
"ers talwm" and "back when".

A cue is evidence, never a verdict: it is one more feature whose weight the
model learns (``features.py``), so "she used to hit me and she still does"
keeps its other, stronger features. The ``ongoing`` and ``now`` cues are
there for that contrast.

Phrases are folded exactly as message words are (``features.words_of``), so
they are written here as people type them; ``features.py`` finds them.
"""

from __future__ import annotations

CUES: dict[str, tuple[str, ...]] = {
    "past": (
        "used to", "years ago", "year ago", "months ago", "long time ago", "long ago",
        "back then", "back when", "when i was little", "when i was younger", "in the past",
        "no longer", "not any more", "not anymore", "since then", "at the time", "in the end",
        "that was then", "last year", "years back",
        "arfer", "ers talwm", "flynyddoedd yn ol", "blynyddoedd yn ol", "blwyddyn yn ol",
        "misoedd yn ol", "o'r blaen", "erbyn hyn", "bellach", "slawer dydd", "pan o'n i'n fach",
        "pan oeddwn i'n iau", "llynedd", "dim mwy o",
    ),
    "resolved": (
        "safe now", "we're safe", "we are safe", "i'm safe", "sorted", "sorted now",
        "all fine", "fine now", "better now", "much better", "all good", "we're ok",
        "we're fine", "we're okay", "i'm fine", "i'm ok", "doing well", "doing better",
        "no more trouble", "over now", "behind us", "moved on", "new start", "thank god",
        "thankfully", "luckily", "no harm", "nothing serious", "nothing to worry",
        "in prison", "got a new", "moved house", "restraining order",
        "yn saff", "ni'n saff", "dwi'n saff", "yn iawn nawr", "yn iawn rwan", "ni'n iawn",
        "dwi'n iawn", "dw i'n iawn", "popeth yn iawn", "yn well", "llawer gwell",
        "diolch byth", "drwy lwc", "dim niwed", "dim byd difrifol", "wedi setlo",
        "wedi'i ddatrys", "wedi symud", "yn y carchar", "dechrau newydd",
    ),
    "topic": (
        "article", "documentary", "the news", "on the news", "programme", "tv", "telly",
        "film", "movie", "book", "novel", "story", "lesson", "project", "essay", "leaflet",
        "leaflets", "training", "course", "assembly", "podcast", "episode", "drama",
        "soap", "radio", "video", "poster", "awareness", "campaign", "homework", "research",
        "charity", "charities", "talk about", "talked about", "learning about", "they taught",
        "rhaglen", "erthygl", "newyddion", "gwers", "prosiect", "ffilm", "llyfr", "stori",
        "cwrs", "teledu", "hyfforddiant", "traethawd", "gwaith cartref", "s4c", "elusen",
        "taflen", "sgwrs am", "dysgu am",
    ),
    "innocent": (
        "football", "rugby", "trampoline", "bike", "playing", "fell off", "fell over",
        "tripped", "slipped", "jabs", "jab", "vaccine", "injection", "climbing", "netball",
        "hockey", "chickenpox", "by accident", "an accident", "pe", "gym", "park", "cricket",
        "scooter", "the stairs", "skateboard", "swimming", "dentist", "the doctor said",
        "the gp", "the nurse", "a and e", "plaster", "stitches",
        "whare", "chwarae", "rygbi", "pel droed", "beic", "cwympo", "syrthio", "llithro",
        "damwain", "trwy ddamwain", "pigiad", "trampolin", "chwaraeon", "y meddyg",
        "y doctor", "y nyrs", "y deintydd", "sgwter", "nofio",
    ),
    "idiom": (
        "killing me", "kill me if", "will kill me", "gonna kill me", "going to kill me",
        "murder me", "will murder", "could murder", "dying to", "could strangle",
        "drive me mad", "driving me mad", "driving me up the wall", "drives me mad",
        "nightmare", "go mad", "stark raving", "pulling my hair out", "scream", "lol",
        "haha", "joking", "only joking", "bored to death", "dead tired", "to die for",
        "fy lladd i", "yn fy lladd", "lladd fi am", "mynd yn wallgo", "gwallgo", "sgrechian",
        "wedi blino'n farw", "blino'n lan", "jocian", "jocan", "tynnu coes",
    ),
    "negation": (
        "not", "never", "nobody", "no one", "nothing", "isn't", "wasn't", "aren't", "don't",
        "doesn't", "didn't", "haven't", "hasn't", "won't", "ain't", "nope",
        "ddim", "byth", "neb", "nag oes", "nag yw", "na", "dim", "sdim",
    ),
    "ongoing": (
        "still", "again", "keeps", "every night", "every day", "all the time", "always",
        "won't stop", "started again", "getting worse", "worse", "more and more",
        "dal i", "dal yn", "eto", "o hyd", "bob nos", "bob dydd", "drwy'r amser", "gwaeth",
        "byth yn stopio", "wedi dechrau eto",
    ),
    "now": (
        "now", "right now", "tonight", "today", "at the moment", "this weekend",
        "please help", "help me", "scared", "don't tell", "secret", "can't tell",
        "rwan", "nawr", "heno", "heddiw", "ar hyn o bryd", "helpwch", "helpa fi", "ofn",
        "paid deud", "paid dweud", "cyfrinach",
    ),
}
"""Cue name -> phrases. A phrase is a run of whole words."""
