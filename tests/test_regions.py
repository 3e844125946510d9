"""Regional sliders: an edit drawn inside its part of the face only (gan/regions.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from gan import Faces, regions
from gan.attributes import AttributeSet
from gan.checkpoint import CheckpointError
from gan.regions import DRAW_ORDER, REGION_NAMES, drawing, drawing_width, joined, split
from tests.conftest import tiny_model, with_sliders

UNTOUCHED_ROWS = slice(
    0, 16
)  # far above the lower face's box (y 36..64), its feathered edge and the last layers' reach


def test_a_regional_slider_changes_only_its_region(regional_faces: Faces):
    seeds = list(range(8))
    plain, bearded = regional_faces.render(seeds), regional_faces.render(seeds, edits={"beard": 3.0})
    assert np.array_equal(bearded[:, UNTOUCHED_ROWS], plain[:, UNTOUCHED_ROWS]), "the eyes, brows and hair stay"
    lower = np.abs(bearded[:, 44:].astype(int) - plain[:, 44:]).mean()
    assert lower > 10, f"the lower face changes (mean {lower:.1f} of 255)"
    whole = regional_faces.decode(regional_faces.sliders.apply(regional_faces.latent(seeds), {"beard": 3.0}))
    assert np.abs(whole[:, UNTOUCHED_ROWS].astype(int) - plain[:, UNTOUCHED_ROWS]).mean() > 2, (
        "the latent edit alone would"
    )


def test_other_edits_stay_whole_face_and_compose_with_a_regional_one(regional_faces: Faces):
    seeds = list(range(4))
    z = regional_faces.latent(seeds)
    rows = regional_faces.edit(z, {"smiling": 2.0, "glasses": "on"})
    assert rows.shape == (4, drawing_width(regional_faces.latent_dim)) and not rows[:, -len(REGION_NAMES) :].any()
    as_latents = regional_faces.decode(regional_faces.sliders.apply(z, {"smiling": 2.0, "glasses": "on"}))
    assert np.array_equal(regional_faces.decode(rows), as_latents), "a drawing without regions is its edited latent"
    both = regional_faces.render(seeds, edits={"glasses": "on", "beard": 3.0})
    glasses = regional_faces.render(seeds, edits={"glasses": "on"})
    assert np.array_equal(both[:, UNTOUCHED_ROWS], glasses[:, UNTOUCHED_ROWS]), "outside the beard: the glasses face"


def test_two_regional_edits_each_keep_a_latent_of_their_own(regional_faces: Faces):
    seeds, edits = list(range(4)), {"smiling": 2.0, "gray_hair": 2.0, "beard": 2.0, "makeup": 2.0}
    z = regional_faces.latent(seeds)
    sliders = regional_faces.sliders
    drawn = sliders.drawn(edits)
    base, layers, weights = split(regional_faces.edit(z, edits), regional_faces.latent_dim)
    assert torch.equal(base, sliders.apply(z, {"smiling": drawn["smiling"]})), "whole-face edits only"
    for region, names in (("jaw", ["beard"]), ("scalp", ["gray_hair"]), ("lids_lips", ["makeup"])):
        r = REGION_NAMES.index(region)
        own = sliders._made(z, {n: drawn[n] for n in ["smiling", *names]})
        assert torch.equal(layers[:, r], own) and (weights[:, r] == 1).all(), f"{region}: its own edit, none other"
    others = [r for r, name in enumerate(REGION_NAMES) if name not in ("jaw", "scalp", "lids_lips")]
    assert not weights[:, others].any() and all(torch.equal(layers[:, r], base) for r in others)
    three = regional_faces.decode(regional_faces.edit(z, edits)).astype(int)
    makeup = regional_faces.decode(drawing(base, {"lids_lips": layers[:, REGION_NAMES.index("lids_lips")]}))
    eyes, scalp = np.s_[:, 22:30, 20:44], np.s_[:, :10]
    assert np.abs(three[eyes] - makeup[eyes]).mean() < 1, "the lids as makeup alone draws them over the base"
    assert np.abs(three[scalp] - makeup[scalp]).mean() > 10, "the gray hair drawn above them"


# as shipped: the lips blended later; an 8 px jaw's edge, blended with the lips at 8 px, reaches the mouth a little
@pytest.mark.parametrize("lips_px, jaw_px, near", [(16, 8, 1.5), (8, 8, 3), (16, 16, 1.5)])
def test_where_two_regions_overlap_the_later_one_is_drawn(
    regional_faces: Faces, monkeypatch, lips_px: int, jaw_px: int, near: float
):
    assert sorted(DRAW_ORDER) == sorted(REGION_NAMES), "every region is drawn, once"
    assert DRAW_ORDER.index("lids_lips") < DRAW_ORDER.index("jaw"), "a beard over the lips' makeup"
    monkeypatch.setitem(regions.BLEND_PX, "lids_lips", lips_px)
    monkeypatch.setitem(regions.BLEND_PX, "jaw", jaw_px)
    z, lips, beard = (regional_faces.latent(seeds) for seeds in ([3, 4], [5, 6], [7, 8]))
    mouth = np.s_[:, 46:52, 28:36]  # inside both the jaw and the lips
    both = regional_faces.decode(drawing(z, {"lids_lips": lips, "jaw": beard})).astype(int)
    assert np.abs(both[mouth] - regional_faces.decode(drawing(z, {"jaw": beard}))[mouth]).mean() < near
    assert np.abs(both[mouth] - regional_faces.decode(drawing(z, {"lids_lips": lips}))[mouth]).mean() > 10


def test_latents_and_drawings_decode_together(regional_faces: Faces):
    z = regional_faces.latent([1, 2, 3])
    rows = regional_faces.edit(z, {"beard": 2.0})
    both = regional_faces.decode(joined([z[:1], rows[1:]]))
    assert np.array_equal(both[:1], regional_faces.decode(z[:1]))
    assert np.array_equal(both[1:], regional_faces.decode(rows)[1:])
    with pytest.raises(ValueError, match="neither latents nor their drawings"):
        joined([z, torch.zeros(1, 7)])
    with pytest.raises(ValueError, match=r"unknown regions \['elbows'\]"):
        drawing(z, {"elbows": z})
    wide = drawing_width(regional_faces.latent_dim)
    with pytest.raises(ValueError, match=rf"shape \(N, 100\) or \(N, {wide}\)"):
        regional_faces.decode(torch.zeros(2, 150))


@pytest.mark.parametrize("bfloat16", [False, True])
def test_a_regions_features_are_the_generators_own_up_to_rounding(faces: Faces, monkeypatch, bfloat16: bool):
    monkeypatch.setattr(regions, "bfloat16_units", lambda: bfloat16)
    z, net = faces.latent(list(range(16))), faces.generator.net
    with torch.inference_mode():
        for blocks in (1, 2, 3):  # to 4, 8 and 16 px: two blocks as matrix products, one as it is
            exact, fast = net[:blocks](z.reshape(16, -1, 1, 1)), regions._features(net[:blocks], z)
            assert fast.shape == exact.shape and fast.dtype == torch.float32
            error = ((fast - exact).abs().max() / exact.abs().max()).item()
            assert error < (0.01 if bfloat16 else 1e-5), f"{blocks} blocks: {error:.2g} of the largest feature"


def test_a_regional_edit_is_drawn_within_a_grey_level_or_two_of_the_exact_blend(regional_faces: Faces, monkeypatch):
    rows = regional_faces.edit(regional_faces.latent(list(range(8))), {"beard": 3.0, "gray_hair": 2.0})
    drawn = regional_faces.decode(rows).astype(int)
    monkeypatch.setattr(regions, "_features", lambda blocks, z: blocks(z.reshape(len(z), -1, 1, 1)))
    exact = regional_faces.decode(rows).astype(int)
    off = np.abs(drawn - exact)
    assert off.max() <= 3 and (off > 1).mean() < 0.005, f"off by {np.bincount(off.ravel())} pixels per grey level"
    monkeypatch.undo()
    bf16 = with_sliders(Faces.load(precision="bf16"), list(regional_faces.sliders))
    for units in (True, False):  # a bfloat16 generator draws its regions in its own dtype, on any CPU
        monkeypatch.setattr(regions, "bfloat16_units", lambda units=units: units)
        assert np.abs(bf16.decode(rows).astype(int) - exact).mean() < 2


def test_weights_out_of_range_are_clamped_not_trusted(regional_faces: Faces):
    z = regional_faces.latent([5])
    rows = regional_faces.edit(z, {"beard": 3.0})
    forged = rows.clone()
    forged[:, -len(REGION_NAMES) :] *= 1e6
    assert np.array_equal(regional_faces.decode(forged), regional_faces.decode(rows))


def test_a_sweep_holding_a_regional_edit_keeps_it_on_every_frame(regional_faces: Faces):
    frames = regional_faces.decode(regional_faces.sweep(9, "glasses", 8, edits={"beard": 2.0}))
    ends = [regional_faces.render([9], edits={"beard": 2.0, "glasses": v})[0] for v in ("off", "on")]
    assert np.abs(frames[0].astype(int) - ends[0]).max() <= 1 and np.abs(frames[4].astype(int) - ends[1]).max() <= 1
    beard = regional_faces.decode(regional_faces.sweep(9, "beard", 8))
    assert np.abs(beard[4].astype(int) - regional_faces.render([9], edits={"beard": 3.0})[0]).max() <= 1


def test_the_region_travels_in_the_attributes_file_and_names_the_set(tmp_path, regional_faces: Faces, faces: Faces):
    path = tmp_path / "attributes.safetensors"
    regional_faces.sliders.save(path)
    loaded = AttributeSet.load(path, regional_faces.latent_dim)
    assert loaded["beard"].region == "jaw" and loaded.fingerprint == regional_faces.sliders.fingerprint
    whole = AttributeSet([dataclasses.replace(a, region=None) for a in faces.sliders])
    assert whole.fingerprint != regional_faces.sliders.fingerprint, "posted buttons learn the sliders changed"
    bad = AttributeSet(
        [dataclasses.replace(a, region="elbows" if a.name == "beard" else a.region) for a in faces.sliders]
    )
    bad.save(path)
    with pytest.raises(CheckpointError, match="beard: unknown region 'elbows'"):
        AttributeSet.load(path, regional_faces.latent_dim)


def test_a_style_generator_blends_in_pixels(tmp_path):
    faces = Faces.load(tiny_model(tmp_path / "style", "style") / "generator.safetensors")
    w = faces.edit(faces.latent([1, 2]))
    other = torch.roll(w, 1, dims=0)
    plain, moved = faces.decode(w), faces.decode(other)
    rows = faces.decode(drawing(w, {"lower_face": other}))
    assert np.array_equal(rows[:, UNTOUCHED_ROWS], plain[:, UNTOUCHED_ROWS])
    assert np.abs(rows[:, 50:, 20:44].astype(int) - moved[:, 50:, 20:44]).max() <= 1, "the edit inside"
