"""Where the Sentiment140 files are: the official download, a local path, or the cache."""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from badbuzz.errors import DataError
from badbuzz.settings import TrainingSettings
from training.data.sentiment140 import (
    ARCHIVE_FILE,
    MANUAL_TEST_FILE,
    SAMPLE_TRAIN_FILE,
    TRAIN_FILE,
    read_sentiment140,
)

log = logging.getLogger(__name__)

OFFICIAL_URL = "http://cs.stanford.edu/people/alecmgo/trainingandtestdata.zip"
OFFICIAL_MD5 = "1647eb110dd2492512e27b9a70d5d1bc"

# In a folder, the first of these that exists is the training set.
TRAIN_CANDIDATES = (TRAIN_FILE, f"{TRAIN_FILE}.gz", ARCHIVE_FILE, SAMPLE_TRAIN_FILE)
ACCEPTED_SUFFIXES = (".csv", ".gz", ".zip")


@dataclass(frozen=True)
class DataFile:
    path: Path
    member: str | None = None  # the CSV inside a zip archive

    def __str__(self) -> str:
        return f"{self.path}!{self.member}" if self.member else str(self.path)


def md5sum(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _search_roots(settings: TrainingSettings) -> list[Path]:
    roots = [settings.sentiment140.expanduser()] if settings.sentiment140 else []
    return [*roots, settings.data_cache_dir]


def locate_training(settings: TrainingSettings, path: Path | None = None) -> DataFile:
    """The training CSV: an explicit path, else BADBUZZ_SENTIMENT140, else the cache."""
    if path and not path.exists():
        raise DataError(f"{path}: no such file or folder")
    for root in [path] if path else _search_roots(settings):
        if root.is_file():
            return DataFile(root, TRAIN_FILE if root.name == ARCHIVE_FILE else None)
        for name in TRAIN_CANDIDATES:
            if (root / name).is_file():
                return DataFile(root / name, TRAIN_FILE if name == ARCHIVE_FILE else None)
    raise DataError(
        "no Sentiment140 training file found: run `badbuzz data fetch`, pass --data PATH, "
        f"or set BADBUZZ_SENTIMENT140 to a file or folder holding one of {list(TRAIN_CANDIDATES)}"
    )


def locate_manual_test(settings: TrainingSettings, path: Path | None = None) -> DataFile:
    """The hand-labelled test set: an explicit path, else next to the training data (or
    inside the official zip) in BADBUZZ_SENTIMENT140 or the cache."""
    if path and not path.exists():
        raise DataError(f"{path}: no such file or folder")
    for root in [path] if path else _search_roots(settings):
        folder = root.parent if root.is_file() else root
        if root.is_file() and root.name == MANUAL_TEST_FILE:
            return DataFile(root)
        if (folder / MANUAL_TEST_FILE).is_file():
            return DataFile(folder / MANUAL_TEST_FILE)
        if (folder / ARCHIVE_FILE).is_file():
            return DataFile(folder / ARCHIVE_FILE, MANUAL_TEST_FILE)
    raise DataError(
        f"no manual test set ({MANUAL_TEST_FILE}) found: run `badbuzz data fetch` or put it "
        "next to the training file"
    )


def import_local(settings: TrainingSettings, source: Path) -> Path:
    """Check a local Sentiment140 file and copy it into the cache."""
    if source.suffix not in ACCEPTED_SUFFIXES:
        raise DataError(f"{source}: expected a .csv, .csv.gz or .zip file")
    if source.name == ARCHIVE_FILE and md5sum(source) != OFFICIAL_MD5:
        raise DataError(f"{source}: md5 differs from the official archive ({OFFICIAL_MD5})")
    member = TRAIN_FILE if source.suffix == ".zip" else None
    frame = read_sentiment140(source, member=member, keep_neutral=True)
    log.info("%s: %d tweets", source, len(frame))
    settings.data_cache_dir.mkdir(parents=True, exist_ok=True)
    target = settings.data_cache_dir / source.name
    if source.resolve() != target.resolve():
        shutil.copyfile(source, target)
    return target


def download_official(settings: TrainingSettings, url: str = OFFICIAL_URL) -> Path:
    """Download the official archive with a progress bar and verify its md5."""
    import httpx
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    settings.data_cache_dir.mkdir(parents=True, exist_ok=True)
    target = settings.data_cache_dir / ARCHIVE_FILE
    if target.is_file() and md5sum(target) == OFFICIAL_MD5:
        return target
    partial = target.with_suffix(".part")
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=30) as response:
            response.raise_for_status()
            total = int(response.headers.get("content-length", 0)) or None
            with (
                Progress(
                    *Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn()
                ) as progress,
                partial.open("wb") as out,
            ):
                task = progress.add_task(f"downloading {ARCHIVE_FILE}", total=total)
                for chunk in response.iter_bytes(1 << 16):
                    out.write(chunk)
                    progress.advance(task, len(chunk))
    except httpx.HTTPError as error:
        raise DataError(
            f"could not download {url} ({error}); pass a local copy with --from PATH"
        ) from error
    if md5sum(partial) != OFFICIAL_MD5:
        partial.unlink()
        raise DataError(f"{url}: downloaded file does not match md5 {OFFICIAL_MD5}")
    partial.replace(target)
    return target
