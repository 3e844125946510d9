"""The random-face critic: random seeds skip what it rejects, deterministically; explicit seeds are
untouched; a bad critic file is one clear error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from gan import CheckpointError, Faces
from gan.checkpoint import META_KEY, load_tensors, save_tensors
from gan.critic import MAX_HIDDEN, LatentCritic
from gan.faces import CRITIC_FILE, GENERATOR_FILE, MAX_RANDOM_SEEDS, WEIGHTS_DIR


def unfiltered(faces: Faces) -> Faces:
    return Faces(faces.generator, faces.meta, faces.sliders)


def test_the_shipped_model_has_a_small_critic(faces: Faces):
    assert faces.critic is not None and faces.critic.nz == faces.nz
    assert (WEIGHTS_DIR / CRITIC_FILE).stat().st_size <= 2**20


def test_random_seeds_are_the_same_for_the_same_rng(faces: Faces):
    a = faces.random_seeds(20, np.random.default_rng(5))
    assert a == faces.random_seeds(20, np.random.default_rng(5))
    assert a != faces.random_seeds(20, np.random.default_rng(6))
    assert all(isinstance(s, int) and 0 <= s < 2**32 for s in a)


def test_random_seeds_are_faces_the_critic_accepts(faces: Faces):
    seeds = faces.random_seeds(200, np.random.default_rng(1))
    assert faces.critic.accepts(faces.latent(seeds)).all()
    drawn = unfiltered(faces).random_seeds(200, np.random.default_rng(1))
    rejected = (~faces.critic.accepts(faces.latent(drawn))).float().mean().item()
    assert 0.05 < rejected < 0.5, "the critic rejects some of the seeds drawn straight from the rng"


def test_without_a_critic_random_seeds_come_straight_from_the_rng(faces: Faces):
    seeds = unfiltered(faces).random_seeds(5, np.random.default_rng(3))
    assert seeds == np.random.default_rng(3).integers(0, 2**32 - 1, 5, endpoint=True).tolist()


def test_a_critic_that_rejects_everything_still_gives_seeds(faces: Faces):
    strict = LatentCritic(faces.nz, 8, threshold=float("inf"))
    picky = Faces(faces.generator, faces.meta, faces.sliders, critic=strict)
    assert len(picky.random_seeds(3, np.random.default_rng(0))) == 3


def test_explicit_seeds_draw_what_they_drew_before(faces: Faces):
    seeds = unfiltered(faces).random_seeds(400, np.random.default_rng(2))
    rejected = [s for s, ok in zip(seeds, faces.critic.accepts(faces.latent(seeds)).tolist(), strict=True) if not ok]
    assert rejected, "some seed the critic rejects"
    assert np.array_equal(faces.render(rejected[:3]), unfiltered(faces).render(rejected[:3]))


@pytest.mark.parametrize(
    "n, rng, problem",
    [
        (0, np.random.default_rng(), "n must be an integer from 1"),
        (MAX_RANDOM_SEEDS + 1, np.random.default_rng(), "n must be"),
        (True, np.random.default_rng(), "n must be"),
        ("3", np.random.default_rng(), "n must be"),
        (3, 42, "rng must be a numpy.random.Generator"),
        (3, None, "rng must be"),
    ],
)
def test_bad_random_seed_arguments_name_the_argument(faces: Faces, n, rng, problem):
    with pytest.raises(ValueError, match=problem):
        faces.random_seeds(n, rng)


def critic_file(tmp_path, faces: Faces, meta_change: dict | None = None, tensors_change=None):
    """A copy of the shipped model's folder with a changed critic file; returns the generator path."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / GENERATOR_FILE).write_bytes((WEIGHTS_DIR / GENERATOR_FILE).read_bytes())
    tensors, meta = load_tensors(WEIGHTS_DIR / CRITIC_FILE)
    if tensors_change:
        tensors_change(tensors)
    save_tensors(folder / CRITIC_FILE, tensors, {**meta, **(meta_change or {})})
    return folder / GENERATOR_FILE


def test_a_copied_model_folder_keeps_its_critic(tmp_path, faces: Faces):
    copy = Faces.load(critic_file(tmp_path, faces))
    rng = np.random.default_rng(9)
    assert copy.random_seeds(10, rng) == faces.random_seeds(10, np.random.default_rng(9))


@pytest.mark.parametrize(
    "meta, tensors, problem",
    [
        ({"hidden": MAX_HIDDEN + 1}, None, "critic width"),
        ({"hidden": "256"}, None, "critic width"),
        ({"nz": 12}, None, "latents of width 12"),
        ({"threshold": float("nan")}, None, "threshold must be a finite number"),
        ({"threshold": None}, None, "threshold"),
        (None, lambda t: t.pop("net.0.weight"), "tensors do not match"),
        (None, lambda t: t["net.2.weight"].fill_(float("nan")), "NaN"),
        (None, lambda t: t.update({"net.0.weight": torch.zeros(3, 3)}), "tensors do not match"),
    ],
)
def test_a_bad_critic_file_is_one_clear_error(tmp_path, faces: Faces, meta, tensors, problem):
    path = critic_file(tmp_path, faces, meta, tensors)
    with pytest.raises(CheckpointError, match=problem) as e:
        Faces.load(path)
    assert CRITIC_FILE in str(e.value)


def test_critic_metadata_that_is_not_an_object_is_one_clear_error(tmp_path, faces: Faces):
    path = critic_file(tmp_path, faces)
    tensors, _ = load_tensors(path.parent / CRITIC_FILE)
    save_file(tensors, str(path.parent / CRITIC_FILE), metadata={META_KEY: "[1, 2]"})
    with pytest.raises(CheckpointError, match="metadata must be a JSON object"):
        Faces.load(path)
