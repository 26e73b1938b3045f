"""Receipt signing for the service: the Ed25519 keys live in :mod:`unlearnkit.lineage.signing` (the engine and
the CLI sign with the same model key)."""

from unlearnkit.lineage.signing import (
    ALG,
    Signer,
    canonical_bytes,
    key_id,
    load_public_key,
    parse_envelope,
    public_key_path,
    verify_envelope,
)

__all__ = [
    "ALG",
    "Signer",
    "canonical_bytes",
    "key_id",
    "load_public_key",
    "parse_envelope",
    "public_key_path",
    "verify_envelope",
]
