"""A CSV archive of tweets that a naive reader gets wrong: a BOM, line breaks inside quoted
tweets (LF and CRLF), quotes, commas, backslashes, empty and blank texts, "NA" and "null" as
words, ids that are not numbers (leading zeros, 19 digits), emoji."""

from __future__ import annotations

import csv
from pathlib import Path

HEADER = ("tweet_id", "text", "brand")
AWKWARD_TWEETS = [
    ("0001", "plain tweet, nothing odd"),
    ("1234567890123456789", "a line\nbreak inside @united"),
    ("0003", "a windows\r\nline break, and a comma"),
    ("0004", 'she said "lost my bag", then "never again"'),
    ("0005", '"fully quoted"'),
    ("0006", ""),
    ("0007", "  leading and trailing spaces  "),
    ("0008", 'back\\slash \\"escaped?\\" end\\'),
    ("0009", "emoji 😀 and accents éà, thanks @delta"),
    ("0010", "ends with a line break\n"),
    ("0011", "\nstarts with a line break"),
    ("0012", "a,b,c,,,"),
    ("0013", "NA"),
    ("0014", "null"),
    ("0015", "   "),
    ("0016", 'two\n\nblank lines and "quotes"\nand more'),
    ("0017", "worst airline ever, delayed 3 hours"),
    ("0018", "thank you for the upgrade, amazing crew!"),
]


def write_awkward_archive(path: Path, line_ending: str = "\r\n", copies: int = 1) -> Path:
    """The tweets `copies` times (ids made unique), UTF-8 with a BOM, rows ended by
    `line_ending`, quoted only where needed (as Excel or Python's csv module write them)."""
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file, lineterminator=line_ending)
        writer.writerow(HEADER)
        for copy in range(copies):
            for tweet_id, text in AWKWARD_TWEETS:
                writer.writerow([tweet_id if copy == 0 else f"{tweet_id}-{copy}", text, "@united"])
    return path
