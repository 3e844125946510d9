"""Attribute sliders on the shipped model: geometry, edit semantics, bad input, and real effect."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from gan import Faces
from gan.attributes import AttributeSet
from gan.checkpoint import load_tensors, save_tensors
from train.classifier import load_classifier, predict

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
    edited = faces.edit(z, {"smiling": 3.0, "bangs": -3.0})
    assert torch.allclose(edited.norm(dim=1), z.norm(dim=1), rtol=1e-5)


@pytest.mark.parametrize("value", ["on", "off"])
def test_toggles_are_idempotent(faces: Faces, value):
    toggles = [n for n in faces.attributes if faces.attribute_info(n)["kind"] == "toggle"]
    assert toggles
    z = faces.latent(list(range(32)))
    for name in toggles:
        once = faces.edit(z, {name: value})
        twice = faces.edit(once, {name: value})
        assert torch.allclose(once, twice, atol=1e-5), name
        a = faces.sliders[name]
        side = 1 if (value == "on") == (a.sign > 0) else -1
        score = side * (once @ a.direction + a.offset)
        goal = torch.clamp(0.9 * once.norm(dim=1) + side * a.offset, max=a.margin)
        assert (score >= goal - 1e-4).all(), "every face goes as far to the asked-for side as its latent can"
        assert (goal > 0).float().mean() > 0.5, "most faces cross the boundary"


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


def test_slider_files_from_before_keys_load_with_keys_by_position(faces: Faces, tmp_path):
    path = tmp_path / "attributes.safetensors"
    faces.sliders.save(path)
    tensors, meta = load_tensors(path)
    for r in meta["attributes"]:
        del r["key"]
    save_tensors(path, tensors, meta)
    assert [a.key for a in AttributeSet.load(path, faces.nz)] == [f"{i:02d}" for i in range(len(faces.attributes))]
