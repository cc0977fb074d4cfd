from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from badbuzz.text import (
    RAW_TEXT,
    URL_TOKEN,
    USER_TOKEN,
    NormalizationConfig,
    normalize,
    normalize_many,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@united lost my bag http://bit.ly/abc", f"{USER_TOKEN} lost my bag {URL_TOKEN}"),
        ("see www.example.com/page now", f"see {URL_TOKEN} now"),
        ("#fail again", "fail again"),
        ("&quot;great&quot; service &amp; food", "great service food"),
        ("I loooooove it", "i loove it"),
        ("so bad :(", "so bad sad"),
        ("great flight :-)", "great flight happy"),
        ("I <3 you", "i love you"),
        ("ok 😡", "ok enraged face"),
        ("WHY?!?!", "why ?"),
        ("Don't go", "don't go"),
    ],
)
def test_default_normalisation(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_emoticon_inside_a_word_is_left_alone() -> None:
    # "D:" or ":p" must stand alone; "http://x" handled as URL, "a:pb" is not an emoticon
    assert normalize("a:pb", NormalizationConfig(urls=False)) == "a pb"


def test_stopwords_keep_negations() -> None:
    config = NormalizationConfig(stopwords=True)
    assert normalize("this is not the flight I wanted", config) == "not flight wanted"
    assert normalize("I don't like it", config) == "don't like"


def test_stemming_and_lemmatisation() -> None:
    assert normalize("flights delayed", NormalizationConfig(stemming="snowball")) == "flight delay"
    assert normalize("flights were delayed", NormalizationConfig(stemming="lemma")) == (
        "flight be delay"
    )


def test_raw_text_config_keeps_case_and_punctuation_tokens() -> None:
    assert normalize("GREAT &amp; fast!!", RAW_TEXT) == "GREAT fast !!"


def test_config_round_trips_and_rejects_unknown_keys() -> None:
    config = NormalizationConfig(stemming="lemma", stopwords=True)
    assert NormalizationConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown normalisation settings"):
        NormalizationConfig.from_dict({"typo": True})


@given(st.lists(st.text(), max_size=5))
def test_batch_equals_one_by_one_and_never_fails(texts: list[str]) -> None:
    assert normalize_many(texts) == [normalize(t) for t in texts]
