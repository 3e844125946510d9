"""Training on a few hundred real faces: the pipeline runs, losses stay finite, resume and --init continue."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from gan import Faces
from gan.checkpoint import load_generator
from train.augment import POLICIES, diff_augment, translation
from train.evaluate import frechet_distance, scores
from train.gan import Trainer
from train.gan import main as train_main
from train.losses import discriminator_loss, generator_loss, r1_penalty
from train.train_config import TrainConfig

TINY = {"batch": 16, "ngf": 8, "ndf": 8, "limit": 256, "log_every": 2, "sample_every": 1000.0, "device": "cpu"}
TINY_FLAGS = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]  # the same through the CLI


def tiny(data_root, out, **changes) -> TrainConfig:
    return TrainConfig(out=str(out), data=str(data_root), **{**TINY, **changes})


@pytest.fixture(scope="module")
def short_run(data_root, tmp_path_factory) -> Path:
    """A run folder after a four-step training (tests copy it before they change it)."""
    out = tmp_path_factory.mktemp("short") / "run"
    Trainer(tiny(data_root, out, max_steps=4)).run()
    return out


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_a_run_logs_finite_losses_every_log_interval(short_run):
    log = metrics(short_run)
    assert [r["step"] for r in log] == [2, 4]
    assert all(np.isfinite([r["d_loss"], r["g_loss"]]).all() for r in log)


def test_the_run_folder_holds_its_whole_config_and_samples(data_root, short_run):
    written = json.loads((short_run / "config.json").read_text())
    written = TrainConfig(**{**written, "snapshot_seconds": tuple(written["snapshot_seconds"])})
    assert written == tiny(data_root, short_run, max_steps=4)
    assert list((short_run / "samples").glob("*.png"))


def test_resume_through_the_cli_continues_the_step_count(data_root, short_run, tmp_path):
    out = Path(shutil.copytree(short_run, tmp_path / "run"))
    assert train_main(["--data", str(data_root), "--out", str(out), "--max-steps", "6", "--resume", *TINY_FLAGS]) == 0
    assert [r["step"] for r in metrics(out)] == [2, 4, 6], "the CLI builds the same config as the run's"
    assert torch.load(out / "checkpoint.pt", weights_only=False)["config"]["max_steps"] == 6
    faces = Faces.load(out / "final.safetensors")
    assert faces.meta["steps"] == 6 and faces.render([3]).shape == (1, 64, 64, 3)


def test_resume_with_another_architecture_is_one_line_error(data_root, short_run, tmp_path, capsys):
    out = Path(shutil.copytree(short_run, tmp_path / "run"))
    code = train_main(["--data", str(data_root), "--out", str(out), "--resume", "--arch", "dcgan-refine", *TINY_FLAGS])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.strip().endswith("--arch dcgan: resume with the same")
    assert len(err.strip().splitlines()) == 1, "one line, no traceback"


def test_the_export_records_the_config_it_was_trained_with(short_run):
    faces = Faces.load(short_run / "final.safetensors")
    assert faces.meta["steps"] == 4 and faces.meta["train_config"]["ngf"] == 8


def test_init_from_exported_generator_warms_up_the_discriminator(data_root, tmp_path):
    base = tmp_path / "base"
    Trainer(tiny(data_root, base, max_steps=2)).run()
    start, _ = load_generator(base / "final.safetensors")
    trainer = Trainer(
        tiny(data_root, tmp_path / "tuned", init=str(base / "final.safetensors"), d_warmup=2, max_steps=4)
    )
    for k, v in start.state_dict().items():
        assert torch.equal(trainer.G.state_dict()[k], v) and torch.equal(trainer.G_ema.state_dict()[k], v), k
    trainer.run()
    log = [json.loads(line) for line in (tmp_path / "tuned" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4]
    assert log[0]["g_loss"] is None and np.isfinite(log[1]["g_loss"]), "G waits for the D warm-up, then trains"
    assert not torch.equal(trainer.G.state_dict()["net.0.0.weight"], start.state_dict()["net.0.0.weight"])
    meta = Faces.load(tmp_path / "tuned" / "final.safetensors").meta
    assert meta["steps"] == 4 and meta["init"]["file"] == "base/final.safetensors" and meta["init"]["steps"] == 2


def test_augment_policies_keep_shapes_and_gradients():
    torch.manual_seed(0)
    x = (torch.rand(8, 3, 64, 64) * 2 - 1).requires_grad_(True)
    assert diff_augment(x, "none") is x
    for policy in set(POLICIES) - {"none"}:
        y = diff_augment(x, policy)
        assert y.shape == x.shape and not torch.equal(y, x), policy
        y.sum().backward()  # differentiable: G learns through the augmentation
        assert x.grad is not None and x.grad.abs().sum() > 0, policy
        x.grad = None


def test_translation_shifts_by_whole_pixels_and_r1_differentiates_through_it():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 64, 64) + 1  # no zeros of its own: a zero is the fill
    y = translation(x)
    padded = torch.nn.functional.pad(x, [8, 8, 8, 8])
    for image, shifted in zip(padded, y, strict=True):
        shifts = [
            (dy, dx)
            for dy in range(17)
            for dx in range(17)
            if torch.equal(image[:, dy : dy + 64, dx : dx + 64], shifted)
        ]
        assert len(shifts) == 1, "each image is itself moved by at most 8 px, the gap filled with zeros"
    real = x.requires_grad_(True)
    d = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.LeakyReLU(0.2), torch.nn.Flatten(), torch.nn.LazyLinear(1)
    )
    r1_penalty(real, d(diff_augment(real, "translation")).flatten()).backward()  # a gradient of a gradient
    assert d[0].weight.grad.abs().sum() > 0, "R1 reaches D's weights"


def test_other_architecture_and_augmentation_train(data_root, tmp_path):
    out = tmp_path / "run"
    Trainer(tiny(data_root, out, max_steps=2, arch="dcgan-refine", augment="color,translation")).run()
    meta = Faces.load(out / "final.safetensors").meta
    assert meta["config"]["arch"] == "dcgan-refine" and "DiffAugment(color,translation)" in meta["recipe"]


def test_frechet_distance():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 8))
    assert frechet_distance(a, rng.normal(size=(4000, 8))) < 0.05
    shifted = frechet_distance(a, rng.normal(size=(4000, 8)) + 1.0)
    assert abs(shifted - 8.0) < 0.3  # |mu difference|^2 = 8
    scaled = frechet_distance(a, 2 * rng.normal(size=(4000, 8)))
    assert abs(scaled - 8.0) < 0.5  # 8 * (1 - 2)^2


def test_precision_and_recall_tell_realism_from_variety():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(500, 8)).astype(np.float32)
    assert scores(real, real) == {"frechet_distance": 0.0, "precision": 1.0, "recall": 1.0}
    # every generated face close to one real face, but only to the few in a corner: realistic, no variety
    corner = real[(real[:, :2] > 0.5).all(1)]
    collapsed = scores(np.repeat(corner, 40, axis=0)[:1000], real)
    assert collapsed["precision"] == 1.0 and collapsed["recall"] < 0.3
    # faces far from every real one: no realism, whatever their variety
    assert scores(real + 10, real)["precision"] == 0.0


def test_losses_are_bce_on_logits():
    real, fake = torch.tensor([3.0, -1.0]), torch.tensor([-2.0, 0.5])
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    assert torch.allclose(discriminator_loss(real, fake), bce(real, torch.ones(2)) + bce(fake, torch.zeros(2)))
    assert torch.allclose(generator_loss(fake), bce(fake, torch.ones(2)))
    x = torch.tensor([-20.0], requires_grad=True)  # a generator the discriminator sees right through
    generator_loss(x).backward()
    assert x.grad.abs().item() > 0.99, "non-saturating: the gradient stays large where G is worst"


def test_style_generator_trains_with_r1_and_keeps_w_avg(data_root, tmp_path):
    out = tmp_path / "style"
    config = tiny(data_root, out, max_steps=4, arch="style", ngf=16, ndf=8, r1=1.0, beta1=0.0)
    trainer = Trainer(config)
    trainer.run()
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4] and all(np.isfinite([r["d_loss"], r["g_loss"]]).all() for r in log)
    assert trainer.G.w_avg.abs().sum() > 0 and torch.equal(trainer.G_ema.w_avg, trainer.G.w_avg)
    assert trainer.opt_d.param_groups[0]["betas"][0] == 0.0
    faces = Faces.load(out / "final.safetensors")
    assert faces.in_w and faces.meta["config"]["arch"] == "style" and "ResNet-D" in faces.meta["recipe"]
    assert "R1(1, on 0.125 of a batch)" in faces.meta["recipe"]
    assert faces.render([1, 2], truncation=0.7).shape == (2, 64, 64, 3)


@pytest.mark.parametrize("share", ["0", "1.5"])
def test_r1_share_outside_its_range_is_one_line_error(data_root, tmp_path, capsys, share):
    code = train_main(["--data", str(data_root), "--out", str(tmp_path / "run"), "--r1-share", share, *TINY_FLAGS])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == f"error: --r1-share must be in (0, 1], got {float(share)}"
    assert not (tmp_path / "run").exists(), "nothing written"


def test_r1_is_the_squared_gradient_norm_at_real_images():
    x = torch.randn(3, 2, requires_grad=True)
    logits = (x**2).sum(dim=1)  # gradient 2x per sample
    assert torch.allclose(r1_penalty(x, logits), (4 * x.detach() ** 2).sum(dim=1).mean())
