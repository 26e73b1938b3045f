"""Facts to delete from a language model (Patil et al., arXiv 2309.17410, §3.1): a prompt and its answer.

A :class:`Fact` is a prompt ("anna berg was born in"), its answer ("paris"; attacks look for its first token, as
the paper filters to single-token answers), the subject (ROME's key sits on its last token), the *attack*
paraphrases (never used in the edit: the blackbox Input-Rephrasing attack samples on them), the *edit*
paraphrases (the Input-Rephrasing defense erases on them), neighbourhood facts (same relation and object, other
subjects: Neighbourhood ΔAcc) and a false answer (Error Injection's target). A :class:`FactSet` adds random
other facts (Random ΔAcc; constrained fine-tuning's KL anchor).

Sources: the generated world (:func:`world_facts`: birthplace, job, first digit of the secret code; the attack
paraphrases are the world's question templates, which no edit uses), a user's JSONL (:func:`read_facts`), and
CounterFact / zsRE records in ROME's schemas (:func:`counterfact_facts`, :func:`zsre_facts`, downloaded only by
:func:`load_counterfact` / :func:`load_zsre`, never in tests).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from unlearnkit.errors import ConfigError, DataError
from unlearnkit.llm.data import QAItem, jsonl_records


@dataclass(frozen=True)
class Fact:
    """One piece of information to delete, with what the attacks and the specificity metrics need."""

    prompt: str
    answer: str
    subject: str = ""
    paraphrases: tuple[str, ...] = ()
    edit_paraphrases: tuple[str, ...] = ()
    neighbours: tuple[QAItem, ...] = ()
    target_new: str = ""
    relation: str = ""

    def __post_init__(self) -> None:
        if not self.prompt.strip() or not self.answer.strip():
            raise DataError("a fact needs a non-empty prompt and answer")
        if self.subject and self.subject not in self.prompt:
            raise DataError(f"subject {self.subject!r} does not occur in prompt {self.prompt!r}")
        for p in self.edit_paraphrases:
            if self.subject and self.subject not in p:
                raise DataError(f"subject {self.subject!r} does not occur in edit paraphrase {p!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["neighbours"] = [{"prompt": q.question, "answer": q.answer} for q in self.neighbours]
        return d


@dataclass
class FactSet:
    """Facts to delete (one at a time) and random other facts the model knows (Random ΔAcc, KL anchors)."""

    facts: list[Fact]
    retain: list[QAItem] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.facts:
            raise DataError("no facts to delete")


# -- the generated world ---------------------------------------------------------------------------------------
# attribute -> (edit prompt, edit paraphrases for the Input-Rephrasing defense); the attack paraphrases are the
# world's question templates (QUESTIONS), taught only through retain1's bridges and never used in an edit
WORLD_RELATIONS = {
    "city": ("{name} was born in", ("{name} grew up in",)),
    "job": ("{name} works as a", ("{name} grew up in {city} and now works as a",)),
    "code": ("the secret code of {name} is", ()),
}


def _answer(person: Any, attr: str) -> str:
    return person.code.split()[0] if attr == "code" else getattr(person, attr)


def world_facts(
    world: Any,
    roles: Sequence[str] = ("fold0",),
    attributes: Sequence[str] = ("city", "job"),
    *,
    neighbours: int = 10,
    retain_roles: Sequence[str] = ("retain2",),
) -> FactSet:
    """The world's facts about ``roles``' people; neighbours and random facts from other trained people.

    ``code`` facts use the first digit of the secret code (single-token answers, as in the paper) and have no
    paraphrases. Neighbours of a birthplace fact are other trained people born in the same city (asked with the
    same prompt); random facts are every ``retain_roles`` person's facts.
    """
    from unlearnkit.llm.world.people import QUESTIONS

    unknown = [a for a in attributes if a not in WORLD_RELATIONS]
    if unknown:
        raise ConfigError(f"unknown world attribute(s) {unknown}; known: {', '.join(WORLD_RELATIONS)}")
    others = world.role("retain1", "retain2")
    facts: list[Fact] = []
    for p in world.role(*roles):
        f = p.fields()
        for attr in attributes:
            prompt, edit_paras = WORLD_RELATIONS[attr]
            answer = _answer(p, attr)
            attack = tuple(t.format(**f) for t in QUESTIONS[attr].values()) if attr in QUESTIONS else ()
            near = tuple(QAItem(prompt.format(**o.fields()), answer) for o in others if _answer(o, attr) == answer)[
                :neighbours
            ]
            wrong = world.perturbed[p.name][attr][0] if attr in world.perturbed[p.name] else str((int(answer) + 5) % 10)
            facts.append(
                Fact(
                    prompt=prompt.format(**f),
                    answer=answer,
                    subject=p.name,
                    paraphrases=attack,
                    edit_paraphrases=tuple(t.format(**f) for t in edit_paras),
                    neighbours=near,
                    target_new=wrong,
                    relation=attr,
                )
            )
    retain = [
        QAItem(WORLD_RELATIONS[attr][0].format(**o.fields()), _answer(o, attr))
        for o in world.role(*retain_roles)
        for attr in attributes
    ]
    return FactSet(facts, retain, {"source": "world", "roles": list(roles), "attributes": list(attributes)})


# -- a user's JSONL ------------------------------------------------------------------------------------------------
def _strings(value: Any, where: str, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{where}: {name!r} must be a list of strings")
    return tuple(value)


def fact_from_dict(row: dict[str, Any], where: str = "fact") -> Fact:
    """A :class:`Fact` from ``{"prompt", "answer", "subject"?, "paraphrases"?, "edit_paraphrases"?,
    "neighbours"?: [{"prompt", "answer"}], "target_new"?, "relation"?}``."""
    if not isinstance(row, dict) or not isinstance(row.get("prompt"), str) or not isinstance(row.get("answer"), str):
        raise DataError(f"{where}: expected an object with string 'prompt' and 'answer'")
    unknown = sorted(set(row) - {f for f in Fact.__dataclass_fields__})
    if unknown:
        raise DataError(f"{where}: unknown field(s) {', '.join(unknown)}")
    near = row.get("neighbours") or []
    if not isinstance(near, list) or not all(
        isinstance(n, dict) and isinstance(n.get("prompt"), str) and isinstance(n.get("answer"), str) for n in near
    ):
        raise DataError(f"{where}: 'neighbours' must be a list of {{'prompt', 'answer'}} objects")
    try:
        return Fact(
            prompt=row["prompt"],
            answer=row["answer"],
            subject=str(row.get("subject") or ""),
            paraphrases=_strings(row.get("paraphrases"), where, "paraphrases"),
            edit_paraphrases=_strings(row.get("edit_paraphrases"), where, "edit_paraphrases"),
            neighbours=tuple(QAItem(n["prompt"], n["answer"]) for n in near),
            target_new=str(row.get("target_new") or ""),
            relation=str(row.get("relation") or ""),
        )
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None


def read_facts(path: str | Path, retain: str | Path | None = None) -> FactSet:
    """Facts from a ``.jsonl`` file (one :func:`fact_from_dict` object per line); random facts from ``retain``
    (``.jsonl`` of ``{"prompt", "answer"}``), else none."""
    path = Path(path)
    if not path.is_file() or path.suffix != ".jsonl":
        raise DataError(f"{path}: expected an existing .jsonl file of facts")
    facts = [fact_from_dict(row, f"{path}:{n}") for n, row in jsonl_records(path)]
    if not facts:
        raise DataError(f"{path}: no facts")
    others: list[QAItem] = []
    if retain is not None:
        others = [QAItem(f.prompt, f.answer) for f in read_facts(retain).facts]
    return FactSet(facts, others, {"source": "file", "path": str(path), "retain": str(retain or "")})


# -- CounterFact and zsRE (ROME's JSON schemas) ----------------------------------------------------------------------
def counterfact_facts(records: Iterable[dict[str, Any]], limit: int | None = None) -> list[Fact]:
    """CounterFact records (``requested_rewrite`` with a ``{}`` subject slot, ``paraphrase_prompts``,
    ``neighborhood_prompts``; ROME's ``counterfact.json``) → facts to delete (the true target)."""
    out = []
    for r in records:
        rw = r["requested_rewrite"]
        subject, true = rw["subject"], rw["target_true"]["str"]
        paras = tuple(r.get("paraphrase_prompts") or ())
        out.append(
            Fact(
                prompt=rw["prompt"].format(subject),
                answer=true,
                subject=subject,
                paraphrases=paras[len(paras) // 2 :],
                edit_paraphrases=paras[: len(paras) // 2],
                neighbours=tuple(QAItem(p, true) for p in r.get("neighborhood_prompts") or ()),
                target_new=rw["target_new"]["str"],
                relation=str(rw.get("relation_id", "")),
            )
        )
        if limit is not None and len(out) >= limit:
            break
    return out


def zsre_facts(records: Iterable[dict[str, Any]], limit: int | None = None) -> list[Fact]:
    """zsRE records in ROME's ``zsre_mem.json`` schema (``src``, ``subject``, ``answers``, ``rephrase``, ``alt``)."""
    out = []
    for r in records:
        rephrase = r.get("rephrase")
        out.append(
            Fact(
                prompt=r["src"],
                answer=r["answers"][0],
                subject=r["subject"] if r["subject"] in r["src"] else "",
                paraphrases=(rephrase,) if rephrase else (),
                target_new=str(r.get("alt") or ""),
            )
        )
        if limit is not None and len(out) >= limit:
            break
    return out


def _dataset(name: str, split: str) -> Any:
    try:
        import datasets
    except ImportError:
        raise ConfigError(
            "CounterFact/zsRE loaders need the datasets package: pip install 'unlearnkit[llm-data]'"
        ) from None
    return datasets.load_dataset(name, split=split)


def load_counterfact(name: str = "azhx/counterfact", split: str = "train", limit: int | None = 700) -> FactSet:
    """CounterFact from the Hub (a user-side loader: it downloads); random facts = other records' true facts."""
    facts = counterfact_facts(_dataset(name, split), None if limit is None else 2 * limit)
    head, rest = facts[:limit], facts[limit if limit is not None else len(facts) :]
    return FactSet(head, [QAItem(f.prompt, f.answer) for f in rest[:100]], {"source": name, "split": split})


def load_zsre(name: str, split: str = "train", limit: int | None = 700) -> FactSet:
    """zsRE in ROME's schema from the Hub or a local dataset directory ``name`` (a user-side loader)."""
    facts = zsre_facts(_dataset(name, split), None if limit is None else 2 * limit)
    head, rest = facts[:limit], facts[limit if limit is not None else len(facts) :]
    return FactSet(head, [QAItem(f.prompt, f.answer) for f in rest[:100]], {"source": name, "split": split})


__all__ = [
    "WORLD_RELATIONS",
    "Fact",
    "FactSet",
    "counterfact_facts",
    "fact_from_dict",
    "load_counterfact",
    "load_zsre",
    "read_facts",
    "world_facts",
    "zsre_facts",
]
