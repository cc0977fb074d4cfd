"""What a running server costs besides its answers: the memory of its process tree, whether
TensorFlow got mapped into it, and how long it takes from process start to ready."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import psutil

from tests.processes import Server

# TensorFlow's own package (LiteRT's libraries live in ai_edge_litert/, so they do not count).
TENSORFLOW_LIBRARIES = re.compile(r"/site-packages/tensorflow/|libtensorflow_(framework|cc)")
READY_TIMEOUT_S = 180.0
# Fine polling: a cold start is timed to its first ready answer.
READY_POLL_S = 0.02


def process_tree(server: Server) -> list[psutil.Process]:
    root = psutil.Process(server.process.pid)
    return [root, *root.children(recursive=True)]


def rss_mb(server: Server) -> list[float]:
    """The resident memory of each process of the server's tree, the server's first."""
    return [process.memory_info().rss / 2**20 for process in process_tree(server)]


def rss_text(server: Server) -> str:
    """ "total MB (per process + ...)"."""
    per = rss_mb(server)
    return f"{sum(per):.0f} MB ({' + '.join(f'{mb:.0f}' for mb in per)})"


def tensorflow_loaded(server: Server) -> bool:
    """TensorFlow mapped into any process of the server's tree."""
    return any(TENSORFLOW_LIBRARIES.search(_maps(p.pid)) for p in process_tree(server))


def ready_after(server: Server, path: str) -> float:
    """Seconds from the process start to the first 200 on `path`."""
    return server.wait_ready(path, timeout_s=READY_TIMEOUT_S, poll_s=READY_POLL_S)


def cold_starts(start: Callable[[int], Server], path: str, repeats: int) -> list[float]:
    """`ready_after` of `repeats` fresh servers, `start(i)` for the i-th, one at a time."""
    times = []
    for i in range(repeats):
        with start(i) as server:
            times.append(ready_after(server, path))
    return times


def _maps(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:  # a worker that exited since the tree was listed
        return ""
