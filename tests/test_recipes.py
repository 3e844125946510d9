"""Face codes (gan/recipes.py): one grammar, the same face for the same code everywhere, clear refusals."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from gan import Faces
from gan.recipes import MAX_CODE, MAX_STEPS, VARIATION_SPREAD, CodeError, Recipe
from tests.conftest import ROOT

CODES = ["42", "42v3", "42v3v1", "42x17c2", "42v3x(17v1)c4", "4294967295v999"]


@pytest.mark.parametrize("code", CODES)
def test_a_code_reads_back_as_itself(code):
    assert str(Recipe.parse(code)) == code
    assert Recipe.parse(f"  {code} ") == Recipe.parse(code)


def test_brackets_around_a_bare_seed_are_dropped():
    assert str(Recipe.parse("42x(17)c1")) == "42x17c1"


@pytest.mark.parametrize(
    "bad, why",
    [
        ("", "empty"),
        ("42q", "characters"),
        ("42v", "ends where"),
        ("42v0", "from 1 to"),
        ("42x17", "the child.s number"),
        ("42x(17c1", "bracket"),
        ("007", "seed must be"),
        ("4294967296", "seed must be"),
        ("v3", "seed must be"),
        ("42)", "unexpected"),
        ("42" + "v1" * MAX_STEPS + "v1", "steps deep"),
        ("1" * (MAX_CODE + 1), f"over {MAX_CODE} characters"),
    ],
)
def test_a_malformed_or_too_deep_code_is_one_clear_error(bad, why):
    with pytest.raises(CodeError, match=why):
        Recipe.parse(bad)


def test_depth_counts_the_parents_steps_too():
    assert Recipe.parse("42v3x(17v1v2)c4").depth == 4
    with pytest.raises(CodeError, match="steps deep"):
        Recipe.parse("42v1v1v1").child(Recipe.parse("17v1v1v1"), 1)


def test_siblings_are_the_other_faces_of_a_grid():
    assert str(Recipe.parse("42v1").sibling(3)) == "42v4"
    assert str(Recipe.parse("42x(17v2)c5").sibling(4)) == "42x(17v2)c9"
    with pytest.raises(ValueError):
        Recipe.parse("42").sibling(1)


def test_the_same_code_draws_the_same_face_in_any_batch(faces: Faces):
    alone = faces.render(["42v3x17c2"])
    batched = faces.render([7, "42v3x17c2", "42v3"])
    assert np.array_equal(alone[0], batched[1])
    assert np.array_equal(faces.render("42"), faces.render(42)), "a bare seed is its seed's face"


def test_the_same_code_draws_the_same_latent_after_a_restart(faces: Faces):
    code = "42v3x(17v1)c4"
    script = f"from gan import Faces; import sys; sys.stdout.write(repr(Faces.load().latent({code!r})[0].tolist()))"
    other = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert other.returncode == 0, other.stderr
    assert torch.equal(torch.tensor(eval(other.stdout)), faces.latent(code)[0])


def test_a_variation_is_near_its_face_and_keeps_its_norm(faces: Faces):
    z, v = faces.latent(["42", "42v1"])
    others = faces.latent(list(range(100, 120)))
    assert torch.isclose(v.norm(), z.norm())
    assert (v - z).norm() < 0.5 * (others - z).norm(dim=1).min(), "much nearer than any other face"
    assert (v - z).norm() == pytest.approx(VARIATION_SPREAD * faces.nz**0.5, rel=0.3)
    assert not torch.equal(*faces.latent(["42v1", "42v2"])), "each variation its own"


def test_a_child_mixes_its_parents(faces: Faces):
    a, b, child = faces.latent(["42", "17", "42x17c1"])
    others = faces.latent(list(range(100, 120)))
    for parent in (a, b):
        assert (child - parent).norm() < (others - parent).norm(dim=1).min(), "nearer each parent than any other face"
    assert torch.isclose(child.norm(), ((a.norm() ** 2 + b.norm() ** 2) / 2).sqrt()), "on the prior's shell"
    assert not torch.equal(child, faces.latent("42x17c2")[0]), "each child its own"
    assert not torch.equal(child, faces.latent("17x42c1")[0]), "the order of the parents counts"
