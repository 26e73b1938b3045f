"""A signed manifest of a model directory's files: the sha256 of each, signed with the model's Ed25519 key.

``manifest.json`` is an envelope ``{"manifest": {"files": {name: sha256}, ...}, "signature": ...}``. It is
verified when a model is opened and by ``unlearnkit audit``: a changed backbone, secret or salt
(``strategy.json``) is refused instead of served. Checkpoint files are not listed: the lineage store records
each one's sha256 and every read checks it; nor is the held training data, whose rows carry their own tags
(:mod:`unlearnkit.exact.held`) because deletions overwrite them in place.

A listed file replaced after training goes in two phases so that a crash never leaves the directory
unverifiable: the new files and a signed ``manifest.json.next`` are written first, then each file is renamed
into place, then the manifest. :func:`verify_manifest` rolls an interrupted replacement forward when every file
matches the pending manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from unlearnkit.errors import DataError
from unlearnkit.lineage.signing import Signer, parse_envelope, verify_envelope
from unlearnkit.lineage.store import iso, utcnow

MANIFEST_FILE = "manifest.json"
PENDING_SUFFIX = ".next"


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(path: Path, data: bytes, sync: bool = True) -> None:
    """Write ``data`` to ``path`` through a (synced, unless ``sync=False``) temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        if sync:
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def _body(directory: Path, names: Sequence[str], overrides: Mapping[str, Path]) -> dict[str, Any]:
    files = {name: sha256_file(overrides.get(name, directory / name)) for name in sorted(names)}
    return {"type": "unlearnkit/file-manifest", "alg": "sha256", "files": files, "signed_at": iso(utcnow())}


def write_manifest(directory: Path, names: Sequence[str], signer: Signer) -> dict[str, Any]:
    """Sign the current sha256 of ``names`` (relative to ``directory``) into ``manifest.json``."""
    envelope = signer.sign(_body(directory, names, {}), kind="manifest")
    write_atomic(directory / MANIFEST_FILE, json.dumps(envelope, indent=2, sort_keys=True).encode())
    return envelope


def replace_files(directory: Path, replacements: Mapping[str, Path], signer: Signer) -> None:
    """Move the staged files ``{name: temporary path}`` into place under a re-signed manifest (crash-safe)."""
    current = read_manifest(directory)
    names = sorted(set(current["files"]) | set(replacements))
    envelope = signer.sign(_body(directory, names, replacements), kind="manifest")
    pending = directory / (MANIFEST_FILE + PENDING_SUFFIX)
    write_atomic(pending, json.dumps(envelope, indent=2, sort_keys=True).encode())
    for name, tmp in replacements.items():
        os.replace(tmp, directory / name)
    os.replace(pending, directory / MANIFEST_FILE)


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest's body, unverified (for listing the files it names)."""
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise DataError(f"{path}: missing")
    return parse_envelope(path.read_bytes())["manifest"]


def _mismatches(directory: Path, body: dict[str, Any]) -> list[str]:
    out = []
    for name, sha in sorted(body.get("files", {}).items()):
        p = directory / name
        if not p.is_file():
            out.append(f"{name} is missing")
        elif sha256_file(p) != sha:
            out.append(f"{name} was changed after it was signed (sha256 differs from the manifest)")
    return out


def verify_manifest(directory: Path, public_key: Any, *, roll_forward: bool = False) -> list[str]:
    """Problems with ``manifest.json`` (signature, files); empty when every listed file matches.

    With ``roll_forward`` an interrupted :func:`replace_files` is completed (only when the pending manifest's
    signature verifies and every file matches it) and a stale pending manifest is removed.
    """
    path, pending = directory / MANIFEST_FILE, directory / (MANIFEST_FILE + PENDING_SUFFIX)
    if not path.is_file():
        return [f"{MANIFEST_FILE} is missing: the directory's files cannot be checked"]
    try:
        body = verify_envelope(parse_envelope(path.read_bytes()), public_key, kind="manifest")
    except DataError as exc:
        return [f"{MANIFEST_FILE}: {exc}"]
    problems = _mismatches(directory, body)
    if pending.is_file():
        if problems:
            try:
                nxt = verify_envelope(parse_envelope(pending.read_bytes()), public_key, kind="manifest")
            except DataError:
                return problems
            if not _mismatches(directory, nxt):
                if roll_forward:
                    os.replace(pending, path)
                return []
        elif roll_forward:
            pending.unlink(missing_ok=True)
    return problems
