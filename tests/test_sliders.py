"""Attribute sliders on the shipped model: geometry, edit semantics, bad input, and real effect."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from gan import Faces, attributes
from gan.attributes import SHARE, AttributeSet
from gan.checkpoint import CheckpointError, load_tensors, save_tensors
from gan.editors import along
from train.classifier import load_classifier, predict
from train.slider_specs import SPEC

REQUIRED = ("Male", "Young", "Pale_Skin")


def test_at_least_twelve_sliders_with_records(faces: Faces):
    assert len(faces.attributes) >= 12
    for name in faces.attributes:
        info = faces.attribute_info(name)
        assert {"celeba", "sign", "kind", "range", "conditions", "accuracy"} <= set(info)
        assert info["sign"] in (1, -1) and info["kind"] in ("slider", "toggle")
        assert info["range"] == ([-3.0, 3.0] if info["kind"] == "slider" else ["off", "on"])
        assert 0.5 < info["accuracy"] <= 1.0
        for c in REQUIRED:
            assert c == info["celeba"] or c in info["conditions"], f"{name} must not change {c}"


def test_each_slider_tells_users_what_both_ends_do_as_the_specs_say(faces: Faces):
    for name in faces.attributes:
        info = faces.attribute_info(name)
        text = info["description"]
        assert text == SPEC[name].description, f"{name}: the shipped sliders tell users an old text"
        assert len(text) <= 80, f"{name}: leave room for the range in Discord's 100-character option hint"
        if info["kind"] == "slider":
            assert "(+)" in text and "(-)" in text, f"{name}: say what each end of the slider does"


def test_the_shipped_regional_sliders_are_the_specs_regional_ones(faces: Faces):
    for name in faces.attributes:
        spec = SPEC[name]
        assert faces.sliders[name].region == (spec.region if spec.regional else None), name


def test_a_slider_spans_the_share_of_its_fitted_move_the_specs_say(faces: Faces, tmp_path):
    for name in faces.attributes:
        assert faces.sliders[name].span == SPEC[name].span, name
    full = AttributeSet([dataclasses.replace(a, span=1.0) for a in faces.sliders])
    z, span = faces.latent([4, 5]), faces.sliders["makeup"].span
    assert span < 1 and torch.allclose(faces.sliders.apply(z, {"makeup": 3.0}), full.apply(z, {"makeup": 3 * span}))
    assert full.fingerprint != faces.sliders.fingerprint, "posted buttons learn the sliders changed"
    path, tensors, meta = saved(faces, tmp_path)
    for bad in (0, 1.5, "all", True):
        meta["attributes"][0]["span"] = bad
        save_tensors(path, tensors, meta)
        with pytest.raises(CheckpointError, match=f"smiling: span must be a number above 0 and at most 1, got {bad!r}"):
            AttributeSet.load(path, faces.nz)


def test_directions_are_unit_and_orthogonal_to_their_conditions(faces: Faces):
    sliders = faces.sliders
    for a in sliders:
        assert abs(a.direction.norm().item() - 1) < 1e-5
        for c in a.conditions:
            assert abs(torch.dot(a.direction.double(), sliders.boundaries[c].double()).item()) < 1e-5, (a.name, c)


def test_no_edits_means_the_unedited_face(faces: Faces):
    plain = faces.render([7, 8])
    assert np.array_equal(faces.render([7, 8], edits={}), plain)
    assert np.array_equal(faces.render([7, 8], edits={"smiling": 0}), plain)
    assert np.array_equal(faces.morph(7, 8, frames=3, edits=None), faces.morph(7, 8, frames=3))


def test_edits_are_deterministic_and_change_the_face(faces: Faces):
    edits = {"smiling": 2.0, "glasses": "on", "age": -1.5}
    a, b = faces.render([3, 4], edits=edits), faces.render([3, 4], edits=edits)
    assert np.array_equal(a, b)
    assert np.abs(a.astype(int) - faces.render([3, 4]).astype(int)).mean() > 2
    frames = faces.morph(3, 4, frames=4, edits=edits)
    assert np.abs(frames[0].astype(int) - a[0]).max() <= 1


def test_slider_edits_keep_the_latent_norm(faces: Faces):
    z = faces.latent(list(range(16)))
    edited = faces.sliders.apply(z, {"smiling": 3.0, "bangs": -3.0})
    assert torch.allclose(edited.norm(dim=1), z.norm(dim=1), rtol=1e-5)


@pytest.mark.parametrize("value", ["on", "off"])
def test_toggles_are_idempotent(faces: Faces, value):
    toggles = [n for n in faces.attributes if faces.attribute_info(n)["kind"] == "toggle"]
    assert toggles
    z = faces.latent(list(range(32)))
    for name in toggles:
        once = faces.sliders.apply(z, {name: value})
        twice = faces.sliders.apply(once, {name: value})
        assert torch.allclose(once, twice, atol=1e-5), name
        a = faces.sliders[name]
        side = torch.full((len(z),), float(a.sign if value == "on" else -a.sign))
        assert a.stands(once, side).all(), "every face stands where the toggle takes it"
        crossed = (side * (once @ a.direction + a.offset) >= 0).float().mean()
        assert crossed > 0.9, f"{name} {value}: only {crossed:.0%} of the faces end on the asked-for side"


def test_edits_give_the_same_face_in_any_order(faces: Faces):
    """Edits are made in the sliders' order, however they are named: the order each editor learned to
    compose in."""
    z = faces.latent(list(range(4)))
    edits = {"hat": "on", "bangs": 2.0, "glasses": "on", "smiling": -1.0}
    shuffled = {k: edits[k] for k in ("glasses", "smiling", "hat", "bangs")}
    assert torch.equal(faces.edit(z, edits), faces.edit(z, shuffled))
    assert torch.equal(faces.sliders.apply(z, edits), faces.sliders.apply(z, shuffled))
    sliders, by_hand = faces.sliders, z
    assert sliders.names.index("glasses") < sliders.names.index("hat") < sliders.names.index("bangs")
    drawn = sliders.drawn(edits)
    for name in sorted(edits, key=sliders.names.index):
        a, value = sliders[name], drawn[name]
        if a.kind == "slider":
            by_hand = a.slide(by_hand, torch.full((4,), float(value)))
        else:
            by_hand = a.toggle(by_hand, torch.full((4,), float(a.sign)))
    assert torch.allclose(faces.sliders.apply(z, edits), by_hand)


def test_sliders_moved_together_share_the_change_and_toggles_do_not(faces: Faces):
    sliders = faces.sliders
    assert sliders.drawn({"smiling": -2}) == {"smiling": -2.0}, "one slider alone is drawn as asked"
    toggles = {"glasses": "on", "hat": "off"}
    assert sliders.drawn({"smiling": 2, **toggles}) == {"smiling": 2.0, **toggles}, "toggles neither share nor take"
    at_two = 2 / (1 + SHARE * 2 / 3)
    pair = sliders.drawn({"smiling": 2, "age": -2, **toggles})
    assert pair == pytest.approx({"smiling": at_two, "age": -at_two, **toggles})
    three = sliders.drawn({"smiling": 3, "age": 1.5, "bangs": -3})
    expected = {"smiling": 3 / (1 + SHARE * 1.5), "age": 1.5 / (1 + SHARE * 2), "bangs": -3 / (1 + SHARE * 1.5)}
    assert three == pytest.approx(expected)
    assert sliders.drawn({"smiling": 2, "age": 1e-9})["smiling"] == pytest.approx(2), "continuous as a partner starts"
    z = faces.latent(list(range(8)))
    together = sliders.apply(z, {"smiling": 2, "age": 2})
    asked = sliders["age"].slide(sliders["smiling"].slide(z, torch.full((8,), 2.0)), torch.full((8,), 2.0))
    assert ((together - z).norm(dim=1) < (asked - z).norm(dim=1)).all(), "the shared edit moves each face less"


def test_each_editor_composes_with_the_edits_applied_before_it(faces: Faces):
    sliders = faces.sliders
    assert sliders.applied_before(sliders.names[0]).names == []
    assert sliders.applied_before("bangs").names == sliders.names[: sliders.names.index("bangs")]


def test_edits_give_the_same_face_in_any_batch(faces: Faces):
    edits = {"smiling": 2.0, "glasses": "on", "blond": -1.5}
    alone = faces.render([5], edits=edits)[0]
    in_batch = faces.render([9, 5, 7, 1, 2], edits=edits)[1]
    assert np.abs(alone.astype(int) - in_batch.astype(int)).max() <= 1  # float summation order only


def test_sliders_with_an_editor_move_each_face_its_own_way(faces: Faces):
    """The shipped sliders (but those whose global direction met every target) bend their direction per
    face: two faces move along different directions."""
    z = faces.latent([1, 2])
    edited = [a for a in faces.sliders if a.editor is not None]
    assert len(edited) >= 12 and {"smiling", "glasses"} <= {a.name for a in edited}
    for a in edited:
        move = a.move(z, torch.ones(2))
        cosine = torch.nn.functional.cosine_similarity(move[0], move[1], dim=0)
        assert cosine < 0.9999, f"{a.name} moves every face the same way"


@pytest.mark.parametrize(
    "edits, message",
    [
        ({"smile": 1}, "unknown attribute 'smile'; valid names: smiling"),
        ({"smiling": 3.5}, "smiling must be from -3 to 3"),
        ({"smiling": -4}, "smiling must be from -3 to 3"),
        ({"smiling": "on"}, "smiling is a slider"),
        ({"smiling": True}, "smiling is a slider"),
        ({"glasses": 1}, "glasses is a toggle: give one of off, on"),
        ({"glasses": "yes"}, "glasses is a toggle"),
    ],
)
def test_invalid_edits_name_the_valid_choices(faces: Faces, edits, message):
    with pytest.raises(ValueError, match=message):
        faces.render([1], edits=edits)
    with pytest.raises(ValueError, match=message):
        faces.morph(1, 2, edits=edits)


@pytest.fixture(scope="module")
def classifier():
    model, names = load_classifier()
    return model, names


def mean_probability(faces: Faces, classifier, attribute: str, edits: dict) -> float:
    model, names = classifier
    images = torch.from_numpy(faces.render(list(range(64)), edits=edits)).permute(0, 3, 1, 2)
    return predict(model, images)[:, names.index(attribute)].mean().item()


def test_smiling_slider_makes_faces_smile(faces: Faces, classifier):
    before = mean_probability(faces, classifier, "Smiling", {})
    after = mean_probability(faces, classifier, "Smiling", {"smiling": 3})
    assert after > before + 0.2, (before, after)


def test_smiling_rises_step_by_step_from_minus_three_to_plus_three(faces: Faces, classifier):
    steps = [mean_probability(faces, classifier, "Smiling", {"smiling": v}) for v in (-3, -1.5, 0, 1.5, 3)]
    assert all(b > a for a, b in zip(steps, steps[1:], strict=False)), steps


def test_glasses_keep_the_smile(faces: Faces, classifier):
    """`smiling:+2 glasses:on` smiles as much as `smiling:+2` alone, and wears glasses."""
    smile = mean_probability(faces, classifier, "Smiling", {"smiling": 2.0})
    both = {"smiling": 2.0, "glasses": "on"}
    assert abs(mean_probability(faces, classifier, "Smiling", both) - smile) <= 0.1
    assert mean_probability(faces, classifier, "Eyeglasses", both) > 0.6


def test_glasses_toggle_puts_glasses_on(faces: Faces, classifier):
    before = mean_probability(faces, classifier, "Eyeglasses", {})
    after = mean_probability(faces, classifier, "Eyeglasses", {"glasses": "on"})
    assert after > before + 0.2, (before, after)


def test_sliders_have_stable_unique_keys_and_a_fingerprint(faces: Faces, tmp_path):
    keys = [a.key for a in faces.sliders]
    assert len(set(keys)) == len(keys) and all(len(k) == 2 for k in keys)
    assert faces.sliders.by_key["sm"].name == "smiling" and faces.sliders.by_key["gl"].name == "glasses"
    path = tmp_path / "attributes.safetensors"
    faces.sliders.save(path)
    again = AttributeSet.load(path, faces.nz)
    assert [a.key for a in again] == keys and again.fingerprint == faces.sliders.fingerprint
    refit = [dataclasses.replace(a, unit=a.unit * 1.1) if a.key == "sm" else a for a in faces.sliders]
    assert AttributeSet(refit).fingerprint != faces.sliders.fingerprint
    with pytest.raises(ValueError, match="slider keys must be unique"):
        AttributeSet([dataclasses.replace(a, key="sm") for a in faces.sliders])


def saved(faces: Faces, tmp_path) -> tuple:
    """The shipped sliders written to a file: its path, tensors and metadata."""
    path = tmp_path / "attributes.safetensors"
    faces.sliders.save(path)
    return (path, *load_tensors(path))


def test_slider_files_from_before_keys_load_with_keys_by_position(faces: Faces, tmp_path):
    path, tensors, meta = saved(faces, tmp_path)
    for r in meta["attributes"]:
        del r["key"]
    save_tensors(path, tensors, meta)
    assert [a.key for a in AttributeSet.load(path, faces.nz)] == [f"{i:02d}" for i in range(len(faces.attributes))]


def test_slider_files_from_before_editors_load_as_global_directions(faces: Faces, tmp_path):
    path, tensors, meta = saved(faces, tmp_path)
    for r in meta["attributes"]:
        del r["editor_hidden"]
    save_tensors(path, {k: v for k, v in tensors.items() if ".editor." not in k}, meta)
    old = AttributeSet.load(path, faces.nz)
    assert all(a.editor is None for a in old) and old.fingerprint != faces.sliders.fingerprint
    z = faces.latent([3])
    a = old["smiling"]
    assert torch.allclose(old.apply(z, {"smiling": 2.0}), along(z, a.direction * a.unit * a.sign, torch.tensor([2.0])))


@pytest.mark.parametrize(
    "damage, message",
    [
        ("nan", "smiling: editor weights hold NaN"),
        ("width", "smiling: editor width must be an integer from 1 to 1024, got 100000"),
        ("missing", "smiling: editor tensors do not match"),
        ("shape", "smiling: editor tensors do not match"),
    ],
)
def test_bad_editor_weights_are_one_checkpoint_error(faces: Faces, tmp_path, damage, message):
    path, tensors, meta = saved(faces, tmp_path)
    key = "smiling.editor.net.0.weight"
    if damage == "nan":
        tensors[key] = torch.full_like(tensors[key], float("nan"))
    elif damage == "width":
        meta["attributes"][0]["editor_hidden"] = 100_000
    elif damage == "missing":
        del tensors[key]
    else:
        tensors[key] = tensors[key][:, :3].contiguous()
    save_tensors(path, tensors, meta)
    with pytest.raises(CheckpointError, match=message) as e:
        AttributeSet.load(path, faces.nz)
    assert str(path) in str(e.value)


def test_a_refitted_editor_changes_the_fingerprint(faces: Faces):
    a = faces.sliders["glasses"]
    editor = copy.deepcopy(a.editor)
    with torch.no_grad():
        editor.net[-1].bias[0] += 1e-3
    refit = [dataclasses.replace(b, editor=editor) if b is a else b for b in faces.sliders]
    assert AttributeSet(refit).fingerprint != faces.sliders.fingerprint


def test_a_new_share_changes_the_fingerprint(faces: Faces, monkeypatch):
    """Two sliders together draw differently under another SHARE: buttons made before must know it."""
    monkeypatch.setattr(attributes, "SHARE", attributes.SHARE + 0.01)
    assert AttributeSet(list(faces.sliders)).fingerprint != faces.sliders.fingerprint
