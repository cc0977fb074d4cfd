from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from badbuzz.bundle.vocabulary import OOV_ID, PAD_ID, Vocabulary

TEXTS = ["i love this airline", "i hate this delay", "love love love", "rare word"]


def test_ids_follow_frequency_then_alphabet_with_pad_and_oov_reserved() -> None:
    vocabulary = Vocabulary.build(TEXTS, max_len=5, min_count=2)
    # love x4, i x2, this x2 (ties alphabetical); words seen once are out
    assert vocabulary.words == ("love", "i", "this")
    assert [vocabulary.id_of(w) for w in ("love", "i", "this", "rare")] == [2, 3, 4, OOV_ID]
    assert vocabulary.vocab_size == 5


def test_max_words_keeps_the_most_frequent() -> None:
    assert Vocabulary.build(TEXTS, max_len=5, min_count=1, max_words=2).words == ("love", "i")


def test_encode_pads_and_truncates_at_the_end() -> None:
    vocabulary = Vocabulary.build(TEXTS, max_len=3, min_count=2)
    ids = vocabulary.encode(["i love", "i love this airline", "", "unseen"])
    assert ids.dtype == np.int32 and ids.shape == (4, 3)
    assert ids.tolist() == [
        [3, 2, PAD_ID],
        [3, 2, 4],  # "airline" cut: the start of a tweet is kept
        [PAD_ID] * 3,
        [OOV_ID, PAD_ID, PAD_ID],
    ]


def test_save_load_round_trip(tmp_path: Path) -> None:
    vocabulary = Vocabulary.build(["café çà et là", "café là"], max_len=4, min_count=1)
    path = vocabulary.save(tmp_path / "vocab.json")
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert (saved["padding"], saved["truncation"], saved["pad_id"], saved["oov_id"]) == (
        "post",
        "post",
        0,
        1,
    )
    loaded = Vocabulary.load(path)
    assert loaded == vocabulary
    texts = ["café là", "et voilà"]
    assert loaded.encode(texts).tolist() == vocabulary.encode(texts).tolist()


def test_foreign_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps({"words": ["a"], "max_len": 3}))
    with pytest.raises(ValueError, match="not a badbuzz-vocab"):
        Vocabulary.load(path)


def test_cutting_columns_equals_encoding_shorter() -> None:
    # tune.py encodes once at the longest max_len and slices for shorter trials
    long, short = Vocabulary.build(TEXTS, max_len=6), Vocabulary.build(TEXTS, max_len=2)
    texts = [*TEXTS, "love i this love i this love"]
    assert long.encode(texts)[:, :2].tolist() == short.encode(texts).tolist()
