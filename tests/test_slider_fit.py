"""Fitting the sliders and their per-face editors on a tiny model (the DCGAN's z and the style-based
generator's W), and the report on what they move."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gan import Faces
from gan.attributes import AttributeSet
from gan.editors import FaceEditor
from gan.faces import ATTRIBUTES_FILE, GENERATOR_FILE
from tests.conftest import tiny_model
from train.attributes import main as attributes_main
from train.editing import Hold, Weights, held_weights
from train.slider_report import PairMeasure
from train.slider_specs import SPEC, SPECS

TINY = ["--samples", "300", "--steps", "2", "--calibration", "8"]


@pytest.mark.parametrize("kind", ["dcgan", "style"])
def test_fit_then_report_on_a_tiny_model(data_root, tmp_path, kind):
    folder = tiny_model(tmp_path / "model", kind)
    assert attributes_main(["--out", str(folder), "--cache", str(tmp_path / "cache"), *TINY]) == 0
    faces = Faces.load(folder / GENERATOR_FILE)
    assert faces.attributes == [s.name for s in SPECS]
    for s, a in zip(SPECS, faces.sliders, strict=True):
        assert (a.editor is not None) == s.editor and (a.editor is None or a.editor.dim == faces.latent_dim)
        assert a.region == (s.region if s.regional else None), f"{s.name}: drawn inside its region as specified"
    edited = faces.render([1, 2], edits={"smiling": 2.0, "glasses": "on", "beard": 3.0})
    assert edited.shape == (2, 64, 64, 3)
    faces.sliders["bald"].description = "an old text"  # a kept slider's text is still the specs' after a refit
    faces.sliders.save(folder / ATTRIBUTES_FILE)
    only = ["--only", "smiling,glasses", "--steps", "3"]  # refit two, keep the others as installed
    assert attributes_main(["--out", str(folder), "--cache", str(tmp_path / "cache"), *TINY, *only]) == 0
    refit = Faces.load(folder / GENERATOR_FILE)
    for before, after in zip(faces.sliders, refit.sliders, strict=True):
        tensors = [(a.editor.state_dict().values() if a.editor is not None else ()) for a in (before, after)]
        same = all(torch.equal(x, y) for x, y in zip(*tensors, strict=True))
        assert same == (before.name not in ("smiling", "glasses")), before.name
    assert refit.sliders.fingerprint != faces.sliders.fingerprint
    assert refit.attribute_info("bald")["description"] == SPEC["bald"].description
    report = tmp_path / "docs" / "sliders.md"
    args = ["--out", str(folder), "--report", "--report-file", str(report), "--seeds", "8", "--identity-seeds", "4"]
    assert attributes_main([*args, "--data", str(data_root)]) == 0
    text = report.read_text()
    assert "| smiling | slider | Smiling + |" in text and "## Still the same person?" in text
    regional = ", ".join(f"{s.name}: {s.region}" for s in SPECS if s.regional)
    assert f"A regional slider ({regional})" in text and "beard: jaw" in regional
    assert "`smiling:+2 glasses:on`" in text and "Frechet distance to the holdout" in text
    pairs = len(SPECS) * (len(SPECS) - 1) // 2
    assert "## Pairs of edits" in text and f"of {pairs} pairs compose" in text and "| smiling + glasses |" in text
    for name in (*faces.attributes, "combo"):
        assert (report.parent / "sliders" / f"{name}.png").stat().st_size > 0


def test_report_without_sliders_is_one_clear_error(tmp_path, capsys):
    folder = tiny_model(tmp_path / "model", "dcgan")
    assert attributes_main(["--out", str(folder), "--report"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no sliders in") and len(err.strip().splitlines()) == 1
    assert not (folder / ATTRIBUTES_FILE).exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--steps", "0"], "--steps must be at least 1"),
        (["--samples", "5"], "--samples must be at least 100"),
        (["--seeds", "10", "--identity-seeds", "11"], "--identity-seeds must be from 1 to --seeds (10)"),
        (["--only", "smiling,wings"], "--only: no slider named wings"),
        (["--only", "smiling"], "--only keeps the installed sliders, but smiling, glasses"),
    ],
)
def test_bad_fitting_flags_are_one_clear_error(tmp_path, capsys, flags, message):
    folder = tiny_model(tmp_path / "model", "dcgan")
    assert attributes_main(["--out", str(folder), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (folder / ATTRIBUTES_FILE).exists()


def test_an_untrained_editor_edits_as_the_global_direction(faces: Faces):
    """Fitting starts from InterFaceGAN's direction: a fresh editor's correction is zero."""
    z = faces.latent([4, 5])
    for name, value in (("smiling", 2.5), ("glasses", "on")):
        a = faces.sliders[name]
        plain = dataclasses.replace(a, editor=None)
        fresh = dataclasses.replace(a, editor=FaceEditor(faces.latent_dim, 8))
        assert torch.equal(AttributeSet([fresh]).apply(z, {name: value}), AttributeSet([plain]).apply(z, {name: value}))


def test_the_pixel_hold_weighs_the_region_and_the_eyes_as_asked():
    outside, band, eye = (0, 60), (30, 32), (30, 22)  # (y, x): the chin, the band between the eyes, an eye
    plain = held_weights("eyes", Weights(inside=0.25))[0, 0]
    assert [plain[p].item() for p in (outside, band, eye)] == [1.0, 0.25, 0.25]
    eyes_held = held_weights("eyes", Weights(inside=0.25, eyes=3.0))[0, 0]
    assert [eyes_held[p].item() for p in (outside, band, eye)] == [1.0, 0.25, 3.0]


def test_an_edit_is_held_to_the_attributes_it_must_keep_and_not_its_own():
    names = ["Smiling", "Male", "Young", "Bangs", "Chubby"]
    weights = Weights(keep=1.0, keep_watched=10.0, keep_base=100.0)
    hold = Hold.of(names, "Smiling", "mouth", ("Bangs",), ("Male", "Young"), ("Male",), (), weights)
    assert hold.attributes.tolist() == [0.0, 111.0, 11.0, 0.0, 1.0]
    z, x = torch.zeros(1, 4), torch.zeros(1, 3, 64, 64)
    p0 = torch.full((1, 5), 0.5)
    for moved, cost in ((0, 0.0), (3, 0.0), (1, 111.0), (4, 1.0)):  # own, free, base, any other: 0 -> 1
        logits = torch.zeros(1, 5)
        logits[0, moved] = 50.0
        assert hold.cost(z, x, p0, z, x, logits).item() == pytest.approx(cost * 0.5 / 5, rel=1e-4)


def test_a_loose_attribute_moves_its_slack_for_free_and_pays_past_it():
    names = ["No_Beard", "Male", "Young"]
    hold = Hold.of(
        names,
        "No_Beard",
        "lower_face",
        (),
        ("Male", "Young"),
        ("Male", "Young"),
        ("Male",),
        Weights(keep=1.0, keep_watched=0.0, keep_base=0.0, slack=0.3),
    )
    assert hold.slack.tolist() == pytest.approx([0.0, 0.3, 0.0])
    z, x = torch.zeros(1, 4), torch.zeros(1, 3, 64, 64)
    p0 = torch.full((1, 3), 0.5)
    for moved, to, cost in ((1, 0.7, 0.0), (1, 0.9, 0.1), (2, 0.7, 0.2)):  # Male within its slack, past it; Young
        logits = torch.zeros(1, 3)
        logits[0, moved] = torch.logit(torch.tensor(to))
        assert hold.cost(z, x, p0, z, x, logits).item() == pytest.approx(cost / 3, abs=1e-5)


def test_a_trading_edit_pays_for_its_loose_attributes_change_with_its_own_gain():
    names = ["Gray_Hair", "Male", "Young"]
    weights = Weights(keep=1.0, keep_watched=0.0, keep_base=0.0, gain=10.0, trade=0.5)
    hold = Hold.of(names, "Gray_Hair", "scalp", (), ("Male", "Young"), ("Male", "Young"), ("Young",), weights)
    assert hold.loose.tolist() == [0.0, 0.0, 1.0]
    p0 = torch.tensor([[0.1, 0.5, 0.9]] * 3)
    logits = torch.logit(torch.tensor([[0.7, 0.5, 0.5], [0.1, 0.5, 0.5], [0.7, 0.5, 0.9]]))  # gray for age; age; gray
    side = torch.ones(3)
    assert hold.traded(p0, logits, 0, side).tolist() == pytest.approx([10 * (0.5 * 0.4 - 0.6), 2.0, -6.0], abs=1e-5)
    assert hold.traded(p0, logits, 0, -side)[2].item() == pytest.approx(6.0, abs=1e-5)  # asked for less: a loss
    z, x = torch.zeros(3, 4), torch.zeros(3, 3, 64, 64)
    assert hold.cost(z, x, p0, z, x, logits).tolist() == pytest.approx([0.0] * 3, abs=1e-6)  # Young not charged twice


def test_a_pair_of_edits_says_what_it_misses():
    missed = PairMeasure(
        "glasses", "age", own_alone=(0.75, 0.58), own_both=(0.74, 0.40), same_alone=(0.91, 0.95), same_both=0.80
    )
    assert missed.misses() == ["age fades", "the person changes"] and not missed.composes()
    person = PairMeasure("smiling", "hat", (0.81, 0.90), (0.80, 0.90), (0.98, 0.98), 0.90)
    assert person.misses() == ["the person changes"]
    kept = PairMeasure("smiling", "bangs", (0.81, 0.56), (0.79, 0.57), (0.99, 1.00), 0.97)
    assert kept.misses() == [] and kept.composes()
