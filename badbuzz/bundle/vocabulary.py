"""The word-level vocabulary of the Keras networks: normalised text to token ids, light
enough for serving (numpy + stdlib).

Input is already-normalised text (`badbuzz.text.normalize`), split on whitespace.
Ids: 0 = padding, 1 = out-of-vocabulary, 2.. = words by descending training frequency
(ties alphabetical, so the same texts always give the same ids). Every sequence has
`max_len` ids: longer ones are truncated at the end (the start of a tweet is kept) and
shorter ones padded at the end ("post"); the networks mask the padding.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PAD_ID = 0
OOV_ID = 1
FIRST_WORD_ID = 2
VOCAB_FORMAT = "badbuzz-vocab"
VOCAB_VERSION = 1


@dataclass(frozen=True)
class Vocabulary:
    words: tuple[str, ...]  # words[i] has id i + FIRST_WORD_ID
    max_len: int
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_len < 1:
            raise ValueError(f"max_len must be at least 1, not {self.max_len}")
        index = {word: i + FIRST_WORD_ID for i, word in enumerate(self.words)}
        if len(index) != len(self.words):
            raise ValueError("the vocabulary holds a word twice")
        object.__setattr__(self, "_index", index)

    @classmethod
    def build(
        cls, texts: Iterable[str], max_len: int, min_count: int = 2, max_words: int = 30_000
    ) -> Vocabulary:
        """The `max_words` most frequent tokens seen at least `min_count` times."""
        counts = Counter(token for text in texts for token in text.split())
        kept = sorted(
            (item for item in counts.items() if item[1] >= min_count),
            key=lambda item: (-item[1], item[0]),
        )
        return cls(tuple(word for word, _ in kept[:max_words]), max_len)

    @property
    def vocab_size(self) -> int:
        """Rows of an embedding matrix for this vocabulary (padding and OOV included)."""
        return len(self.words) + FIRST_WORD_ID

    def id_of(self, word: str) -> int:
        return self._index.get(word, OOV_ID)

    def with_max_len(self, max_len: int) -> Vocabulary:
        return Vocabulary(self.words, max_len)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """int32 ids of shape [len(texts), max_len], padded and truncated at the end."""
        ids = np.full((len(texts), self.max_len), PAD_ID, dtype=np.int32)
        for row, text in enumerate(texts):
            tokens = text.split()[: self.max_len]
            ids[row, : len(tokens)] = [self._index.get(token, OOV_ID) for token in tokens]
        return ids

    def to_dict(self) -> dict[str, object]:
        return {
            "format": VOCAB_FORMAT,
            "format_version": VOCAB_VERSION,
            "max_len": self.max_len,
            "padding": "post",
            "truncation": "post",
            "pad_id": PAD_ID,
            "oov_id": OOV_ID,
            "words": list(self.words),
        }

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        values = json.loads(path.read_text(encoding="utf-8"))
        if values.get("format") != VOCAB_FORMAT or values.get("format_version", 0) > VOCAB_VERSION:
            raise ValueError(f"{path}: not a {VOCAB_FORMAT} v{VOCAB_VERSION} vocabulary")
        return cls(tuple(values["words"]), int(values["max_len"]))
