"""Errors a user can cause (a bad file, an empty registry), shown without a traceback."""

from __future__ import annotations

from training.bundle import BundleError
from training.data import DataError
from training.registry import RegistryError

USER_ERRORS: tuple[type[Exception], ...] = (DataError, BundleError, RegistryError)
