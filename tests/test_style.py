"""The style-based generator: shapes, modulation, truncation and morphs in W, checkpoints, bounds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan import CheckpointError, Faces
from gan.checkpoint import load_generator, save_generator, save_tensors
from gan.equalized import EqualConv2d, EqualLinear
from gan.style import ModulatedConv, StyleConfig, StyleGenerator

SMALL = StyleConfig(nz=32, w_dim=32, mapping_layers=2, channels=16)


@pytest.fixture(scope="module")
def style_path(tmp_path_factory):
    torch.manual_seed(0)
    g = StyleGenerator(SMALL)
    for p in g.parameters():  # an untrained net with non-trivial styles, so the tests can fail
        if p.ndim == 2:
            torch.nn.init.normal_(p, std=0.3)
    g.w_avg.copy_(g.map(torch.randn(256, SMALL.nz)).mean(0).detach())
    path = tmp_path_factory.mktemp("style") / "generator.safetensors"
    save_generator(path, g, {"prior": "normal"}, dtype=torch.float32)
    return path


@pytest.fixture(scope="module")
def style_faces(style_path) -> Faces:
    return Faces.load(style_path)


def test_shapes_and_no_batch_norm():
    g = StyleGenerator(SMALL)
    assert g(torch.randn(3, SMALL.nz)).shape == (3, 3, 64, 64)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in g.modules())
    assert g.w_avg.shape == (SMALL.w_dim,) and "w_avg" in g.state_dict()


def test_equalised_layers_store_unit_weights_and_keep_unit_variance():
    torch.manual_seed(0)
    x = torch.randn(2048, 256)
    for layer in (EqualLinear(256, 128), EqualLinear(256, 128, lr_mul=0.01)):
        effective = layer.weight * layer.weight_gain
        assert abs(effective.std().item() * 16 - 1) < 0.05, "used as std 1/sqrt(fan-in)"
        assert abs(layer(x).std().item() - 1) < 0.1
    assert abs(EqualLinear(256, 128).weight.std().item() - 1) < 0.05, "stored at std 1: Adam's steps are relative"
    assert abs(EqualLinear(256, 128, lr_mul=0.01).weight.std().item() - 100) < 5, "100 times slower"
    conv = EqualConv2d(16, 32, 3)
    assert abs(conv.weight.std().item() - 1) < 0.05
    assert abs(conv(torch.randn(64, 16, 12, 12))[:, :, 1:-1, 1:-1].std().item() - 1) < 0.1


def test_modulated_conv_is_a_per_sample_demodulated_conv():
    torch.manual_seed(1)
    m = ModulatedConv(16, 8, 6, 3)
    torch.nn.init.normal_(m.affine.weight)
    x, w = torch.randn(4, 8, 5, 5), torch.randn(4, 16)
    s = m.affine(w)
    weight = m.weight[None] * s[:, None, :, None, None]
    weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
    explicit = [torch.nn.functional.conv2d(x[i : i + 1], weight[i], padding=1) for i in range(4)]
    assert torch.allclose(m(x, w), torch.cat(explicit) + m.bias[None, :, None, None], atol=1e-5)


def test_a_seed_is_the_same_face_in_any_batch(style_faces: Faces):
    assert style_faces.in_w and style_faces.latent_dim == SMALL.w_dim
    together = style_faces.render([5, 6, 7])
    assert np.abs(style_faces.render([6])[0].astype(int) - together[1]).max() <= 1


def test_truncation_pulls_w_towards_its_mean(style_faces: Faces):
    z = style_faces.latent(list(range(8)))
    w = style_faces.to_w(z)
    half = style_faces.to_w(z, 0.5)
    w_avg = style_faces.generator.w_avg.cpu()
    assert torch.allclose(half, w_avg + 0.5 * (w - w_avg), atol=1e-5)
    assert torch.allclose(style_faces.edit(z, truncation=0.5), half)
    tame, wild = style_faces.render(list(range(8)), 0.1), style_faces.render(list(range(8)))
    assert tame.astype(float).std(axis=0).mean() < wild.astype(float).std(axis=0).mean(), "lower is tamer"
    with pytest.raises(ValueError, match="truncation"):
        style_faces.to_w(z, 0.0)


def test_morphs_go_straight_through_w_with_exact_ends(style_faces: Faces):
    frames = style_faces.morph(3, 4, frames=5, truncation=0.7)
    ends = style_faces.render([3, 4], truncation=0.7)
    assert np.array_equal(frames[0], ends[0]) and np.array_equal(frames[-1], ends[1])
    line = style_faces.path(3, 4, frames=5)
    assert torch.allclose(line[2], (line[0] + line[4]) / 2, atol=1e-5), "the middle frame is the middle of W"


def test_round_trip_and_bounded_configs(tmp_path, style_path, style_faces: Faces):
    g, meta = load_generator(style_path)
    assert meta["config"] == SMALL.to_dict() and isinstance(g, StyleGenerator)
    z = torch.randn(2, SMALL.nz)
    with torch.no_grad():
        assert torch.allclose(g(z), style_faces.generator(z), atol=1e-5)
    big = tmp_path / "big.safetensors"
    save_tensors(big, StyleGenerator(SMALL).state_dict(), {"config": {**SMALL.to_dict(), "channels": 1 << 20}})
    with pytest.raises(CheckpointError, match="channels must be an integer from 8 to 512"):
        Faces.load(big)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_graphs_draw_what_the_style_network_draws(style_path, style_faces: Faces):
    graphed, eager = Faces.load(style_path, device="cuda"), Faces.load(style_path, device="cuda", cuda_graphs=False)
    w = style_faces.edit(style_faces.latent(list(range(5))), truncation=0.7)
    assert np.abs(graphed.decode(w).astype(int) - eager.decode(w).astype(int)).max() <= 1
