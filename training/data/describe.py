"""Describe a Sentiment140 frame per class: a markdown report with PNG plots."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from badbuzz.text import (
    ELONGATION_RE,
    EMOTICON_RE,
    HASHTAG_RE,
    MENTION_RE,
    STOPWORDS,
    URL_RE,
    URL_TOKEN,
    USER_TOKEN,
    normalize,
)
from training.data.sentiment140 import LABEL_NAMES

NEUTRAL = -1
CLASS_NAMES = {**LABEL_NAMES, NEUTRAL: "neutral"}
TOP_TOKENS = 20
# The placeholders would top every list; URL and mention shares are reported on their own.
IGNORED_TOKENS = STOPWORDS | {URL_TOKEN, USER_TOKEN}
# Informative Dirichlet prior (Monroe et al. 2008): each token gets this share of its pooled
# count as pseudo-counts, which keeps rare tokens from topping the list at any corpus size.
PRIOR_SHARE = 0.1

PLOT_FILES = ("class_balance.png", "length.png", "features.png")


def _has_emoji(text: str) -> bool:
    if text.isascii():
        return False
    import emoji

    return emoji.emoji_count(text) > 0


def _has_elongation(text: str) -> bool:
    # URLs ("www"), user names and numbers ("1000") repeat characters without stretching a word.
    text = MENTION_RE.sub(" ", URL_RE.sub(" ", text))
    return any(match.group(1).isalpha() for match in ELONGATION_RE.finditer(text))


FEATURES: dict[str, Callable[[str], bool]] = {
    "URL": lambda text: URL_RE.search(text) is not None,
    "@mention": lambda text: MENTION_RE.search(text) is not None,
    "#hashtag": lambda text: HASHTAG_RE.search(text) is not None,
    "emoticon": lambda text: EMOTICON_RE.search(text) is not None,
    "emoji": _has_emoji,
    "elongation": _has_elongation,
}


def write_report(frame: pd.DataFrame, out_dir: Path, title: str) -> list[Path]:
    """Write report.md and PNG plots into out_dir (created if missing); return [report, *plots]."""
    if frame.empty:
        raise ValueError("no tweets to describe")
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = frame["label"].to_numpy()
    classes = sorted(np.unique(labels).tolist(), key=lambda label: (label < 0, label))
    names = [CLASS_NAMES.get(label, str(label)) for label in classes]
    masks = [labels == label for label in classes]
    # Decoded as normalize() does first: "&lt;3" is an emoticon, "&#39;" is no hashtag.
    raw = [html.unescape(text) if "&" in text else text for text in frame["text"]]
    tokens = [normalize(text).split() for text in frame["text"]]

    counts = np.array([mask.sum() for mask in masks])
    lengths = {
        "characters": np.array([len(text) for text in raw]),
        "tokens": np.array([len(tweet) for tweet in tokens]),
    }
    features = {
        name: np.fromiter((test(text) for text in raw), dtype=bool, count=len(raw))
        for name, test in FEATURES.items()
    }
    shares = {name: [hits[mask].mean() for mask in masks] for name, hits in features.items()}
    per_class = [Counter(_kept(tokens, mask)) for mask in masks]

    plots = [
        _save(_balance_figure(names, counts), out_dir / PLOT_FILES[0]),
        _save(_length_figure(names, masks, lengths), out_dir / PLOT_FILES[1]),
        _save(_features_figure(names, shares), out_dir / PLOT_FILES[2]),
    ]
    sections = [
        f"# {title}\n\n{len(frame):,} tweets in {len(classes)} classes ({', '.join(names)}).",
        _balance_section(names, counts),
        _length_section(names, masks, lengths),
        _features_section(names, shares, features),
        _tokens_section(names, per_class),
    ]
    report = out_dir / "report.md"
    report.write_text("\n\n".join(sections) + "\n", encoding="utf-8")
    return [report, *plots]


def _kept(tokens: list[list[str]], mask: np.ndarray) -> list[str]:
    return [
        token
        for tweet, keep in zip(tokens, mask, strict=True)
        if keep
        for token in tweet
        if token not in IGNORED_TOKENS
    ]


def distinctive_tokens(
    per_class: Sequence[Counter[str]], top: int
) -> list[list[tuple[str, float]]]:
    """Per class, the `top` tokens with the highest log-odds z-score against all other classes."""
    vocabulary = sorted(set().union(*per_class))
    if len(per_class) < 2 or not vocabulary:
        return [[] for _ in per_class]
    counts = np.array([[c[token] for token in vocabulary] for c in per_class], dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    prior = PRIOR_SHARE * counts.sum(axis=0)
    prior_total = prior.sum()
    result = []
    for i in range(len(per_class)):
        own, rest = counts[i], counts.sum(axis=0) - counts[i]
        own_total, rest_total = totals[i, 0], totals.sum() - totals[i, 0]
        delta = np.log((own + prior) / (own_total + prior_total - own - prior)) - np.log(
            (rest + prior) / (rest_total + prior_total - rest - prior)
        )
        z = delta / np.sqrt(1.0 / (own + prior) + 1.0 / (rest + prior))
        best = np.argsort(-z, kind="stable")[:top]
        result.append([(vocabulary[j], float(z[j])) for j in best if z[j] > 0])
    return result


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    aligns = ["---"] + ["---:"] * (len(headers) - 1)
    return "\n".join([line(headers), line(aligns), *(line(row) for row in rows)])


def _percent(share: float) -> str:
    return f"{100 * share:.1f}%"


def _balance_section(names: list[str], counts: np.ndarray) -> str:
    total = counts.sum()
    rows = [[name, f"{n:,}", _percent(n / total)] for name, n in zip(names, counts, strict=True)]
    return (
        "## Class balance\n\n"
        + _table(["class", "tweets", "share"], rows)
        + f"\n\n![Class balance]({PLOT_FILES[0]})"
    )


def _length_section(
    names: list[str], masks: list[np.ndarray], lengths: dict[str, np.ndarray]
) -> str:
    headers = ["class"] + [
        f"{unit} {stat}" for unit in lengths for stat in ("median", "mean", "p90")
    ]
    rows = []
    for name, mask in zip(names, masks, strict=True):
        row = [name]
        for values in lengths.values():
            chosen = values[mask]
            stats = (np.median(chosen), chosen.mean(), np.percentile(chosen, 90))
            row += [f"{stat:.1f}" for stat in stats]
        rows.append(row)
    return (
        "## Tweet length\n\n"
        "Characters of the raw text with HTML entities decoded; tokens after `normalize()` "
        "with the default settings.\n\n"
        + _table(headers, rows)
        + f"\n\n![Tweet length]({PLOT_FILES[1]})"
    )


def _features_section(
    names: list[str], shares: dict[str, list[float]], features: dict[str, np.ndarray]
) -> str:
    rows = [
        [
            feature,
            *(_percent(share) for share in shares[feature]),
            _percent(features[feature].mean()),
        ]
        for feature in shares
    ]
    return (
        "## URLs, mentions, hashtags, emoticons, emoji, elongations\n\n"
        "Share of tweets with at least one, found on the raw text (HTML entities decoded). "
        "Sentiment140's training file had its `:)` and `:(` emoticons removed (they were its "
        "labels); others such as `<3`, `;)` or `xd` remain.\n\n"
        + _table(["feature", *names, "all"], rows)
        + f"\n\n![Tweet features]({PLOT_FILES[2]})"
    )


def _tokens_section(names: list[str], per_class: list[Counter[str]]) -> str:
    top = [counter.most_common(TOP_TOKENS) for counter in per_class]
    distinctive = distinctive_tokens(per_class, TOP_TOKENS)
    return (
        f"## Top {TOP_TOKENS} tokens\n\n"
        "After `normalize()` with the default settings, without stop-words and the "
        f"`{URL_TOKEN}`/`{USER_TOKEN}` placeholders; count in brackets.\n\n"
        + _table(["rank", *names], _ranked(top, lambda n: f"{n:,}"))
        + "\n\n## Most distinctive tokens\n\n"
        "Log-odds ratio of each class against the others with an informative Dirichlet prior; "
        "z-score in brackets.\n\n"
        + _table(["rank", *names], _ranked(distinctive, lambda z: f"{z:.1f}"))
    )


def _ranked(
    columns: Sequence[Sequence[tuple[str, float]]], fmt: Callable[[float], str]
) -> list[list[str]]:
    depth = max((len(column) for column in columns), default=0)
    return [
        [str(rank + 1)]
        + [
            f"{column[rank][0]} ({fmt(column[rank][1])})" if rank < len(column) else ""
            for column in columns
        ]
        for rank in range(depth)
    ]


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)  # renders without touching pyplot's global state
    figure.savefig(path, dpi=100)
    return path


def _balance_figure(names: list[str], counts: np.ndarray) -> Figure:
    figure = Figure(figsize=(4.5, 3.5), layout="constrained")
    axes = figure.add_subplot()
    bars = axes.bar(names, counts, color=[f"C{i}" for i in range(len(names))])
    axes.bar_label(bars, labels=[_percent(n / counts.sum()) for n in counts])
    axes.margins(y=0.12)  # room for the share labels above the bars
    axes.set_ylabel("tweets")
    axes.set_title("Class balance")
    return figure


def _length_figure(
    names: list[str], masks: list[np.ndarray], lengths: dict[str, np.ndarray]
) -> Figure:
    figure = Figure(figsize=(9, 3.5), layout="constrained")
    for axes, (unit, values) in zip(figure.subplots(1, len(lengths)), lengths.items(), strict=True):
        # A few mojibake or spam tweets are far longer; they would squash the bulk into one corner.
        top = max(int(np.percentile(values, 99.9)), 1)
        # Whole-number bin widths: lengths are integers, fractional widths draw a comb.
        step = max(1, round(top / 40))
        bins = np.arange(0, top + step + 1, step)
        for name, mask in zip(names, masks, strict=True):
            axes.hist(values[mask], bins=bins, density=True, alpha=0.5, label=name)
        axes.set_xlim(0, top)
        axes.set_xlabel(unit)
        axes.set_ylabel("share of tweets")
        axes.legend()
    figure.suptitle("Tweet length by class")
    return figure


def _features_figure(names: list[str], shares: dict[str, list[float]]) -> Figure:
    figure = Figure(figsize=(8, 3.5), layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(len(shares))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [100 * shares[feature][i] for feature in shares]
        axes.bar(positions + (i - (len(names) - 1) / 2) * width, values, width, label=name)
    axes.set_xticks(positions, list(shares))
    axes.set_ylabel("% of tweets")
    axes.set_title("Share of tweets with each feature, by class")
    axes.legend()
    return figure
