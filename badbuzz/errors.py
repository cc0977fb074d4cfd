"""Errors a user can cause (a bad file, an empty registry, a bundle that does not load).

Each carries the CLI's exit code for it: `badbuzz` prints the message as one line and exits
with that code, never with a traceback. Other code raises the subclass that says what went
wrong; only the CLI's entry point reads `exit_code`.
"""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix; the message says what to do."""

    exit_code = 2


class DataError(UserError, ValueError):
    """A data file is missing, unreadable or not in the expected format."""


class BundleError(UserError, ValueError):
    """A bundle is missing, incomplete, tampered with or of an unknown format."""


class SigningKeyError(UserError, ValueError):
    """A signing or verify key file is missing, unreadable or not an Ed25519 key."""


class RegistryError(UserError, LookupError):
    """Nothing in the model registry matches what was asked for."""


class CheckpointError(UserError, ValueError):
    """A transformer checkpoint cannot be found or is not usable for sequence classification."""


class ParityError(UserError, RuntimeError):
    """An exported model does not score like the model it was exported from; nothing was
    registered. Exit code 1: the data and options were fine, the export was not."""

    exit_code = 1

    def __init__(self, message: str, difference: float = float("nan")) -> None:
        super().__init__(message)
        self.difference = difference


class RowCountError(UserError, RuntimeError):
    """Scoring an archive wrote a different number of rows than it read: the output is
    incomplete, so it is kept aside, never where it was asked for. Exit code 1: the file and
    options were accepted, the scoring went wrong."""

    exit_code = 1
