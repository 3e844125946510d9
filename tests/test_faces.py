"""The public Faces API on the shipped model: shapes, determinism, morphs, bad input."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from gan import Faces
from gan.latent import MAX_SEED, slerp


def test_shapes_and_dtypes(faces: Faces):
    z = faces.latent([7, 8])
    assert z.shape == (2, 100) and z.dtype == torch.float32
    img = faces.render([7, 8])
    assert img.shape == (2, 64, 64, 3) and img.dtype == np.uint8
    assert faces.decode(z).shape == (2, 64, 64, 3)
    assert img.std() > 10, "a face is not a flat colour"


def test_latent_is_per_seed_and_batch_independent(faces: Faces):
    assert torch.equal(faces.latent([7, 8])[1], faces.latent([8])[0])
    assert torch.equal(faces.latent([8, 7, 123])[0], faces.latent([8])[0])
    assert not torch.equal(faces.latent([7])[0], faces.latent([8])[0])
    assert abs(faces.latent(list(range(200))).std().item() - 1.0) < 0.05, "prior is standard normal"


def test_render_is_deterministic_and_batch_independent(faces: Faces):
    alone = faces.render([8])[0]
    assert np.array_equal(alone, faces.render([8])[0])
    in_batch = faces.render([7, 8, 9, 10])[1]
    assert np.abs(alone.astype(int) - in_batch.astype(int)).max() <= 1  # float summation order only
    assert not np.array_equal(faces.render([7])[0], alone)


def test_truncation_pulls_faces_together(faces: Faces):
    seeds = list(range(32))
    full, tame = faces.render(seeds).astype(float), faces.render(seeds, truncation=0.5).astype(float)
    assert tame.std(axis=0).mean() < full.std(axis=0).mean()
    for bad in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match="truncation"):
            faces.render([1], truncation=bad)


def test_morph_endpoints_and_length(faces: Faces):
    frames = faces.morph(7, 8, frames=16)
    assert frames.shape == (16, 64, 64, 3) and frames.dtype == np.uint8
    a, b = faces.render([7, 8])
    assert np.abs(frames[0].astype(int) - a).max() <= 1
    assert np.abs(frames[-1].astype(int) - b).max() <= 1
    steps = np.abs(np.diff(frames.astype(int), axis=0)).mean(axis=(1, 2, 3))
    assert steps.max() < 4 * steps.mean() + 1, "the morph moves smoothly, without jumps"
    for bad in (1, 0, 10_000, 2.5):
        with pytest.raises(ValueError, match="frames"):
            faces.morph(7, 8, frames=bad)


def test_slerp_stays_on_the_typical_set():
    a, b = (
        torch.randn(100, generator=torch.Generator().manual_seed(1)),
        torch.randn(100, generator=torch.Generator().manual_seed(2)),
    )
    path = slerp(a, b, torch.linspace(0, 1, 9))
    assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    norms = path.norm(dim=1)
    lo, hi = min(a.norm(), b.norm()), max(a.norm(), b.norm())
    assert (norms >= lo - 1e-4).all() and (norms <= hi + 1e-4).all()
    assert (a + b).norm() / 2 < 0.8 * norms[4], "a straight line would cut through the middle"


@pytest.mark.parametrize("bad", [-1, MAX_SEED + 1, 1.5, "-7", True, None])
def test_invalid_seeds(faces: Faces, bad):
    with pytest.raises(ValueError, match="seed|code"):
        faces.render([bad])
    with pytest.raises(ValueError, match="seed|code"):
        faces.morph(bad, 1)


@pytest.mark.parametrize("bad", [True, np.bool_(True), 2.0, -1, None])
def test_one_bad_seed_gets_the_seed_message(faces: Faces, bad):
    with pytest.raises(ValueError, match="seed must be an integer"):
        faces.render(bad)


def test_edge_seeds_work(faces: Faces):
    assert faces.render([0, MAX_SEED]).shape == (2, 64, 64, 3)
    assert np.array_equal(faces.render(np.int64(5)), faces.render(5)), "numpy integers are seeds too"
    assert np.array_equal(faces.render("5"), faces.render(5)), "a seed's code is its number"


def test_decode_checks_shape(faces: Faces):
    with pytest.raises(ValueError, match="latents"):
        faces.decode(torch.zeros(2, 7))


def test_metadata_describes_the_model(faces: Faces):
    meta = faces.meta
    assert meta["config"]["nz"] == 100 and meta["prior"] == "normal"
    assert meta["steps"] > 0 and "frechet_distance" in meta["metrics"]


def test_bf16_draws_the_same_faces_within_a_few_grey_levels(faces: Faces):
    fast = Faces.load(precision="bf16")
    exact, approx = faces.render(list(range(16))).astype(int), fast.render(list(range(16))).astype(int)
    assert fast.dtype == torch.bfloat16 and np.abs(exact - approx).max() <= 6
    assert 10 * np.log10(255**2 / ((exact - approx) ** 2).mean()) > 45
    assert np.array_equal(fast.render([3]), fast.render([9, 3])[1:]), "still the same face in any batch"
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16"):
        Faces.load(precision="fp8")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cuda_graphs_draw_what_the_network_draws(faces: Faces, precision: str):
    graphed = Faces.load(device="cuda", precision=precision)
    eager = Faces.load(device="cuda", precision=precision, cuda_graphs=False)
    for n in (1, 3, 32, 64, 65):  # padded into the graph of 4; exactly a graph; past the largest graph
        z = faces.latent(list(range(n)))
        assert np.abs(graphed.decode(z).astype(int) - eager.decode(z).astype(int)).max() <= 1
    on_cpu = faces.render(list(range(8))).astype(int)
    assert np.abs(graphed.render(list(range(8))).astype(int) - on_cpu).max() <= (1 if precision == "fp32" else 6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_graphs_serve_several_threads(faces: Faces):
    graphed = Faces.load(device="cuda")
    seeds = [list(range(i, i + 1 + i % 5)) for i in range(64)]  # batches of 1 to 5 faces: graphs of 1, 2, 4, 8
    want = [graphed.render(s) for s in seeds]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(graphed.render, seeds))
    assert all(np.array_equal(a, b) for a, b in zip(want, got, strict=True))


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda f: f.render([1], truncation="0.5"), "truncation"),
        (lambda f: f.render([1], truncation=None), "truncation"),
        (lambda f: f.morph(1, 2, truncation=[0.5]), "truncation"),
        (lambda f: f.render([1], edits="smiling"), "edits"),
        (lambda f: f.path(1, 2, 4, edits=3), "edits"),
        (lambda f: f.decode([[0.0] * 100]), "latents"),
        (lambda f: f.morph(1, 2, frames="3"), "frames"),
    ],
)
def test_public_arguments_of_the_wrong_type_name_themselves(faces: Faces, call, name):
    with pytest.raises(ValueError, match=name):
        call(faces)
