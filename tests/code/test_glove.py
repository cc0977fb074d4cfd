from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import pytest

from badbuzz.bundle.vocabulary import OOV_ID, PAD_ID, Vocabulary
from badbuzz.errors import DataError
from tests.badbuzz_cli import run_badbuzz
from training.networks.embeddings import WordVectors, embedding_matrix, read_vectors

GLOVE_LINES = [
    "<user> 0.1 0.2 0.3",
    "love 1.0 0.0 -1.0",
    "the 0.5 0.5 0.5",
    "hate -1.0 0.0 1.0",
    "unused 9 9 9",
]
# love, hate, xxuser (as <user>) have vectors; "delayed" has none
VOCABULARY = Vocabulary(("love", "hate", "xxuser", "delayed"), max_len=4)


def write_glove(path: Path, lines: list[str]) -> Path:
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["glove.3d.txt", "glove.3d.txt.gz"])
def test_reads_only_vocabulary_words_and_reports_coverage(tmp_path: Path, name: str) -> None:
    vectors = read_vectors(write_glove(tmp_path / name, GLOVE_LINES), VOCABULARY)
    assert vectors.dim == 3
    assert set(vectors.vectors) == {"love", "hate", "xxuser"}  # not "the", "unused"
    assert vectors.coverage == pytest.approx(3 / 4)
    np.testing.assert_allclose(vectors.vectors["xxuser"], [0.1, 0.2, 0.3], rtol=1e-6)


def test_zip_of_several_sizes_needs_the_dim(tmp_path: Path) -> None:
    archive = tmp_path / "glove.twitter.27B.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("glove.twitter.27B.3d.txt", "\n".join(GLOVE_LINES))
        zipped.writestr("glove.twitter.27B.2d.txt", "love 1 2\n")
    with pytest.raises(DataError, match="say which vector file"):
        read_vectors(archive, VOCABULARY)
    assert read_vectors(archive, VOCABULARY, dim=2).vectors["love"].tolist() == [1.0, 2.0]


def test_missing_or_malformed_files_say_where(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.txt: no such GloVe file"):
        read_vectors(tmp_path / "nope.txt", VOCABULARY)
    bad = write_glove(tmp_path / "bad.txt", ["love 1 2 3", "hate 1 2"])
    with pytest.raises(DataError, match=r"bad\.txt:2"):
        read_vectors(bad, VOCABULARY)
    with pytest.raises(DataError, match="holds 3-dim vectors, not 50"):
        read_vectors(write_glove(tmp_path / "g.txt", GLOVE_LINES), VOCABULARY, dim=50)


def test_matrix_rows_follow_token_ids(tmp_path: Path) -> None:
    vectors = read_vectors(write_glove(tmp_path / "g.txt", GLOVE_LINES), VOCABULARY)
    matrix = embedding_matrix(VOCABULARY, vectors, seed=0)
    assert matrix.shape == (VOCABULARY.vocab_size, 3) and matrix.dtype == np.float32
    assert not matrix[PAD_ID].any()
    np.testing.assert_allclose(matrix[VOCABULARY.id_of("love")], [1.0, 0.0, -1.0])
    np.testing.assert_allclose(matrix[VOCABULARY.id_of("hate")], [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(matrix[OOV_ID], np.mean([v for v in vectors.vectors.values()], 0))
    assert matrix[VOCABULARY.id_of("delayed")].any()  # random, not zero like padding


def test_saved_word2vec_vectors_read_back(tmp_path: Path) -> None:
    original = WordVectors({"love": np.array([0.25, -1.5], dtype=np.float32)}, 2, "word2vec")
    path = original.save_text(tmp_path / "word2vec.txt.gz")  # with a "count dim" header
    again = read_vectors(path, VOCABULARY)
    assert again.dim == 2 and again.vectors["love"].tolist() == [0.25, -1.5]


def test_train_lstm_with_a_missing_glove_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "glove.twitter.27B.zip"
    result = run_badbuzz(
        "train", "lstm", "--embedding", "glove", "--glove", str(missing), home=None, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert f"error: {missing}: no such GloVe file" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
