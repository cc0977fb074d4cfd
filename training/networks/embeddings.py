"""Pre-trained word vectors for the networks' embedding layer: Word2Vec trained with gensim
on the training split, or GloVe read from Stanford's text files, then laid out as a matrix
in the vocabulary's id order."""

from __future__ import annotations

import gzip
import io
import logging
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from badbuzz.bundle.vocabulary import FIRST_WORD_ID, OOV_ID, Vocabulary
from badbuzz.errors import DataError
from badbuzz.text import URL_TOKEN, USER_TOKEN

log = logging.getLogger(__name__)

# Our placeholder tokens under the names GloVe's Twitter vectors use for the same things.
GLOVE_ALIASES = {URL_TOKEN: "<url>", USER_TOKEN: "<user>"}


@dataclass(frozen=True)
class Word2VecConfig:
    vector_size: int = 100
    window: int = 5
    epochs: int = 10
    skipgram: bool = True  # skip-gram learns rare words better than CBOW on short tweets
    min_count: int = 2
    negative: int = 5
    # One worker: the same seed then gives the same vectors (several workers race).
    workers: int = 1

    def params(self) -> dict[str, Any]:
        return {f"w2v_{key}": value for key, value in asdict(self).items()}


@dataclass(frozen=True)
class WordVectors:
    """Vectors for (part of) a vocabulary, and how much of it they cover."""

    vectors: dict[str, np.ndarray]
    dim: int
    source: str
    coverage: float = 0.0  # share of the vocabulary's words with a vector

    def save_text(self, path: Path) -> Path:
        """Write in the word2vec/GloVe text format (gzipped when the name ends in .gz), so
        `read_vectors` reads them back."""
        opener: Any = gzip.open if path.suffix == ".gz" else open
        with opener(path, "wt", encoding="utf-8") as handle:
            handle.write(f"{len(self.vectors)} {self.dim}\n")
            for word, vector in self.vectors.items():
                handle.write(f"{word} {' '.join(f'{v:.6g}' for v in vector)}\n")
        return path


def train_word2vec(
    texts: Sequence[str], vocabulary: Vocabulary, config: Word2VecConfig, seed: int
) -> WordVectors:
    """Train Word2Vec on normalised texts; keep the vectors of the vocabulary's words."""
    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    class EpochLogger(CallbackAny2Vec):
        def __init__(self) -> None:
            self.epoch = 0

        def on_epoch_end(self, model: Any) -> None:
            self.epoch += 1
            log.info("word2vec: epoch %d/%d done", self.epoch, config.epochs)

    sentences = [text.split() for text in texts]
    log.info(
        "word2vec: training %s, %d dims, on %d texts",
        "skip-gram" if config.skipgram else "CBOW",
        config.vector_size,
        len(sentences),
    )
    model = Word2Vec(
        sentences=sentences,
        vector_size=config.vector_size,
        window=config.window,
        min_count=config.min_count,
        sg=int(config.skipgram),
        negative=config.negative,
        epochs=config.epochs,
        seed=seed,
        workers=config.workers,
        hashfxn=_stable_hash,
        callbacks=[EpochLogger()],
    )
    found = {
        word: np.asarray(model.wv[word], dtype=np.float32)
        for word in vocabulary.words
        if word in model.wv.key_to_index
    }
    return WordVectors(found, config.vector_size, "word2vec", _coverage(found, vocabulary))


def _stable_hash(text: str) -> int:
    # gensim seeds each word's initial vector with this; Python's hash() differs per process.
    return zlib.crc32(text.encode("utf-8"))


