"""What makes a model directory trustworthy on disk: the signing key, the signed file manifest, the signed
audit head, and the reconciliation of checkpoint files with the lineage store.

Mixed into :class:`~unlearnkit.exact.base.ExactStrategy`:

- **Key.** ``MODEL_DIR/signing/ed25519.pem`` (or ``signing_key=`` / ``UNLEARNKIT_KEY_PATH``), the same key the
  service signs receipts with. Verifying needs only its public half (``ed25519.pub.pem`` next to it).
- **Manifest** (:mod:`unlearnkit.lineage.manifest`): sha256 of ``strategy.json`` (hyper-parameters and the
  slice salt), ``backbone.safetensors``, ``secret.key`` and every other file written at training time (backbone
  assets such as a tokenizer, the model card), signed at fit; verified on every load and by :meth:`verify`. The
  held data changes at every deletion, so it is checked row by row instead (:mod:`unlearnkit.exact.held`).
- **Audit head** (:mod:`unlearnkit.lineage.audit`): signed into ``audit-head.json`` after every change. A load
  refuses a store that no longer contains that head (a rolled-back or replaced database); a missing
  ``lineage.db`` is an error, never a fresh empty store.
- **Orphans.** A crash between writing checkpoint files and committing them leaves files no store row names.
  Writers remove them (:meth:`reconcile_files`, under the writer lock, before planning) and :meth:`verify`
  reports any it finds, along with files of purged checkpoints and missing files of active ones.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from unlearnkit.errors import DataError, IntegrityError, LineageError
from unlearnkit.lineage.audit import (
    HEAD_FILE,
    head_problems,
    read_head_file,
    replay_problems,
    sign_head_encoded,
    write_head,
)
from unlearnkit.lineage.manifest import MANIFEST_FILE, verify_manifest, write_manifest
from unlearnkit.lineage.signing import Signer, load_public_key, parse_envelope, public_key_path, verify_envelope

log = logging.getLogger(__name__)

KEY_ENV = "UNLEARNKIT_KEY_PATH"
DEFAULT_KEY = Path("signing") / "ed25519.pem"
SIGNED_FILES = ("strategy.json", "backbone.safetensors", "secret.key")
# never listed: the store (checked by its own chain), files the store hashes (checkpoints), what is re-signed or
# written after training (receipts, the head, the manifest itself), the key, locks and temporary files
UNSIGNED = ("lineage.db", "checkpoints", "held", "receipts", "signing", "manifest.json", "audit-head.json", "versions")


def files_to_sign(directory: Path) -> list[str]:
    """Every file written at training time (``SIGNED_FILES`` plus backbone assets such as an HF config and
    tokenizer, and the model card), relative to ``directory``."""
    out = []
    for p in sorted(Path(directory).rglob("*")):
        rel = p.relative_to(directory)
        if not p.is_file() or rel.parts[0].startswith(".") or p.name.startswith("."):
            continue
        if any(
            rel.parts[0] == u or rel.parts[0].startswith(u + "-") or rel.parts[0].startswith(u + ".") for u in UNSIGNED
        ):
            continue
        out.append(rel.as_posix())
    missing = [f for f in SIGNED_FILES if f not in out]
    if missing:
        raise IntegrityError(f"{directory}: cannot sign a model directory without {', '.join(missing)}")
    return out


def default_key_path(directory: Path, explicit: str | Path | None = None) -> Path:
    """The model's signing key: ``explicit``, else ``$UNLEARNKIT_KEY_PATH``, else ``DIR/signing/ed25519.pem``."""
    chosen = explicit or os.environ.get(KEY_ENV)
    return Path(chosen) if chosen else Path(directory) / DEFAULT_KEY


