"""Recovery candidates: the pool a selection draws from (instructions for LMs, labelled rows for classifiers).

Every candidate has a string id (the record's id; a manifest keeps only keyed hashes of it). Text candidates
carry a ``prompt`` (instruction + input; may be empty) and a ``response``; row candidates are an
:class:`~unlearnkit.data.IdDataset`. Files: JSONL (``id``, ``prompt``/``instruction`` [+ ``input``],
``response``/``output``, or a bare ``text``) for LMs; CSV/Parquet (``id``, ``label``, features) for classifiers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from unlearnkit.data import IdDataset
from unlearnkit.errors import DataError


@dataclass
class Candidates:
    ids: list[str]
    prompts: list[str] | None = None
    responses: list[str] | None = None
    data: IdDataset | None = None

    def __post_init__(self) -> None:
        if (self.responses is None) == (self.data is None):
            raise DataError("candidates are either texts (prompt/response) or rows (an IdDataset), not both")
        n = len(self.responses) if self.responses is not None else len(self.data)  # type: ignore[arg-type]
        if len(self.ids) != n or (self.prompts is not None and len(self.prompts) != n):
            raise DataError(f"{len(self.ids)} candidate ids for {n} candidates")
        if len(set(self.ids)) != len(self.ids):
            raise DataError("candidate ids must be unique")

    @property
    def kind(self) -> str:
        return "text" if self.responses is not None else "rows"

    def __len__(self) -> int:
        return len(self.ids)

    def prompt_list(self) -> list[str]:
        return list(self.prompts) if self.prompts is not None else [""] * len(self)

    def texts(self) -> list[str]:
        """Prompt and response joined (what concept and near-duplicate checks read)."""
        if self.responses is None:
            raise DataError("row candidates have no text")
        return [f"{p} {r}".strip() for p, r in zip(self.prompt_list(), self.responses, strict=True)]

    def take(self, positions: Sequence[int] | np.ndarray) -> Candidates:
        pos = [int(p) for p in positions]
        if self.data is not None:
            return Candidates([self.ids[p] for p in pos], data=self.data.take(torch.as_tensor(pos, dtype=torch.long)))
        return Candidates(
            [self.ids[p] for p in pos],
            [self.prompt_list()[p] for p in pos] if self.prompts is not None else None,
            [self.responses[p] for p in pos],  # type: ignore[index]
        )

    def content_keys(self) -> list[str]:
        """sha256 of each candidate's normalised content (exact-duplicate detection; never written out)."""
        if self.data is not None:
            x, y = self.data.x.numpy(), self.data.y.numpy()
            return [hashlib.sha256(x[i].tobytes() + str(int(y[i])).encode()).hexdigest() for i in range(len(self))]
        return [hashlib.sha256(" ".join(t.lower().split()).encode()).hexdigest() for t in self.texts()]

    @classmethod
    def from_texts(
        cls, responses: Sequence[str], prompts: Sequence[str] | None = None, ids: Sequence[str] | None = None
    ) -> Candidates:
        ids = [str(i) for i in (ids if ids is not None else range(len(responses)))]
        return cls(ids, list(prompts) if prompts is not None else None, list(responses))

    @classmethod
    def from_dataset(cls, data: IdDataset) -> Candidates:
        return cls([str(i) for i in data.ids.tolist()], data=data)


def _text_row(row: dict, where: str) -> tuple[str | None, str, str]:
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object")
    rid = row.get("id")
    prompt = row.get("prompt", row.get("instruction"))
    if prompt is not None and row.get("input"):
        prompt = f"{prompt} {row['input']}"
    response = row.get("response", row.get("output"))
    if response is None:
        response = row.get("text")
    if not isinstance(response, str) or not response.strip():
        raise DataError(f"{where}: needs a non-empty 'response'/'output' (or 'text') field")
    if prompt is not None and not isinstance(prompt, str):
        raise DataError(f"{where}: 'prompt' must be text")
    return (None if rid is None else str(rid)), (prompt or ""), response


def read_text_candidates(path: str | Path) -> Candidates:
    """JSONL rows → text candidates (ids default to the line number)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such candidates file")
    ids, prompts, responses = [], [], []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{p}:{n}: not JSON ({exc.msg})") from None
        rid, prompt, response = _text_row(row, f"{p}:{n}")
        ids.append(rid if rid is not None else str(n))
        prompts.append(prompt)
        responses.append(response)
    if not ids:
        raise DataError(f"{p}: no candidates")
    return Candidates(ids, prompts, responses)


def read_row_candidates(path: str | Path, num_classes: int, num_features: int) -> Candidates:
    """CSV/Parquet rows (``id``, ``label``, features) → row candidates checked against the model's shape."""
    from unlearnkit.data import load_table

    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such candidates file")
    data = load_table(p, num_classes=num_classes)
    if data.num_features != num_features:
        raise DataError(f"{p}: {data.num_features} feature columns, the model expects {num_features}")
    if len(data) == 0:
        raise DataError(f"{p}: no candidates")
    return Candidates.from_dataset(data)


__all__ = ["Candidates", "read_row_candidates", "read_text_candidates"]
