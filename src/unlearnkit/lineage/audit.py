"""Signed checkpoints of the audit chain's head, and the checks that catch a rewritten or rolled-back store.

The chain itself is keyed (HMAC under a key derived from the model's secret), so editing a row without the
secret breaks it. Someone holding the secret and write access to the database could still rebuild a shorter or
different chain, or swap in an older copy of the whole database. What stops that is a *signed head*: the
``(seq, hash)`` of the newest event plus the model version, signed with the model's Ed25519 key. It is written
to ``audit-head.json`` after every change, embedded in every receipt and served at ``GET /v1/audit/head``; a
copy kept off the machine (a receipt, a monitor polling the endpoint) is the reference that
:func:`head_problems` checks the database against: the chain must still hold that event with that hash.

:func:`replay_problems` re-derives state from the chain: every sample a ``deletion.committed`` event deleted must
still be deleted (an "undeleted" row is caught), and every checkpoint an event retired must not be active again.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from unlearnkit.errors import DataError
from unlearnkit.lineage.manifest import write_atomic
from unlearnkit.lineage.signing import Signer, parse_envelope, verify_envelope
from unlearnkit.lineage.store import LineageStore, iso, utcnow

log = logging.getLogger(__name__)

HEAD_FILE = "audit-head.json"
SPARE_FILE = f".{HEAD_FILE}.spare"  # the head before the newest one (see write_head)
_exchange: list[Any] = []  # [renameat2 or None] once looked up; None: not available (use a rename)


def chain_head(store: LineageStore, known: tuple[int, str, int] | None = None) -> dict[str, Any]:
    """The newest audit event's ``seq`` and ``hash``, the model version, and when this was read.

    ``known``: ``(seq, hash, version)`` the caller just committed (under the writer lock), instead of a read.
    """
    if known is not None:
        seq, h, version = known
        chain = store.chain_alg
    else:
        seq, h, version, chain = store.chain_state()
    return {
        "type": "unlearnkit/audit-head",
        "seq": seq,
        "hash": h,
        "model_version": version,
        "chain": chain,
        "at": iso(utcnow()),
    }


def sign_head(store: LineageStore, signer: Signer, known: tuple[int, str, int] | None = None) -> dict[str, Any]:
    return sign_head_encoded(store, signer, known)[0]


def sign_head_encoded(
    store: LineageStore, signer: Signer, known: tuple[int, str, int] | None = None
) -> tuple[dict[str, Any], bytes]:
    """:func:`sign_head` and the envelope's canonical bytes (what :func:`write_head` writes), encoded once."""
    return signer.sign_encoded(chain_head(store, known), kind="head")


def write_head(directory: Path, envelope: dict[str, Any], sync: bool = True, encoded: bytes | None = None) -> None:
    """Write the signed head to ``audit-head.json``; readers never see a partial file.

    ``sync=True``: a synced temporary file renamed into place. ``sync=False`` (every fast-path deletion): the
    head is written into the spare file ``.audit-head.json.spare`` in place and the two names are swapped
    atomically (``renameat2(RENAME_EXCHANGE)``), so the previous head becomes the spare. Creating a temporary
    file costs an inode and a journal entry each time (about 0.4 ms here); the swap costs about 12 µs. Where the
    swap is unsupported (not Linux, or a file system without it) the temporary file and rename are used.
    ``encoded``: the envelope's canonical bytes when the caller has them (:func:`sign_head_encoded`).
    """
    if encoded is None:  # compact: the C encoder
        encoded = json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()
    data = encoded + b"\n"
    if sync or not _swap_in(os.fspath(directory), data):
        write_atomic(Path(directory) / HEAD_FILE, data, sync=sync)


def _swap_in(directory: str, data: bytes) -> bool:
    swap = _renameat2()
    if swap is None:
        return False
    path, spare = os.path.join(directory, HEAD_FILE), os.path.join(directory, SPARE_FILE)
    fd = os.open(spare, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)
    at_fdcwd, rename_exchange = -100, 2
    if swap(at_fdcwd, os.fsencode(spare), at_fdcwd, os.fsencode(path), rename_exchange) == 0:
        return True
    if not os.path.exists(path):  # nothing to swap with yet (the first head): a rename makes it
        return False
    _exchange[0] = None  # the file system refuses the swap: rename from now on
    return False


