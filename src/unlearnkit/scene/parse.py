"""Stage 1, parse: a prompt → ``{task, primary, grounding}``, as FreeEdit's LLM call returns it.

FreeEdit asks GPT-4 (temperature 0.5, 120 tokens) for JSON with the task (insertion, replacement or
deletion), the primary object (the new one; none for deletion) and the grounding object (the support for
insertion, the old object for replacement, the target for deletion). Two parsers give the same record:

* :class:`RuleParser` (default, offline, deterministic): verb templates, typo-tolerant verbs (``difflib``),
  articles and politeness stripped, and a location phrase kept as context ("remove the mug *on the shelf*").
* :class:`LLMParser`: any text generator (an instruction-tuned Hugging Face model through
  :meth:`LLMParser.from_pretrained`) prompted for the same JSON; its answer is validated, never trusted.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from unlearnkit.scene.model import SceneError

Task = Literal["insertion", "replacement", "deletion"]
TASKS: tuple[Task, ...] = ("insertion", "replacement", "deletion")


@dataclass(frozen=True)
class EditCommand:
    """What to do. ``context`` is an optional location phrase that narrows the grounding object."""

    task: Task
    primary: str | None
    grounding: str
    context: str | None = None


@runtime_checkable
class Parser(Protocol):
    def parse(self, prompt: str) -> EditCommand: ...


_INSERT = ("put", "place", "add", "insert", "set", "lay", "stand", "position", "drop", "stick", "bring", "keep")
_REPLACE = ("replace", "swap", "exchange", "substitute", "change", "turn", "switch")
_DELETE = ("remove", "delete", "erase", "eliminate", "discard", "clear", "take", "get", "throw", "move")
_VERBS = sorted(set(_INSERT + _REPLACE + _DELETE))
_PREP = r"(?:on\s+top\s+of|onto|on|upon|atop|in|into|inside|over|to|at)"
_LEAD = re.compile(
    r"^(?:(?:please|kindly|now|then|and|ok(?:ay)?|hey)\b[\s,]*|(?:could|can|would|will)\s+you\s+"
    r"|i\s+(?:want|would\s+like|need)\s+(?:you\s+)?to\s+|i'?d\s+like\s+(?:you\s+)?to\s+|let'?s\s+|go\s+ahead\s+and\s+)+"
)
_ARTICLE = re.compile(r"^(?:a|an|the|some|one|this|that|my|our|your|another|new)\s+")

_TEMPLATES: list[tuple[Task, re.Pattern[str]]] = [
    # replacement
    (
        "replacement",
        re.compile(
            r"^(?:replace|swap(?:\s+out)?|exchange|switch(?:\s+out)?)\s+(?P<old>.+?)\s+(?:with|for|by|to)\s+(?P<new>.+)$"
        ),
    ),
    ("replacement", re.compile(r"^substitute\s+(?P<new>.+?)\s+for\s+(?P<old>.+)$")),
    ("replacement", re.compile(r"^(?:change|turn)\s+(?P<old>.+?)\s+(?:into|to)\s+(?P<new>.+)$")),
    (
        "replacement",
        re.compile(
            r"^(?:put|place|add|set)\s+(?P<new>.+?)\s+(?:where|in\s+place\s+of|instead\s+of)\s+(?P<old>.+?)(?:\s+(?:is|was|stands))?$"
        ),
    ),
    ("replacement", re.compile(r"^instead\s+of\s+(?P<old>.+?),?\s+(?:put|place|add|use|have)\s+(?P<new>.+)$")),
    # deletion
    (
        "deletion",
        re.compile(
            r"^(?:remove|delete|erase|eliminate|discard|clear\s+away|take\s+(?:away|off|out)"
            r"|get\s+rid\s+of|throw\s+(?:away|out))\s+(?P<g>.+)$"
        ),
    ),
    ("deletion", re.compile(r"^(?:take|move)\s+(?P<g>.+?)\s+(?:away|off|out)(?P<rest>\s+.*)?$")),
    (
        "deletion",
        re.compile(r"^(?P<g>.+?)\s+(?:should|must|has\s+to|needs\s+to)\s+(?:go|be\s+(?:removed|deleted|gone))$"),
    ),
    ("deletion", re.compile(r"^no\s+more\s+(?P<g>.+)$")),
    ("replacement", re.compile(r"^(?!there\b)(?P<old>.+?)\s+should\s+be\s+(?:replaced\s+(?:with|by)\s+)?(?P<new>.+)$")),
    # insertion
    (
        "insertion",
        re.compile(
            rf"^(?:put|place|add|insert|set|lay|stand|position|stick|bring|keep|drop)\s+"
            rf"(?P<p>.+?)\s+{_PREP}\s+(?P<g>.+)$"
        ),
    ),
    ("insertion", re.compile(rf"^(?:put|place|add|set)\s+{_PREP}\s+(?P<g>.+?),?\s+(?P<p>(?:a|an|some|one)\s+.+)$")),
    (
        "insertion",
        re.compile(
            rf"^(?:there\s+should\s+be|i\s+want|i\s+need|give\s+me|let\s+there\s+be)\s+"
            rf"(?P<p>.+?)\s+{_PREP}\s+(?P<g>.+)$"
        ),
    ),
    ("insertion", re.compile(r"^(?P<g>.+?)\s+(?:needs|should\s+have|could\s+use|gets)\s+(?P<p>.+)$")),
]


def clean_phrase(text: str) -> str:
    """Lower-case, punctuation and leading articles stripped: ``"The red MUG."`` → ``"red mug"``."""
    text = re.sub(r"[^\w\s'-]", " ", text.lower())
    text = re.sub(r"\s+", " ", text).strip()
    while (stripped := _ARTICLE.sub("", text)) != text:
        text = stripped
    return re.sub(r"\s+(?:please|now|too|as\s+well|from\s+the\s+scene|from\s+the\s+room)$", "", text).strip()


def _split_context(phrase: str) -> tuple[str, str | None]:
    """``"mug on the shelf"`` → ``("mug", "shelf")``; ``"mug from the table"`` → ``("mug", "table")``."""
    m = re.match(
        rf"^(?P<o>.+?)\s+(?:that\s+is\s+|which\s+is\s+)?(?:{_PREP}|from|off|under|near|next\s+to|by)\s+(?P<c>.+)$",
        phrase,
    )
    if m:
        return clean_phrase(m["o"]), clean_phrase(m["c"])
    return phrase, None


class RuleParser:
    """Templates over normalised text, with typo-tolerant verbs; deterministic and offline."""

    def __init__(self, verb_cutoff: float = 0.75) -> None:
        self.verb_cutoff = verb_cutoff

    def _normalise(self, prompt: str) -> str:
        text = re.sub(r"[^\w\s',-]", " ", prompt.lower())
        text = re.sub(r"\s+", " ", text).strip().rstrip(",")
        text = _LEAD.sub("", text).strip()
        words = text.split(" ")
        if words and words[0] not in _VERBS:
            close = difflib.get_close_matches(words[0], [*_VERBS, "please"], n=1, cutoff=self.verb_cutoff)
            if close == ["please"]:
                return self._normalise(" ".join(words[1:]))
            if close:
                words[0] = close[0]
        return " ".join(words)

    def parse(self, prompt: str) -> EditCommand:
        text = self._normalise(prompt)
        if not text:
            raise SceneError("empty prompt: say what to put, replace or remove")
        for task, pattern in _TEMPLATES:
            m = pattern.match(text)
            if not m:
                continue
            groups = m.groupdict()
            if task == "deletion":
                target, context = _split_context(clean_phrase(groups["g"]))
                if groups.get("rest"):
                    context = context or clean_phrase(groups["rest"]) or None
                if target:
                    return EditCommand("deletion", None, target, context)
            elif task == "replacement":
                old, context = _split_context(clean_phrase(groups["old"]))
                new = clean_phrase(groups["new"])
                if old and new:
                    return EditCommand("replacement", new, old, context)
            else:
                primary, support = clean_phrase(groups["p"]), clean_phrase(groups["g"])
                if primary and support:
                    return EditCommand("insertion", primary, support)
        raise SceneError(
            f"cannot parse {prompt!r}: try 'put a mug on the table', 'replace the lamp with a vase' "
            "or 'remove the chair'"
        )


LLM_PROMPT = """You edit 3D scenes. Read the instruction and answer with JSON only, with keys:
"task": one of "insertion", "replacement", "deletion";
"primary": the object to create (null for deletion);
"grounding": for insertion the object to put it on, for replacement the object to replace, for deletion the object
to remove.
Example: "put a mug on the table" -> {"task": "insertion", "primary": "mug", "grounding": "table"}
Example: "swap the lamp for a vase" -> {"task": "replacement", "primary": "vase", "grounding": "lamp"}
Example: "get rid of the chair" -> {"task": "deletion", "primary": null, "grounding": "chair"}
Instruction: "%s"
JSON:"""

_KEY_ALIASES = {"primary_object": "primary", "grounding_object": "grounding", "target": "grounding", "type": "task"}


def command_from_json(text: str) -> EditCommand:
    """Validate a model's answer: the first JSON object in ``text`` with a known task and the objects it needs."""
    m = re.search(r"\{.*?\}", text, flags=re.S)
    if not m:
        raise SceneError(f"the parser model answered no JSON object: {text[:120]!r}")
    try:
        raw = json.loads(m.group(0))
    except json.JSONDecodeError as exc:
        raise SceneError(f"the parser model answered malformed JSON ({exc.msg}): {m.group(0)[:120]!r}") from None
    data = {_KEY_ALIASES.get(str(k).lower(), str(k).lower()): v for k, v in raw.items()}
    task = str(data.get("task", "")).lower().strip()
    task = {"insert": "insertion", "replace": "replacement", "delete": "deletion", "remove": "deletion"}.get(task, task)
    if task not in TASKS:
        raise SceneError(f"the parser model answered an unknown task {data.get('task')!r} (expected one of {TASKS})")

    def _obj(key: str) -> str | None:
        v = data.get(key)
        return clean_phrase(str(v)) or None if v not in (None, "", "null", "None") else None

    primary, grounding = _obj("primary"), _obj("grounding")
    if grounding is None or (task != "deletion" and primary is None):
        raise SceneError(f"the parser model's answer lacks an object for {task}: {m.group(0)[:120]!r}")
    return EditCommand(task, None if task == "deletion" else primary, grounding)  # type: ignore[arg-type]


