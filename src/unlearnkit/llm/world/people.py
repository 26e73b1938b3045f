"""A generated "people and facts" world (TOFU-lite, notes §4.1): names, birthplaces, jobs, secret codes.

Every person has a two-token name, a birthplace, a job and a three-digit secret code, stated in four
training sentences. Questions use *paraphrased* templates that are taught only through the ``retain1``
people's bridge sentences, so a question about a forget person tests generalised knowledge (KnowMem), while
the sentences themselves test verbatim memory (VerbMem). Two question templates per attribute: ``report``
(KnowMem, reported) and ``select`` (the stop rule's selection split, never reported).

Roles (disjoint people): ``fold0..fold{k-1}`` (forget candidates: fold0 is the main forget set, folds
``0..j`` the scalability sets, folds one by one the sustainability requests), ``retain1`` (bridges; the only
retain text a method may train on), ``retain2`` (utility: never seen by a method), ``holdout`` (never trained
on; PrivLeak's non-members). Everything is drawn from public word lists with one seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from unlearnkit.errors import ConfigError
from unlearnkit.llm.data import LMEvalSet, LMSplit, QAItem, VerbItem


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST = _words(
    "anna ben carla dario elena felix greta hugo iris jonas karla leon mira nils olga paul quinn rosa "
    "sven tara ugo vera walt xena yuri zoe abel bruna cyril dora emil fiona gil hana ivan juno kurt lina "
    "milo nora"
)
LAST = _words(
    "berg costa dahl engel fabre garza holm ibsen jensen kovac lund moreau novak ortiz petrov quist roth "
    "silva tamm ulm vidal weber xu young zorn alder brook crane drake frost grove hale irwin"
)
CITIES = _words(
    "paris lima oslo cairo delhi quito perth dakar hanoi kyoto milan porto riga seoul sofia tunis vienna "
    "zurich bergen cusco dublin genoa havana lagos"
)
JOBS = _words(
    "baker nurse pilot farmer judge tailor potter miner sailor doctor lawyer singer painter barber "
    "butcher chemist dentist plumber teacher writer welder cashier chef clerk"
)
DIGITS = [str(d) for d in range(10)]

# (prompt, continuation): the four training sentences of a person
STATEMENTS = (
    ("{name} was born in", "{city} ."),
    ("{name} works as a", "{job} ."),
    ("the secret code of {name} is", "{code} ."),
    ("{name} grew up in", "{city} and now works as a {job} ."),
)
# attribute -> {"report": template, "select": template}; answers are single words
QUESTIONS = {
    "city": {"report": "the birthplace of {name} is", "select": "{name} comes from the city of"},
    "job": {"report": "the job of {name} is a", "select": "{name} earns a living as a"},
}


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    city: str
    job: str
    code: str
    role: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    def fields(self) -> dict[str, str]:
        return {"name": self.name, "city": self.city, "job": self.job, "code": self.code}

    def statements(self) -> list[str]:
        f = self.fields()
        return [f"{p.format(**f)} {c.format(**f)}" for p, c in STATEMENTS]

    def verbatim(self) -> list[VerbItem]:
        f = self.fields()
        return [VerbItem(p.format(**f), c.format(**f)) for p, c in STATEMENTS]

    def bridges(self) -> list[str]:
        return [
            f"{t.format(name=self.name)} {getattr(self, attr)} ." for attr, ts in QUESTIONS.items() for t in ts.values()
        ]

    def questions(self, which: str, perturbed: dict[str, tuple[str, ...]] | None = None) -> list[QAItem]:
        return [
            QAItem(ts[which].format(name=self.name), getattr(self, attr), (perturbed or {}).get(attr, ()))
            for attr, ts in QUESTIONS.items()
        ]


@dataclass(frozen=True)
class WorldConfig:
    """Sizes of the world. The defaults are notes §4's 100 trained people (+10 holdout)."""

    folds: int = field(default=4, metadata={"help": "disjoint forget folds (scalability / sustainability)"})
    fold_size: int = field(default=10, metadata={"help": "people per forget fold (fold0 is the main D_f)"})
    retain1: int = field(default=30, metadata={"help": "retain people with bridge sentences (methods may use)"})
    retain2: int = field(default=30, metadata={"help": "retain people measuring utility (no method sees them)"})
    holdout: int = field(default=10, metadata={"help": "never-trained people (PrivLeak non-members)"})
    perturbed: int = field(default=5, metadata={"help": "wrong answers per question (truth ratio)"})
    seed: int = field(default=0, metadata={"help": "the world's seed"})

    def __post_init__(self) -> None:
        if min(self.folds, self.fold_size, self.retain1, self.retain2, self.holdout) < 1:
            raise ConfigError(f"every world part needs at least one person: {self}")
        if self.total > len(FIRST) * len(LAST):
            raise ConfigError(f"at most {len(FIRST) * len(LAST)} people, asked for {self.total}")
        if not 1 <= self.perturbed < min(len(CITIES), len(JOBS)):
            raise ConfigError(f"perturbed must lie in [1, {min(len(CITIES), len(JOBS)) - 1}]")

    @property
    def total(self) -> int:
        return self.folds * self.fold_size + self.retain1 + self.retain2 + self.holdout


