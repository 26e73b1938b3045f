"""Parsing prompts into FreeEdit's {task, primary, grounding}, and the stages' pluggable alternatives."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unlearnkit.scene import ClipGrounder, LabelGrounder, LLMParser, RuleParser, SceneError
from unlearnkit.scene.parse import EditCommand, command_from_json
from unlearnkit.scene.scale import paper_ratio

PARAPHRASES = [
    ("put a mug on the table", ("insertion", "mug", "table")),
    ("Place the mug onto the table.", ("insertion", "mug", "table")),
    ("please add a coffee mug on top of the dining table", ("insertion", "coffee mug", "dining table")),
    ("could you insert a vase on the shelf?", ("insertion", "vase", "shelf")),
    ("I'd like you to set a lamp on the side table", ("insertion", "lamp", "side table")),
    ("make the room cosier", None),  # no template: a clear error, not a guess
    ("i want a teddy bear on the sofa", ("insertion", "teddy bear", "sofa")),
    ("there should be a plant on the desk", ("insertion", "plant", "desk")),
    ("the table needs a bowl", ("insertion", "bowl", "table")),
    ("put on the shelf a book", ("insertion", "book", "shelf")),
    ("plase put a mug on the table", ("insertion", "mug", "table")),  # typo in the verb
    ("replace the lamp with a vase", ("replacement", "vase", "lamp")),
    ("swap the chair for a sofa", ("replacement", "sofa", "chair")),
    ("substitute a vase for the lamp", ("replacement", "vase", "lamp")),
    ("turn the mug into a cup", ("replacement", "cup", "mug")),
    ("put a vase where the lamp is", ("replacement", "vase", "lamp")),
    ("instead of the lamp, put a plant", ("replacement", "plant", "lamp")),
    ("the mug should be replaced with a bowl", ("replacement", "bowl", "mug")),
    ("remove the chair", ("deletion", None, "chair")),
    ("Delete the mug!", ("deletion", None, "mug")),
    ("get rid of the lamp", ("deletion", None, "lamp")),
    ("take away the vase", ("deletion", None, "vase")),
    ("take the vase off the shelf", ("deletion", None, "vase")),
    ("the sofa has to go", ("deletion", None, "sofa")),
    ("remvoe the book", ("deletion", None, "book")),  # typo
    ("throw away the bowl please", ("deletion", None, "bowl")),
]


@pytest.mark.parametrize(("prompt", "want"), PARAPHRASES)
def test_rule_parser_paraphrases(prompt, want):
    if want is None:
        with pytest.raises(SceneError, match="cannot parse"):
            RuleParser().parse(prompt)
        return
    cmd = RuleParser().parse(prompt)
    assert (cmd.task, cmd.primary, cmd.grounding) == want


def test_rule_parser_keeps_location_context():
    assert RuleParser().parse("remove the mug from the shelf") == EditCommand("deletion", None, "mug", "shelf")
    assert RuleParser().parse("take the vase off the shelf").context == "shelf"
    with pytest.raises(SceneError, match="empty prompt"):
        RuleParser().parse("  ?! ")


def test_llm_parser_validates_the_models_json():
    answers = iter(
        [
            'Sure! {"task": "insertion", "primary": "a red mug", "grounding": "the table"} done',
            '{"task": "replace", "primary_object": "vase", "grounding_object": "lamp"}',
            "I cannot help with that.",
        ]
    )
    seen = []

    def generate(text):
        seen.append(text)
        return next(answers)

    p = LLMParser(generate, fallback=RuleParser())
    assert p.parse("whatever") == EditCommand("insertion", "red mug", "table")
    assert p.parse("x") == EditCommand("replacement", "vase", "lamp")
    assert p.parse("remove the chair") == EditCommand("deletion", None, "chair")  # fell back to the rules
    assert '"remove the chair"' in seen[-1] and '"task"' in seen[-1]
    with pytest.raises(SceneError, match="no JSON"):
        LLMParser(lambda _: "nope").parse("x")
    for bad, msg in [
        ('{"task": "explode", "grounding": "x"}', "unknown task"),
        ('{"task": "insertion", "primary": null, "grounding": "table"}', "lacks an object"),
        ('{"task": "deletion", "grounding": }', "malformed JSON"),
    ]:
        with pytest.raises(SceneError, match=msg):
            command_from_json(bad)


def test_label_grounder_synonyms_head_nouns_and_support_choice(demo):
    g = LabelGrounder()
    assert g.ground("dining table", demo, "support") == "table_0"
    assert g.ground("bookcase", demo, "support") == "shelf_0"
    assert g.ground("couch", demo, "support") == "sofa_0"
    assert g.ground("red vase", demo, "target", context="shelf") == "vase_0"
    assert g.ground("nightstand", demo, "support") == "side_table_0"
    assert g.ground("book", demo, "support") in ("book_0", "book_1")  # a support may be either: largest top


def test_clip_grounder_picks_the_best_cosine(demo):
    vocab = {"mug": 0, "lamp": 1, "vase": 2}

    def embed_text(phrases):
        out = np.zeros((len(phrases), 3))
        for i, p in enumerate(phrases):
            out[i, vocab[p]] = 1.0
        return out

    feats = {"lamp_0": np.array([0.1, 0.9, 0.2]), "vase_0": np.array([0.0, 0.3, 0.9])}
    g = ClipGrounder(embed_text, features=feats)
    assert g.ground("lamp", demo, "target") == "lamp_0"
    assert g.ground("vase", demo, "target") == "vase_0"
    with pytest.raises(SceneError, match="ambiguous"):
        ClipGrounder(embed_text, features=feats, margin=0.9).ground("lamp", demo, "target")
    calls = []
    lazy = ClipGrounder(embed_text, embed_object=lambda o: calls.append(o.name) or np.array([1.0, 0, 0]))
    lazy.ground("mug", demo, "support")
    assert len(calls) == len(demo)


def test_paper_scale_ratio():
    assert paper_ratio([0.3, 0.157, 0.187]) == 0.15  # floored to 0.01, > 0.22 dropped, minimum kept
    assert paper_ratio([]) == 0.12 and paper_ratio([0.5, 0.9]) == 0.12  # FreeEdit's fallback
    assert paper_ratio([0.2299]) == 0.22


def test_image_ratio_scale_uses_detected_widths(demo, library):
    from unlearnkit.scene import ImageRatioScale

    boxes = [{"table": (0, 0, 100, 50), "mug": (10, 10, 20, 20)}, {"table": (0, 0, 100, 50)}]
    est = ImageRatioScale(lambda prompt, n: list(range(len(boxes))), lambda img, names: boxes[img])
    _, mug = library.make("mug")
    factor = est.scale("mug", mug, demo["table_0"])
    ext = demo["table_0"].mesh.extents
    assert factor == pytest.approx(0.1 * min(ext[0] / mug.extents[0], ext[1] / mug.extents[1]))
    assert json.dumps(est.ratios("mug", demo["table_0"])) == "[0.1]"


def test_packaged_meshes_when_pybullet_is_installed(demo):
    pytest.importorskip("pybullet_data")
    from unlearnkit.scene import MeshLibrary, SceneEditor

    lib = MeshLibrary(use_packaged=True)
    label, mug = lib.make("coffee mug")
    assert label == "mug" and len(mug.faces) == 864  # pybullet_data's objects/mug.obj, not the primitive
    assert abs(max(mug.extents) - max(lib.size_prior("mug"))) < 1e-9 and abs(mug.bounds[0, 2]) < 1e-12
    _, teddy = lib.make("teddy bear")
    assert np.argmax(teddy.extents) == 2  # turned upright
    res = SceneEditor(source=lib).edit(demo, "put a duck on the coffee table")
    assert res.placement.support == "coffee_table_0" and res.placement.penetration == 0.0