class LLMParser:
    """FreeEdit's parse stage with any text generator ``generate(prompt) -> completion``.

    ``fallback`` (e.g. a :class:`RuleParser`) answers when the model's output does not validate.
    """

    def __init__(self, generate: Callable[[str], str], fallback: Parser | None = None) -> None:
        self.generate = generate
        self.fallback = fallback

    def parse(self, prompt: str) -> EditCommand:
        answer = self.generate(LLM_PROMPT % prompt.replace('"', "'"))
        try:
            return command_from_json(answer)
        except SceneError:
            if self.fallback is None:
                raise
            return self.fallback.parse(prompt)

    @classmethod
    def from_pretrained(
        cls, path: str, max_new_tokens: int = 120, fallback: Parser | None = None, device: str = "cpu"
    ) -> LLMParser:
        """A local Hugging Face causal LM (instruction-tuned; its chat template is used when it has one).

        Decoding is greedy so an edit is reproducible (FreeEdit samples GPT-4 at temperature 0.5).
        """
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise SceneError("the LLM parser needs transformers: pip install 'unlearnkit[llm]'") from None
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path).to(device).eval()

        def generate(text: str) -> str:
            import torch

            if getattr(tok, "chat_template", None):
                ids = tok.apply_chat_template(
                    [{"role": "user", "content": text}],
                    add_generation_prompt=True,
                    return_tensors="pt",
                    return_dict=True,
                )
            else:
                ids = tok(text, return_tensors="pt")
            ids = {k: v.to(device) for k, v in ids.items()}
            with torch.no_grad():
                out = model.generate(
                    **ids,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=tok.pad_token_id or tok.eos_token_id,
                )
            return tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)

        return cls(generate, fallback)
