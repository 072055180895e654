"""The site's signing key (Ed25519): it signs the manifest of every incident package, so a third party
holding the site's public key can tell a package from a forgery without sealguard or its database.

The private key is a PEM file readable by its owner (and at most its group) (``SEALGUARD_SIGNING_KEY``; default
``{data_dir}/site-signing.key``), made on first use. Split roles that export packages share one file,
as they share the database password. The public key is published by ``GET /api/v1/site-key`` and
printed by ``sealguard incident key``; its fingerprint is the SHA-256 of the raw 32-byte key."""

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sealguard.errors import SealguardError


class SigningKeyError(SealguardError, ValueError):
    """A signing key file that cannot be used (unreadable, not Ed25519, open to others)."""


def load_or_create(path: Path) -> Ed25519PrivateKey:
    """The key at ``path``, made there (mode 0600) when there is none."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
        try:  # O_EXCL: two processes starting together keep one key, not two
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load(path)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return key
    return load(path)


def load(path: Path) -> Ed25519PrivateKey:
    if path.stat().st_mode & 0o027:  # a group may read it (a Kubernetes secret volume with fsGroup), no more
        raise SigningKeyError(f"{path}: the signing key is open to others or writable by its group; chmod 600 it")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise SigningKeyError(f"{path}: not a PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 key")
    return key


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def read_public(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise SigningKeyError(f"not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError("not an Ed25519 public key")
    return key