@contextmanager
def _open_vectors(path: Path, member: str | None, dim: int | None) -> Iterator[IO[str]]:
    if not path.is_file():
        raise DataError(
            f"{path}: no such GloVe file (download glove.twitter.27B.zip from "
            "https://nlp.stanford.edu/projects/glove/ and pass its path)"
        )
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(".txt")]
            wanted = [n for n in names if member in (None, n)]
            if member is None and len(wanted) > 1 and dim is not None:
                wanted = [n for n in wanted if n.endswith(f".{dim}d.txt")]
            if len(wanted) != 1:
                raise DataError(f"{path}: say which vector file to read, one of {names}")
            with archive.open(wanted[0]) as raw:
                yield io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
    elif path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
            yield handle
    else:
        with path.open(encoding="utf-8", errors="replace") as handle:
            yield handle


def read_vectors(
    path: Path,
    vocabulary: Vocabulary,
    *,
    member: str | None = None,
    dim: int | None = None,
    aliases: Mapping[str, str] = GLOVE_ALIASES,
) -> WordVectors:
    """Stream a GloVe/word2vec text file (`word v1 v2 ...`; plain, .gz or .zip), keeping only
    the vocabulary's words, so a file of millions of words never sits in memory.

    `dim` picks the file inside a zip of several sizes (glove.twitter.27B.zip) and is
    checked against the file; `aliases` maps our tokens to the file's names for them.
    """
    wanted: dict[str, str] = {}
    for word in vocabulary.words:
        wanted[aliases.get(word, word)] = word
    found: dict[str, np.ndarray] = {}
    file_dim = dim
    lines = 0
    with _open_vectors(path, member, dim) as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                file_dim = file_dim or int(parts[1])  # word2vec format header: count, dim
                continue
            lines += 1
            if lines == 1 and file_dim is not None and len(parts) - 1 != file_dim:
                raise DataError(f"{path}: holds {len(parts) - 1}-dim vectors, not {file_dim}")
            file_dim = file_dim or len(parts) - 1
            if len(parts) <= file_dim:
                raise DataError(
                    f"{path}:{number}: expected a word and {file_dim} numbers, "
                    f"got {len(parts)} fields"
                )
            # Some GloVe files (840B) hold words with spaces: the last `dim` fields are numbers.
            word = " ".join(parts[:-file_dim])
            ours = wanted.get(word)
            if ours is not None and ours not in found:
                try:
                    found[ours] = np.asarray(parts[-file_dim:], dtype=np.float32)
                except ValueError as error:
                    raise DataError(f"{path}:{number}: {error}") from error
    if file_dim is None or not lines:
        raise DataError(f"{path}: holds no vectors")
    vectors = WordVectors(found, file_dim, str(path), _coverage(found, vocabulary))
    log.info(
        "%s: %d vectors of %d dims read, %.1f%% of the %d-word vocabulary covered",
        path.name,
        lines,
        file_dim,
        100 * vectors.coverage,
        len(vocabulary.words),
    )
    return vectors


def _coverage(found: Mapping[str, np.ndarray], vocabulary: Vocabulary) -> float:
    return len(found) / len(vocabulary.words) if vocabulary.words else 0.0


def embedding_matrix(vocabulary: Vocabulary, vectors: WordVectors, seed: int) -> np.ndarray:
    """float32 [vocab_size, dim], row i for token id i: zeros for padding, the mean vector
    for OOV, and for words without a vector small random ones on the vectors' scale (a
    trainable embedding learns them; a frozen one at least tells them apart)."""
    matrix = np.zeros((vocabulary.vocab_size, vectors.dim), dtype=np.float32)
    if vectors.vectors:
        known = np.stack(list(vectors.vectors.values()))
        mean, scale = known.mean(axis=0), float(known.std())
    else:
        mean, scale = np.zeros(vectors.dim, dtype=np.float32), 0.1
    rng = np.random.default_rng(seed)
    matrix[OOV_ID] = mean
    for i, word in enumerate(vocabulary.words, start=FIRST_WORD_ID):
        vector = vectors.vectors.get(word)
        matrix[i] = vector if vector is not None else rng.normal(0.0, scale, vectors.dim)
    return matrix
