"""Hugging Face plumbing: the ``[llm]`` extra check, loading any causal LM offline, saving model directories.

A model directory is what ``save_pretrained`` writes (weights, config, tokenizer) plus ``unlearnkit.json``
with what unlearnkit recorded about it (the world or corpora it was trained on, the method, the guarantee).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from unlearnkit.errors import ConfigError, DataError

META_FILE = "unlearnkit.json"
HINT = "the language-model family needs the [llm] extra: pip install 'unlearnkit[llm]'"


def require_transformers() -> Any:
    """Import ``transformers`` or raise a one-line :class:`ConfigError` naming the extra."""
    try:
        import transformers
    except ImportError:
        raise ConfigError(HINT) from None
    return transformers


def load_causal_lm(spec: str | Path) -> tuple[Any, Any]:
    """``hf:NAME_OR_PATH`` (or a plain path) → ``(model, tokenizer)``, offline when the path is a local directory.

    The tokenizer always comes from the model (a tokenizer fit on deletable data would break the exact
    guarantee's one rule). A missing pad token is set to EOS; pads are masked out of every loss.
    """
    transformers = require_transformers()
    text = str(spec)
    name = text[3:] if text.startswith("hf:") else text
    if not name:
        raise ConfigError("--model expects hf:NAME_OR_PATH")
    local = Path(name).expanduser()
    kwargs: dict[str, Any] = {"local_files_only": True} if local.is_dir() else {}
    source = str(local) if local.is_dir() else name
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, **kwargs)
        model = transformers.AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot load a causal LM from {name!r}: {first}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer


def save_lm(directory: Path, model: Any, tokenizer: Any, meta: dict[str, Any]) -> Path:
    """Write ``model`` + ``tokenizer`` + ``unlearnkit.json`` to ``directory`` atomically (temp dir, then rename)."""
    directory = Path(directory)
    if directory.exists():
        raise ConfigError(f"{directory}: already exists (choose another --out or remove it)")
    directory.parent.mkdir(parents=True, exist_ok=True)
    require_transformers().utils.logging.disable_progress_bar()
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        if hasattr(model, "save_lm"):  # composite models (WHP) write their own parts
            model.save_lm(tmp)
        else:
            model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        tmp.rename(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def read_meta(directory: Path) -> dict[str, Any]:
    path = Path(directory) / META_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def load_lm(directory: Path) -> tuple[Any, Any, dict[str, Any]]:
    """A model directory written by :func:`save_lm`, any HF causal-LM directory, or an exact model directory
    fitted on a causal-LM backbone (served as its shard ensemble) → model, tokenizer, meta."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: no such model directory")
    from unlearnkit.llm.exact import is_exact_dir, load_exact_lm

    if is_exact_dir(directory):
        return load_exact_lm(directory)
    meta = read_meta(directory)
    if meta.get("composite") == "whp":
        from unlearnkit.llm.methods.whp import WHPModel

        model = WHPModel.load_lm(directory)
        tokenizer = require_transformers().AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
        return model, tokenizer, meta
    model, tokenizer = load_causal_lm(directory)
    return model, tokenizer, meta


__all__ = ["HINT", "META_FILE", "load_causal_lm", "load_lm", "read_meta", "require_transformers", "save_lm"]