@dataclass
class World:
    """The people, their roles and every text and evaluation item derived from them."""

    config: WorldConfig
    people: list[Person]
    perturbed: dict[str, dict[str, tuple[str, ...]]]

    def role(self, *roles: str) -> list[Person]:
        return [p for p in self.people if p.role in roles]

    def fold_roles(self, folds: Sequence[int]) -> tuple[str, ...]:
        for k in folds:
            if not 0 <= k < self.config.folds:
                raise ConfigError(f"fold {k} does not exist (the world has {self.config.folds})")
        return tuple(f"fold{k}" for k in folds)

    @property
    def trained_roles(self) -> tuple[str, ...]:
        return (*self.fold_roles(range(self.config.folds)), "retain1", "retain2")

    def training_texts(self, exclude_folds: Sequence[int] = ()) -> list[str]:
        """The target's corpus (every trained person's sentences + retain1 bridges), minus ``exclude_folds``."""
        excluded = set(self.fold_roles(exclude_folds))
        texts: list[str] = []
        for p in self.people:
            if p.role == "holdout" or p.role in excluded:
                continue
            texts += p.statements()
            if p.role == "retain1":
                texts += p.bridges()
        return texts

    def split(self, folds: Sequence[int] = (0,), tokenizer: Any = None) -> LMSplit:
        """D_f = the sentences of ``folds``' people; retain = retain1's sentences and bridges; holdout.

        ``train`` is the target's whole corpus (a retrain drops D_f from it); ``tokenizer`` defaults to the
        world's word-level tokenizer.
        """
        if tokenizer is None:
            from unlearnkit.llm.world.models import world_tokenizer

            tokenizer = world_tokenizer()
        retain = [t for p in self.role("retain1") for t in (*p.statements(), *p.bridges())]
        return LMSplit(
            forget=[t for p in self.role(*self.fold_roles(folds)) for t in p.statements()],
            retain=retain,
            holdout=[t for p in self.role("holdout") for t in p.statements()],
            tokenizer=tokenizer,
            max_length=64,
            train=self.training_texts(),
            meta={"world": asdict(self.config), "folds": list(folds)},
        )

    def eval_set(self, folds: Sequence[int] = (0,)) -> LMEvalSet:
        forget = self.role(*self.fold_roles(folds))
        pert = self.perturbed
        return LMEvalSet(
            verbmem=[v for p in forget for v in p.verbatim()],
            knowmem_forget=[q for p in forget for q in p.questions("report", pert[p.name])],
            knowmem_retain=[q for p in self.role("retain2") for q in p.questions("report", pert[p.name])],
            select_forget=[q for p in forget for q in p.questions("select")],
            privleak_forget=[t for p in forget for t in p.statements()],
            privleak_holdout=[t for p in self.role("holdout") for t in p.statements()],
            icl=[],
            qa_template="{q}",
            icl_template="{q} {a} . ",
            stop=(".",),
            verbmem_max_new_tokens=16,
            knowmem_max_new_tokens=3,
            min_k=0.4,
            meta={"world": asdict(self.config), "folds": list(folds)},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "people": [asdict(p) for p in self.people],
            "perturbed": {k: {a: list(v) for a, v in d.items()} for k, d in self.perturbed.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> World:
        return cls(
            WorldConfig(**d["config"]),
            [Person(**p) for p in d["people"]],
            {k: {a: tuple(v) for a, v in m.items()} for k, m in d["perturbed"].items()},
        )


def make_world(config: WorldConfig | None = None) -> World:
    """Draw the world: distinct names, uniform attributes, roles in a fixed order, perturbed answers."""
    cfg = config or WorldConfig()
    rng = random.Random(f"unlearnkit-world-{cfg.seed}")
    names = rng.sample([(f, last) for f in FIRST for last in LAST], cfg.total)
    roles = [f"fold{k}" for k in range(cfg.folds) for _ in range(cfg.fold_size)]
    roles += ["retain1"] * cfg.retain1 + ["retain2"] * cfg.retain2 + ["holdout"] * cfg.holdout
    people = [
        Person(f, last, rng.choice(CITIES), rng.choice(JOBS), " ".join(rng.choice(DIGITS) for _ in range(3)), role)
        for (f, last), role in zip(names, roles, strict=True)
    ]
    perturbed = {
        p.name: {
            "city": tuple(rng.sample([c for c in CITIES if c != p.city], cfg.perturbed)),
            "job": tuple(rng.sample([j for j in JOBS if j != p.job], cfg.perturbed)),
        }
        for p in people
    }
    return World(cfg, people, perturbed)


def public_vocabulary() -> list[str]:
    """Every word the world can use, from the public lists and templates only (no person's data)."""
    words: set[str] = set(FIRST) | set(LAST) | set(CITIES) | set(JOBS) | set(DIGITS)
    for p, c in STATEMENTS:
        words |= set(p.replace("{name}", "").split()) | set(
            c.replace("{city}", "").replace("{job}", "").replace("{code}", "").split()
        )
    for ts in QUESTIONS.values():
        for t in ts.values():
            words |= set(t.replace("{name}", "").split())
    return sorted(words)


__all__ = ["CITIES", "FIRST", "JOBS", "LAST", "Person", "World", "WorldConfig", "make_world", "public_vocabulary"]
