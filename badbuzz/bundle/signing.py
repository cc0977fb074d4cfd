"""Signed bundles: training signs `manifest.json` with its Ed25519 private key, and the side
that loads a bundle checks the signature with the public key before it parses the manifest,
checks a hash or reads (unpickles) any other file.

The manifest holds the sha256 of every file, so a valid signature over its exact bytes
vouches for the whole bundle. Without one, the hashes only prove that the files match a
manifest that whoever can write to the registry could have rewritten.

The key files are PEM: PKCS#8 for the private key, SubjectPublicKeyInfo for the public one,
as `badbuzz keys create` or `openssl genpkey -algorithm ed25519` write them.
`cryptography` is imported only where a key is used, so the core loads without it.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from badbuzz.bundle.manifest import MANIFEST, SIGNATURE, Manifest, read_manifest_bytes
from badbuzz.errors import BundleError, SigningKeyError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

log = logging.getLogger(__name__)

SIGNATURE_BYTES = 64  # an Ed25519 signature
SIGNING_KEY_FILE = "signing-key.pem"  # the training side's, never on the API
VERIFY_KEY_FILE = "verify-key.pem"  # the API's
CREATE_HINT = (
    "create a key pair with `badbuzz keys create` (or openssl genpkey -algorithm ed25519 "
    "-out signing-key.pem && openssl pkey -in signing-key.pem -pubout -out verify-key.pem)"
)


def _ed25519() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as error:
        raise SigningKeyError(
            "signing and checking bundles needs the 'cryptography' package, which is not "
            "installed here: install badbuzz[train] (signing) or badbuzz[api-tflite] (checking)"
        ) from error
    return ed25519


def _pem(path: Path, what: str, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise SigningKeyError(
            f"{setting}={path}: cannot read the {what} ({error.strerror}); {CREATE_HINT}"
        ) from error


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The training side's private key (unencrypted PEM)."""
    ed25519 = _ed25519()
    from cryptography.hazmat.primitives import serialization

    data = _pem(path, "signing key", "BADBUZZ_SIGNING_KEY")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise SigningKeyError(
            f"BADBUZZ_SIGNING_KEY={path}: not an unencrypted PEM private key ({error}); "
            f"{CREATE_HINT}"
        ) from error
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SigningKeyError(
            f"BADBUZZ_SIGNING_KEY={path}: a {type(key).__name__}, not an Ed25519 key; {CREATE_HINT}"
        )
    return key


def load_verify_key(path: Path) -> Ed25519PublicKey:
    """The API's public key (PEM)."""
    ed25519 = _ed25519()
    from cryptography.hazmat.primitives import serialization

    data = _pem(path, "verify key", "BADBUZZ_VERIFY_KEY")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as error:
        hint = " (this is a private key: give the API the public one)" if b"PRIVATE" in data else ""
        raise SigningKeyError(
            f"BADBUZZ_VERIFY_KEY={path}: not a PEM public key{hint} ({error}); {CREATE_HINT}"
        ) from error
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SigningKeyError(
            f"BADBUZZ_VERIFY_KEY={path}: a {type(key).__name__}, not an Ed25519 key; {CREATE_HINT}"
        )
    return key


def create_key_pair(directory: Path, overwrite: bool = False) -> tuple[Path, Path]:
    """A new Ed25519 key pair in `directory`: (private key, readable by its owner only;
    public key). Existing files are kept unless `overwrite`."""
    ed25519 = _ed25519()
    from cryptography.hazmat.primitives import serialization

    private_path, public_path = directory / SIGNING_KEY_FILE, directory / VERIFY_KEY_FILE
    existing = [p for p in (private_path, public_path) if p.exists()]
    if existing and not overwrite:
        raise SigningKeyError(
            f"{', '.join(map(str, existing))} already exist: bundles signed with that key would "
            "no longer load once the API has the new public key. Choose another folder, or "
            "replace them on purpose (--force)"
        )
    key = ed25519.Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_path.unlink(missing_ok=True)
    # created owner-only, not chmod-ed after: the key is never readable by others
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_pem)
    public_path.write_bytes(public_pem)
    return private_path, public_path


def sign_bundle(directory: Path, key: Ed25519PrivateKey) -> Path:
    """Write `manifest.sig` beside the manifest: the signature of its exact bytes."""
    signature = directory / SIGNATURE
    signature.write_bytes(key.sign(read_manifest_bytes(directory)))
    return signature


@functools.cache
def _warn_unchecked() -> None:
    log.warning(
        "bundle signatures are not checked: no BADBUZZ_VERIFY_KEY is set (development). "
        "Set it to the public key of training's BADBUZZ_SIGNING_KEY (badbuzz keys create); "
        "production refuses unsigned bundles"
    )


@dataclass(frozen=True)
class SignaturePolicy:
    """What a machine that loads bundles asks of their signatures: checked with `verify_key`
    (raw Ed25519 public key bytes) when set; with no key, refused if `required` (production),
    else loaded with one warning per process (development)."""

    verify_key: bytes | None = None
    required: bool = False

    @classmethod
    def from_key_file(cls, path: Path | None, required: bool) -> SignaturePolicy:
        if path is None:
            return cls(None, required)
        key = load_verify_key(path)  # says what to install when cryptography is missing
        from cryptography.hazmat.primitives import serialization

        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(raw, True)

    def check(self, directory: Path, manifest_bytes: bytes) -> None:
        """Raise unless `manifest_bytes` (the manifest of `directory`) is signed as asked."""
        if self.verify_key is None:
            if self.required:
                raise BundleError(
                    f"{directory}: cannot check the bundle's signature: no BADBUZZ_VERIFY_KEY "
                    "is set, and production serves signed bundles only. Set BADBUZZ_VERIFY_KEY "
                    "to the public key of training's BADBUZZ_SIGNING_KEY"
                )
            _warn_unchecked()
            return
        path = directory / SIGNATURE
        if not path.is_file():
            raise BundleError(
                f"{directory}: the bundle is not signed (no {SIGNATURE}) and this API serves "
                "signed bundles only (BADBUZZ_VERIFY_KEY is set, or production). Train or "
                "retrain it with BADBUZZ_SIGNING_KEY set to the private key that matches "
                "BADBUZZ_VERIFY_KEY, and promote that version"
            )
        ed25519 = _ed25519()
        from cryptography.exceptions import InvalidSignature

        signature = path.read_bytes()
        try:
            if len(signature) != SIGNATURE_BYTES:
                raise InvalidSignature
            ed25519.Ed25519PublicKey.from_public_bytes(self.verify_key).verify(
                signature, manifest_bytes
            )
        except InvalidSignature as error:
            raise BundleError(
                f"{directory}: the signature in {SIGNATURE} does not match the manifest: it "
                "was changed after training signed it, or signed with another key than the "
                "one BADBUZZ_VERIFY_KEY holds. The bundle is refused; serve a version signed "
                "by training's BADBUZZ_SIGNING_KEY (or give the API that key's public half)"
            ) from error


def verified_manifest(directory: Path, signatures: SignaturePolicy | None) -> Manifest:
    """The manifest of `directory`, once its signature (when `signatures` asks for one), its
    paths (inside the folder) and every file hash are checked. Nothing else of the bundle is
    read before the signature is checked, and the bytes checked are the bytes parsed."""
    data = read_manifest_bytes(directory)
    if signatures is not None:
        signatures.check(directory, data)
    manifest = Manifest.parse(data, directory / MANIFEST)
    manifest.verify(directory)
    return manifest