class IntegrityMixin:
    """File-level trust for a model directory (see the module docstring). Needs ``directory``, ``store``,
    ``ckpt_`` and ``signing_key`` on the host object."""

    directory: Path
    signing_key: str | Path | None
    _signer_obj: Signer | None = None

    # -- keys -------------------------------------------------------------------------------------------
    @property
    def key_path_(self) -> Path:
        return default_key_path(self.directory, self.signing_key)

    def signer(self) -> Signer:
        """The model's Ed25519 key (created, mode 0600, on first use)."""
        where = (self.directory, self.signing_key, os.environ.get(KEY_ENV))  # what decides the key's path
        if self._signer_obj is None or self._signer_path != where:
            self._signer_obj = Signer.load_or_create(self.key_path_)
            self._signer_path = where
        return self._signer_obj

    def public_key(self) -> Any:
        """The public key that verifies this model's signatures (no private key needed)."""
        path = self.key_path_
        if path.is_file() and os.access(path, os.R_OK):
            return self.signer().public_key
        pub = public_key_path(path)
        if not pub.is_file():
            raise IntegrityError(f"{pub}: the model's public key is missing; cannot check its signatures")
        return load_public_key(pub.read_bytes())

    # -- writing --------------------------------------------------------------------------------------------
    def _sign_files(self, directory: Path) -> None:
        write_manifest(directory, files_to_sign(directory), self.signer())

    def checkpoint_head(self, durable: bool = True, known: tuple[int, str, int] | None = None) -> dict[str, Any]:
        """Sign the audit chain's current head into ``audit-head.json``; returns the envelope.

        ``durable=False`` (a fast-path deletion) renames the file into place without an fsync: a kill -9 loses
        nothing, and after a power loss the file may name an earlier head, which the store still extends.
        ``known``: ``(seq, hash, model version)`` just committed by this writer (saves a read).
        """
        env, encoded = sign_head_encoded(self.store, self.signer(), known)  # type: ignore[attr-defined]
        write_head(self.directory, env, sync=durable, encoded=encoded)
        return env

    def reconcile_files(self) -> list[str]:
        """Remove checkpoint files the store does not list as active or retired (crash leftovers, purged files)."""
        ckpt_dir = self.ckpt_.directory  # type: ignore[attr-defined]
        if not ckpt_dir.is_dir():
            return []
        removed = []
        with self._writer.hold():  # type: ignore[attr-defined]  # never while a writer is registering files
            keep = {c.key for c in self.store.checkpoints(None) if c.status in ("active", "retired")}  # type: ignore[attr-defined]
            for p in sorted(ckpt_dir.iterdir()):
                key = p.name.removesuffix(".safetensors")
                if p.suffix == ".tmp" or (p.name.endswith(".safetensors") and key not in keep):
                    p.unlink(missing_ok=True)
                    removed.append(p.name)
        if removed:
            log.warning("removed %d checkpoint file(s) the lineage store does not list: %s", len(removed), removed)
        return removed

    def remove_purged_files(self) -> list[str]:
        """Remove files of checkpoints the store records as purged (a crash between commit and unlink)."""
        ckpt_dir = self.ckpt_.directory  # type: ignore[attr-defined]
        if not ckpt_dir.is_dir():
            return []
        purged = {c.key for c in self.store.checkpoints("purged")}  # type: ignore[attr-defined]
        removed = [k for k in sorted(purged) if self.ckpt_.remove(k)]  # type: ignore[attr-defined]
        return removed

    # -- checking ---------------------------------------------------------------------------------------------
    @staticmethod
    def _check_store_present(directory: Path, db_url: str | None) -> None:
        """A missing ``lineage.db`` is an error: opening it would create an empty store that says all is well."""
        if db_url is None and not (directory / "lineage.db").is_file():
            head = " (audit-head.json records a newer state)" if (directory / HEAD_FILE).is_file() else ""
            raise IntegrityError(
                f"{directory / 'lineage.db'} is missing{head}: the lineage store was deleted or moved; restore it "
                "from a backup and check it against the last signed audit head"
            )

    def _check_on_open(self) -> None:
        """Refuse changed files and a store that lost the signed head (rolling an interrupted purge forward)."""
        problems = verify_manifest(self.directory, self.public_key(), roll_forward=True)
        problems += self._head_file_problems()
        if problems:
            raise IntegrityError(f"{self.directory}: " + "; ".join(problems))

    def check_signed_bytes(self, name: str, data: bytes) -> None:
        """Refuse ``data`` read from the signed file ``name`` unless its sha256 is the one the manifest signs (a
        file read after open, e.g. the backbone on first use, is checked as it is read, not only at open)."""
        path = self.directory / MANIFEST_FILE
        if not path.is_file():  # a directory being fitted (open refuses a finished one without its manifest)
            return
        try:
            body = verify_envelope(parse_envelope(path.read_bytes()), self.public_key(), kind="manifest")
        except DataError as exc:
            raise IntegrityError(f"{path}: {exc}") from None
        want = body.get("files", {}).get(name)
        if want is not None and hashlib.sha256(data).hexdigest() != want:
            raise IntegrityError(f"{self.directory / name} was changed after it was signed (sha256 differs)")

    def _head_file_problems(self) -> list[str]:
        path = self.directory / HEAD_FILE
        if not path.is_file():
            return [f"{HEAD_FILE} is missing: the store cannot be checked against its last signed head"]
        try:
            head = read_head_file(self.directory, self.public_key())
        except (LineageError, ValueError) as exc:
            return [f"{HEAD_FILE}: {exc}"]
        return head_problems(self.store, head, HEAD_FILE)  # type: ignore[attr-defined]

    def _checkpoint_file_problems(self) -> list[str]:
        """Checkpoint files the store does not name, purged ones still on disk, active ones missing."""
        problems = []
        ckpt_dir = self.ckpt_.directory  # type: ignore[attr-defined]
        status = {c.key: c.status for c in self.store.checkpoints(None)}  # type: ignore[attr-defined]
        files = ckpt_dir.glob("*.safetensors") if ckpt_dir.is_dir() else []
        on_disk = {p.name.removesuffix(".safetensors") for p in files}
        orphans = sorted(k for k in on_disk if k not in status)
        if orphans:
            problems.append(
                f"{len(orphans)} checkpoint file(s) no store row names (left by a crash; they may hold deleted "
                f"data): {', '.join(k[:12] for k in orphans[:5])}"
            )
        lingering = sorted(k for k in on_disk if status.get(k) == "purged")
        if lingering:
            problems.append(f"{len(lingering)} purged checkpoint file(s) are still on disk")
        missing = sorted(k for k, st in status.items() if st == "active" and k not in on_disk)
        if missing:
            problems.append(f"{len(missing)} active checkpoint file(s) are missing")
        return problems

    def directory_problems(self) -> list[str]:
        """Everything on disk that disagrees with the store or with what was signed."""
        problems = verify_manifest(self.directory, self.public_key())
        problems += self._head_file_problems()
        problems += replay_problems(self.store)  # type: ignore[attr-defined]
        files = self._checkpoint_file_problems()
        if files:  # a writer may be between writing files and committing them (or the reverse): look again
            with self._writer.hold():  # type: ignore[attr-defined]  # once it is done
                files = self._checkpoint_file_problems()
        problems += files
        return problems


__all__ = ["DEFAULT_KEY", "KEY_ENV", "MANIFEST_FILE", "SIGNED_FILES", "IntegrityMixin", "default_key_path"]
