"""The words and hashtags that grew most in a bad buzz's negative tweets, against the same
brand's negative tweets of the day before: what the buzz is about ("lost", "#bagfail").

Each tweet counts a term once. A term's growth is its count in the window minus its usual
count per window, divided by sqrt(usual + 1) (a Poisson z-score, so a term that went from 0 to
3 does not outrank one that went from 20 to 60); terms in fewer than `MIN_TWEETS` tweets of
the window are left out.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

from ops.report import TermGrowth

MIN_TWEETS = 2
TOP = 10
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@\w+")
_TERM = re.compile(r"#\w+|[a-z][a-z']{2,}")
# Words every tweet has; the rest (including "not", "never") may well be the story.
_STOPWORDS = """about after again all also and any are because been before being but can cant could
    did didnt does doesnt dont for from get got had has have having her here him his how
    its just like more most now off once only our out over own same she should some such
    than that thats the their them then there these they this those through too under until
    very was way were what when where which while who why will with would you your youre
    im ive amp"""
STOPWORDS = frozenset(_STOPWORDS.split())


def terms_of(text: str) -> set[str]:
    """The distinct terms of a tweet: hashtags and words of 3+ letters, no stop word."""
    text = _MENTION.sub(" ", _URL.sub(" ", text.lower()))
    return {
        term
        for term in (found.replace("'", "") for found in _TERM.findall(text))
        if term not in STOPWORDS and len(term) >= 3
    }


def grown_terms(
    window_texts: Iterable[str], before_texts: Iterable[str], before_windows: float
) -> list[TermGrowth]:
    """The `TOP` terms that grew most in `window_texts` against `before_texts`, which span
    `before_windows` windows."""
    now = Counter(term for text in window_texts for term in terms_of(text))
    before = Counter(term for text in before_texts for term in terms_of(text))
    windows = max(before_windows, 1.0)
    scored = []
    for term, count in now.items():
        if count < MIN_TWEETS:
            continue
        usual = before[term] / windows
        score = (count - usual) / math.sqrt(usual + 1)
        if score > 0:
            scored.append((score, term, count, usual))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [TermGrowth(term, count, usual) for _, term, count, usual in scored[:TOP]]
