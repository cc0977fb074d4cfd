"""Tweet normalisation shared by training and serving (one function, no skew).

Pure and light: only the standard library, `emoji` and `snowballstemmer`, and
`simplemma` (whose data ships in its wheel) for lemmatisation, all imported lazily
where they cost anything. The output is a space-separated token string, which the
vectorisers split on whitespace.
"""

from __future__ import annotations

import html
import importlib.util
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any, Literal

URL_TOKEN = "xxurl"
USER_TOKEN = "xxuser"

Stemming = Literal["none", "snowball", "lemma"]


@dataclass(frozen=True)
class NormalizationConfig:
    """Which steps run, in this order. Saved in every bundle."""

    html_entities: bool = True  # "&quot;" -> '"', "&lt;3" -> "<3"
    urls: bool = True  # "http://t.co/x" -> xxurl
    mentions: bool = True  # "@united" -> xxuser
    hashtags: bool = True  # "#fail" -> "fail"
    emoticons: bool = True  # ":(" -> "sad"
    emoji: bool = True  # "😡" -> "enraged face"
    elongations: bool = True  # "loooove" -> "loove"; a run of one emoji (3+) kept twice too
    lowercase: bool = True
    stopwords: bool = False  # drops stop-words but keeps negations
    stemming: Stemming = "none"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> NormalizationConfig:
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown normalisation settings: {sorted(unknown)}")
        return cls(**values)


# Lexicon models read raw text (case, punctuation and emoticons carry signal for VADER).
RAW_TEXT = NormalizationConfig(
    urls=False,
    mentions=False,
    hashtags=False,
    emoticons=False,
    emoji=False,
    elongations=False,
    lowercase=False,
)

# Western emoticons, longest first so ":-((" is not read as ":-(".
_EMOTICON_WORDS = {
    "happy": [":-)", ":)", ":]", "=)", ":-d", ":d", "=d", "(:", "^_^", "^^", ":o)", ":3"],
    "laugh": ["xd", "x-d", ":'-)", ":')"],
    "sad": [":-(", ":(", ":[", "=(", "):", ":'(", ":'-(", ":-/", ":/", ":\\", "-_-", ":|"],
    "love": ["<3", "<33", "<333"],
    "wink": [";-)", ";)", ";d", ";-d"],
    "tongue": [":-p", ":p", ";p", "=p"],
    "surprise": [":-o", ":o", "o_o", "o.o"],
    "angry": [">:(", ">:-(", ":@"],
}
_EMOTICON_TO_WORD = {
    emoticon: word for word, emoticons in _EMOTICON_WORDS.items() for emoticon in emoticons
}
# An emoticon stands alone: after start/space and before space/end/punctuation.
EMOTICON_RE = re.compile(
    r"(?<!\S)("
    + "|".join(re.escape(e) for e in sorted(_EMOTICON_TO_WORD, key=len, reverse=True))
    + r")(?=\s|$|[.,!?])",
    re.IGNORECASE,
)
# A URL runs to the end of its whitespace-delimited word: from `http(s)://` or `www.` (with a
# character after it), or from the first word boundary before a `.com/` (net, org, ly, co).
# The pattern only finds the words that hold one of those markers, each tried from its first
# character only (the lookbehind), so it is linear; `_url_in_word` then finds where in the
# word the URL starts. (`\b\S+\.com/`, tried at every boundary of a word such as
# `a.a.a.a...`, rescanned the rest of the word from each: quadratic.)
URL_RE = re.compile(
    r"(?<!\S)\S*?(?:(?:https?://|www\.)\S|\.(?:com|net|org|ly|co)/)\S*", re.IGNORECASE
)
_URL_SCHEME_RE = re.compile(r"(?:https?://|www\.)\S", re.IGNORECASE)
_URL_DOMAIN_RE = re.compile(r"\.(?:com|net|org|ly|co)/", re.IGNORECASE)
_WORD_BOUNDARY_RE = re.compile(r"\b")
MENTION_RE = re.compile(r"@\w+")
HASHTAG_RE = re.compile(r"#(\w+)")
ELONGATION_RE = re.compile(r"([^\W\d_])\1{2,}")  # letters only: "1000" stays
_PUNCT_RUN_RE = re.compile(r"([!?])[!?]+")
# The same symbol (an emoji) three times or more in a row: kept twice, as letters are, before
# each copy becomes words ("😡😡😡😡" is as angry as "😡😡", and 500 of them cost no more)
# A tweet is 280 characters at most: the longest of 20,000 Sentiment140 tweets normalises to
# 69 tokens, and the networks read 50 to 128. A text that makes more (500 @mentions, a row of
# emoji families, each four words) is cut here, so it costs the model what a tweet does.
MAX_TOKENS = 100
_SYMBOL_RUN_RE = re.compile(r"([^\x00-\x7f\w\s])\1{2,}")
_TOKEN_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[!?]+|\w+")

