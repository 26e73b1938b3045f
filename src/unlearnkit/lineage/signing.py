"""Ed25519 signatures that anyone can check offline with the model's published public key.

A signed document is an envelope ``{"<kind>": {...}, "signature": {"alg": "Ed25519", "key_id": ..., "value":
base64}}`` with exactly those two members (``kind`` is ``receipt``, ``head`` or ``manifest``); the signature
covers the canonical JSON of the body (sorted keys, compact separators, ASCII), the same canonical form the audit
chain hashes. The key id is the first 16 hex digits of the sha256 of the raw 32-byte public key. The private
key is a PEM file created with mode 0600 next to its ``.pub.pem`` (by default ``MODEL_DIR/signing/ed25519.pem``:
the engine, the CLI and the service sign with the same model key).

Verification is strict: an envelope with any member the signature does not cover, or JSON text with a duplicate
key (which parsers resolve differently), is refused.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from unlearnkit.errors import ConfigError, DataError
from unlearnkit.lineage.store import canonical_json

ALG = "Ed25519"


def canonical_bytes(obj: Any) -> bytes:
    """What a signature covers: sorted keys, compact separators, ASCII."""
    return canonical_json(obj).encode("ascii")


def raw_public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public_bytes(key)).hexdigest()[:16]


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass(frozen=True)
class Signer:
    """An Ed25519 key pair that signs receipt envelopes."""

    private_key: Ed25519PrivateKey

    @functools.cached_property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @functools.cached_property
    def key_id(self) -> str:  # every signature names it: derived once
        return key_id(self.public_key)

    def sign(self, body: dict[str, Any], kind: str = "receipt") -> dict[str, Any]:
        """The envelope ``{kind: body, "signature": {...}}``."""
        return self.sign_encoded(body, kind)[0]

    def sign_encoded(self, body: dict[str, Any], kind: str = "receipt") -> tuple[dict[str, Any], bytes]:
        """The envelope and its :func:`canonical_bytes`, the body encoded once (for the signature and the bytes)."""
        if not kind < "signature":  # the envelope's keys sorted: the body's comes first
            raise ValueError(f"an envelope kind must sort before 'signature', got {kind!r}")
        body_bytes = canonical_bytes(body)
        signature = {
            "alg": ALG,
            "key_id": self.key_id,
            "value": base64.b64encode(self.private_key.sign(body_bytes)).decode(),
        }
        data = b"".join(
            (b'{"', kind.encode("ascii"), b'":', body_bytes, b',"signature":', canonical_bytes(signature), b"}")
        )
        return {kind: body, "signature": signature}, data

    def public_info(self) -> dict[str, str]:
        """What ``GET /v1/keys`` publishes for this key."""
        return {
            "key_id": self.key_id,
            "alg": ALG,
            "public_key": base64.b64encode(raw_public_bytes(self.public_key)).decode(),
            "public_key_pem": public_pem(self.public_key),
        }

    @classmethod
    def load_or_create(cls, path: str | Path) -> Signer:
        """Load the PEM private key at ``path``, creating it (mode 0600) and ``*.pub.pem`` if it is missing.

        Creation is race-free: the key is written to a temporary file and hard-linked into place, so when two
        processes start together one wins and the other loads the winner's key.
        """
        path = Path(path)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")  # unique per process and thread
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(pem)
                    f.flush()
                    os.fsync(f.fileno())
                with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
                    os.link(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{path}: not an unencrypted PEM private key ({exc})") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path}: not an Ed25519 private key")
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"{path}: private key is readable by others; run `chmod 600 {path}`")
        signer = cls(key)
        pub = public_key_path(path)
        if not pub.exists():
            tmp = pub.with_name(f".{pub.name}.{uuid.uuid4().hex}.tmp")
            tmp.write_text(public_pem(signer.public_key))
            os.replace(tmp, pub)
        return signer


def public_key_path(private_path: str | Path) -> Path:
    p = Path(private_path)
    return p.with_name(p.name.removesuffix(".pem") + ".pub.pem")


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """A public key from PEM, base64 of the raw 32 bytes, or a ``GET /v1/keys`` key object (JSON)."""
    data = text.encode() if isinstance(text, str) else text
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(stripped)
        if not isinstance(key, Ed25519PublicKey):
            raise DataError("not an Ed25519 public key")
        return key
    if stripped.startswith(b"{"):
        obj = json.loads(stripped)
        if "keys" in obj:
            raise DataError("several keys given; pick one by key id")
        return load_public_key(obj.get("public_key_pem") or obj["public_key"])
    try:
        raw = base64.b64decode(stripped, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise DataError("not a PEM, base64 raw or JSON Ed25519 public key") from exc


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise DataError(f"duplicate JSON key {k!r} (refused: parsers disagree on which value wins)")
        out[k] = v
    return out


def parse_envelope(text: str | bytes) -> dict[str, Any]:
    """Parse signed JSON, refusing duplicate keys anywhere and NaN/Infinity (not JSON)."""

    def _bad_constant(name: str) -> Any:
        raise DataError(f"{name} is not valid JSON")

    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_bad_constant)
    except json.JSONDecodeError as exc:
        raise DataError(f"not JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise DataError("not a signed envelope (expected a JSON object)")
    return obj


def verify_envelope(envelope: dict[str, Any], public_key: Ed25519PublicKey, kind: str = "receipt") -> dict[str, Any]:
    """Raise :class:`DataError` unless ``envelope`` is exactly ``{kind, signature}`` with a valid signature by
    ``public_key``; returns the signed body."""
    if not isinstance(envelope, dict) or set(envelope) != {kind, "signature"}:
        extra = sorted(set(envelope) - {kind, "signature"}) if isinstance(envelope, dict) else []
        if extra:
            raise DataError(f"unsigned envelope member(s) {extra}: only `{kind}` and `signature` are allowed")
        raise DataError(f"not a signed {kind} (needs `{kind}` and `signature` with alg, key_id, value)")
    body, sig = envelope[kind], envelope["signature"]
    if not isinstance(sig, dict) or set(sig) != {"alg", "key_id", "value"}:
        raise DataError("the signature must have exactly alg, key_id and value")
    if not isinstance(body, dict):
        raise DataError(f"`{kind}` must be a JSON object")
    alg, kid, value = sig["alg"], sig["key_id"], sig["value"]
    if alg != ALG:
        raise DataError(f"unsupported signature algorithm {alg!r}")
    if kid != key_id(public_key):
        raise DataError(f"signed by key {kid}, not by the given key {key_id(public_key)}")
    try:
        public_key.verify(base64.b64decode(str(value), validate=True), canonical_bytes(body))
    except (InvalidSignature, ValueError) as exc:
        raise DataError(f"signature does not match the {kind} (it was altered or signed by another key)") from exc
    return body