def _renameat2() -> Any:
    """Linux ``renameat2`` (swaps two names in one atomic step with ``RENAME_EXCHANGE``), or None."""
    if not _exchange:
        try:
            import ctypes

            _exchange.append(ctypes.CDLL(None, use_errno=True).renameat2)
        except (OSError, AttributeError):
            _exchange.append(None)
    return _exchange[0]


def read_head_file(directory: Path, public_key: Any) -> dict[str, Any]:
    """The verified head of ``audit-head.json``.

    The fast path writes it without a sync, so after a power loss it may hold a torn write: when the file is not
    even JSON, the previous signed head (the spare file) is the reference instead, which the store must extend
    too. A file that parses but fails its signature is refused: that is tampering, not a torn write.
    """
    path = Path(directory) / HEAD_FILE
    data = path.read_bytes()
    try:
        parse_envelope(data)
    except DataError as exc:
        spare = path.with_name(SPARE_FILE)
        if not spare.is_file():
            raise
        head = load_head(spare.read_bytes(), public_key)
        log.warning("%s is unreadable (%s); checking against the previous signed head in %s", path, exc, spare.name)
        return head
    return load_head(data, public_key)


def load_head(data: str | bytes, public_key: Any) -> dict[str, Any]:
    """A verified head from a head envelope or from a signed receipt that embeds one (``audit_head``)."""
    env = parse_envelope(data)
    if "head" in env:
        return verify_envelope(env, public_key, kind="head")
    if "receipt" in env:
        receipt = verify_envelope(env, public_key, kind="receipt")
        head = receipt.get("audit_head")
        if not isinstance(head, dict) or "seq" not in head or "hash" not in head:
            raise DataError("the receipt carries no audit head")
        return head
    raise DataError("neither a signed audit head nor a signed receipt")


def head_problems(store: LineageStore, head: dict[str, Any], source: str) -> list[str]:
    """Problems if the store does not extend the signed ``head`` (truncated, rewritten or rolled back)."""
    seq, want = int(head["seq"]), str(head["hash"])
    if seq == 0:
        return []
    events = store.audit_events(since=seq - 1)
    if not events or events[0]["seq"] != seq:
        newest = store.audit_events(since=0)[-1:]  # cheap enough for an audit
        have = newest[0]["seq"] if newest else 0
        return [
            f"the audit chain ends at event {have} but {source} signed event {seq}: the database was truncated, "
            "rolled back or replaced"
        ]
    if events[0]["hash"] != want:
        return [f"audit event {seq} differs from the one {source} signed: the chain was rewritten or replaced"]
    version = head.get("model_version")
    if version is not None and store.model_version < int(version):
        return [f"the model version {store.model_version} is older than version {version} that {source} signed"]
    return []


def replay_problems(store: LineageStore) -> list[str]:
    """State that contradicts the chain: a deleted sample active again, a retired checkpoint active again."""
    deleted_by_chain: set[str] = set()
    retired_by_chain: set[str] = set()
    for e in store.audit_events():
        if e["event_type"] == "deletion.committed":
            deleted_by_chain.update(e["payload"].get("id_hashes", []))
            retired_by_chain.update(e["payload"].get("retired_checkpoints", []))
    problems = []
    deleted_now = {store.id_hash(i) for i in store.deleted_ids()}
    undeleted = deleted_by_chain - deleted_now
    if undeleted:
        problems.append(f"{len(undeleted)} sample(s) the audit chain records as deleted are not deleted in the store")
    unrecorded = deleted_now - deleted_by_chain
    if unrecorded:
        problems.append(f"{len(unrecorded)} sample(s) are deleted in the store with no deletion in the audit chain")
    active = {c.key for c in store.checkpoints("active")}
    revived = retired_by_chain & active
    if revived:
        problems.append(f"{len(revived)} checkpoint(s) the audit chain retired are active again")
    return problems