NEGATIONS = frozenset(
    """no not nor never none nobody nothing neither nowhere cannot can't cant don't dont
    doesn't doesnt didn't didnt isn't isnt wasn't wasnt aren't arent weren't werent won't wont
    wouldn't wouldnt shouldn't shouldnt couldn't couldnt haven't havent hasn't hasnt hadn't
    hadnt mustn't ain't aint""".split()  # noqa: SIM905
)
# NLTK's English stop-word list, minus the negations above.
STOPWORDS = (
    frozenset(
        """i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself
        yourselves he him his himself she she's her hers herself it it's its itself they them
        their theirs themselves what which who whom this that that'll these those am is are was
        were be been being have has had having do does did doing a an the and but if or because
        as until while of at by for with about against between into through during before after
        above below to from up down in out on off over under again further then once here there
        when where why how all any both each few more most other some such only own same so than
        too very s t can will just should should've now d ll m o re ve y ma""".split()  # noqa: SIM905
    )
    - NEGATIONS
)


@cache
def _stem(word: str) -> str:
    return _snowball().stemWord(word)  # type: ignore[no-any-return]


@cache
def _snowball() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@cache
def _lemma(word: str) -> str:
    import simplemma

    return simplemma.lemmatize(word, lang="en")  # type: ignore[no-any-return]


@cache
def _emoji_starts() -> frozenset[str]:
    """Every character an emoji can start with."""
    import emoji

    return frozenset(sequence[0] for sequence in emoji.EMOJI_DATA)


def _demojize(text: str) -> str:
    if text.isascii():  # most tweets: skip the emoji scan entirely
        return text
    if _emoji_starts().isdisjoint(text):  # no emoji can start here (accents, CJK...): skip
        return text.replace("_", " ")  # demojize's scan, 0.6 us a character, for nothing
    import emoji

    return emoji.demojize(_upto_emoji(text, MAX_TOKENS), delimiters=(" ", " ")).replace("_", " ")


def _upto_emoji(text: str, count: int) -> str:
    """`text` cut before its (count + 1)th emoji: each emoji becomes a word or more, so what
    lies beyond would be cut at MAX_TOKENS anyway, and demojize need not read it. Only
    non-ASCII starts count: digits, # and * start keycap emoji but are mostly plain text."""
    starts = _emoji_starts()
    seen = 0
    for at, char in enumerate(text):
        if char in starts and not char.isascii():
            seen += 1
            if seen > count:
                return text[:at]
    return text


def _url_in_word(word: str) -> int | None:
    """Where the URL in a whitespace-delimited word starts, if it holds one."""
    starts = []
    if scheme := _URL_SCHEME_RE.search(word):
        starts.append(scheme.start())
    domains = [found.start() for found in _URL_DOMAIN_RE.finditer(word)]
    if domains:
        # the first word boundary with at least one character before the last `.com/` (the
        # search stops after its dot, so that each boundary up to the dot is seen as in `word`)
        dot = domains[-1]
        boundary = _WORD_BOUNDARY_RE.search(word, 0, dot + 1)
        if boundary is not None and boundary.start() < dot:
            starts.append(boundary.start())
    return min(starts, default=None)


def _replace_urls(text: str) -> str:
    def replace(word: re.Match[str]) -> str:
        start = _url_in_word(word.group())
        if start is None:
            return word.group()
        return f"{word.group()[:start]} {URL_TOKEN} "

    return URL_RE.sub(replace, text)


def missing_packages(config: NormalizationConfig) -> list[str]:
    """Packages `config` needs that are not installed (lemmatisation's word lists are an
    extra: the TFLite serving image has none)."""
    if config.stemming == "lemma" and importlib.util.find_spec("simplemma") is None:
        return ["simplemma"]
    return []


def normalize(text: str, config: NormalizationConfig = NormalizationConfig()) -> str:
    """Normalise one tweet into space-separated tokens."""
    if config.html_entities and "&" in text:
        text = html.unescape(text)
    if config.urls:
        text = _replace_urls(text)
    if config.mentions:
        text = MENTION_RE.sub(f" {USER_TOKEN} ", text)
    if config.hashtags:
        text = HASHTAG_RE.sub(r"\1", text)
    if config.emoticons:
        text = EMOTICON_RE.sub(lambda m: f" {_EMOTICON_TO_WORD[m.group(1).lower()]} ", text)
    if config.emoji:
        if config.elongations and not text.isascii():
            text = _SYMBOL_RUN_RE.sub(r"\1\1", text)
        text = _demojize(text)
    if config.elongations:
        text = ELONGATION_RE.sub(r"\1\1", text)
        text = _PUNCT_RUN_RE.sub(r"\1", text)
    if config.lowercase:
        text = text.lower()
    tokens = _TOKEN_RE.findall(text)[:MAX_TOKENS]
    if not (config.stopwords or config.stemming != "none"):
        return " ".join(tokens)
    if config.stopwords:
        tokens = [t for t in tokens if t.lower() not in STOPWORDS]
    if config.stemming == "snowball":
        tokens = [_stem(t) for t in tokens]
    elif config.stemming == "lemma":
        tokens = [_lemma(t) for t in tokens]
    return " ".join(tokens)


def normalize_many(
    texts: Iterable[str],
    config: NormalizationConfig = NormalizationConfig(),
) -> list[str]:
    """Normalise a batch of tweets (same result as `normalize` on each)."""
    return [normalize(text, config) for text in texts]
