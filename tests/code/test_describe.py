"""The describe report: exact shares on hand-made tweets, valid PNGs, the real manual test set."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from training.data.describe import distinctive_tokens, write_report
from training.data.sentiment140 import MANUAL_TEST_FILE, binary, read_sentiment140

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared/data/sentiment140"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

TWEETS = [
    # negative: URL + mention + emoticon; elongation + hashtag; nothing; nothing
    (0, "@united lost my bag again http://bit.ly/x :("),
    (0, "sooo tired of waiting #fail"),
    (0, "worst flight ever, delayed again"),
    (0, "delayed again and again"),
    # positive: mention + emoticon + URL, where "@aaaron", "1000" and "www" are no elongation;
    # elongation + an HTML-escaped emoticon + emoji
    (4, "@aaaron thanks for the 1000 miles :) www.delta.com/a"),
    (4, "I loooove this crew &lt;3 \N{SMILING FACE WITH HEART-SHAPED EYES}"),
]


def _frame(rows: list[tuple[int, str]]) -> pd.DataFrame:
    polarity = [p for p, _ in rows]
    return pd.DataFrame(
        {
            "polarity": polarity,
            "text": [t for _, t in rows],
            "line": range(1, len(rows) + 1),
            "label": [{0: 0, 4: 1, 2: -1}[p] for p in polarity],
        }
    )


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("describe") / "nested" / "out"


@pytest.fixture(scope="module")
def written(out_dir: Path) -> list[Path]:
    return write_report(_frame(TWEETS), out_dir, title="Hand-made tweets")


@pytest.fixture(scope="module")
def report(written: list[Path]) -> str:
    return written[0].read_text(encoding="utf-8")


def test_returns_report_first_then_valid_pngs(written: list[Path], out_dir: Path) -> None:
    assert written[0] == out_dir / "report.md"
    plots = written[1:]
    assert len(plots) == 3
    for plot in plots:
        assert plot.parent == written[0].parent
        assert plot.suffix == ".png"
        assert plot.read_bytes().startswith(PNG_MAGIC)
        assert plot.stat().st_size > 1000


def test_report_starts_with_title_and_count_and_links_every_plot(
    written: list[Path], report: str
) -> None:
    assert report.startswith("# Hand-made tweets\n\n6 tweets in 2 classes (negative, positive).")
    for plot in written[1:]:
        assert f"]({plot.name})" in report


def test_class_balance(report: str) -> None:
    assert "| negative | 4 | 66.7% |" in report
    assert "| positive | 2 | 33.3% |" in report


@pytest.mark.parametrize(
    "row",
    [
        "| URL | 25.0% | 50.0% | 33.3% |",
        "| @mention | 25.0% | 50.0% | 33.3% |",
        "| #hashtag | 25.0% | 0.0% | 16.7% |",
        "| emoticon | 25.0% | 100.0% | 50.0% |",
        "| emoji | 0.0% | 50.0% | 16.7% |",
        "| elongation | 25.0% | 50.0% | 33.3% |",
    ],
)
def test_feature_shares_per_class(report: str, row: str) -> None:
    assert row in report


def _section(report: str, heading: str) -> str:
    return report.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_length_statistics(report: str) -> None:
    lengths = _section(report, "Tweet length")
    assert (
        "| class | characters median | characters mean | characters p90 "
        "| tokens median | tokens mean | tokens p90 |"
    ) in lengths
    # Negative: 44, 27, 32, 23 characters; 7 ("xxuser lost my bag again xxurl sad"), 5, 5, 4 tokens.
    assert "| negative | 29.5 | 31.5 | 40.4 | 5.0 | 5.2 | 6.4 |" in lengths
    # Positive: "&lt;3" counts as the 2 characters of "<3".
    assert "| positive | 38.0 | 38.0 | 49.2 |" in lengths


def test_top_tokens_skip_stopwords_and_placeholders(report: str) -> None:
    tokens_section = _section(report, "Top 20 tokens")
    assert "| 1 | delayed (2) |" in tokens_section
    for dropped in ("xxuser (", "xxurl (", "the (", "for (", "my (", "again ("):
        assert dropped not in tokens_section


def test_most_distinctive_negative_token(report: str) -> None:
    distinctive = _section(report, "Most distinctive tokens")
    first = next(line for line in distinctive.splitlines() if line.startswith("| 1 |"))
    assert first.startswith("| 1 | delayed (")


def test_distinctive_tokens_ranks_each_class_own_words() -> None:
    per_class = [
        Counter({"awful": 30, "flight": 20, "late": 10}),
        Counter({"great": 30, "flight": 20, "thanks": 10}),
    ]
    negative, positive = distinctive_tokens(per_class, top=5)
    assert [token for token, _ in negative] == ["awful", "late"]
    assert [token for token, _ in positive] == ["great", "thanks"]
    assert all(z > 0 for _, z in negative + positive)


def test_distinctive_tokens_needs_two_classes() -> None:
    assert distinctive_tokens([Counter({"flight": 3})], top=5) == [[]]


def test_neutral_rows_are_their_own_class(tmp_path: Path) -> None:
    rows = [*TWEETS, (2, "boarding now at gate 12")]
    report = write_report(_frame(rows), tmp_path, title="t")[0].read_text(encoding="utf-8")
    assert "7 tweets in 3 classes (negative, positive, neutral)." in report
    assert "| neutral | 1 | 14.3% |" in report


def test_empty_frame_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no tweets"):
        write_report(_frame([]), tmp_path, title="t")


def test_manual_test_set(tmp_path: Path) -> None:
    path = SHARED_DATA / MANUAL_TEST_FILE
    if not path.is_file():
        pytest.skip(f"real Sentiment140 manual test set not found at {path}")
    frame = binary(read_sentiment140(path, keep_neutral=True))
    written = write_report(frame, tmp_path, title="Manual test set")
    report = written[0].read_text(encoding="utf-8")
    assert report.startswith("# Manual test set\n\n359 tweets in 2 classes")
    assert "| negative | 177 | 49.3% |" in report
    assert "| positive | 182 | 50.7% |" in report
    assert all(plot.read_bytes().startswith(PNG_MAGIC) for plot in written[1:])
