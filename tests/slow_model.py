"""A scikit-learn step that makes a model slow on purpose (the latency alert's test).

A bundle holding it unpickles only where `tests` is importable: the test serves it with the
repository on the server's PYTHONPATH.
"""

from __future__ import annotations

import time
from typing import Any

from sklearn.base import BaseEstimator, TransformerMixin


class Sleep(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    def __init__(self, seconds: float = 0.2) -> None:
        self.seconds = seconds

    def fit(self, texts: Any, labels: Any = None) -> Sleep:
        return self

    def transform(self, texts: Any) -> Any:
        time.sleep(self.seconds)
        return texts
