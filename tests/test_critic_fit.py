"""Fitting the random-face critic on a few hundred faces, for the DCGAN and the style-based generator,
and the realism measures it rests on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan import Faces
from gan.faces import CRITIC_FILE, GENERATOR_FILE
from tests.conftest import tiny_model
from train.critic import main as critic_main
from train.face_scores import attribute_neutral, precision_recall, realism

TINY = ["--samples", "300", "--real", "40", "--faces", "40", "--pixel-steps", "3"]


@pytest.mark.parametrize("kind", ["dcgan", "style"])
def test_fit_then_report_on_a_tiny_model(data_root, tmp_path, kind):
    folder = tiny_model(tmp_path / "model", kind)
    args = ["--weights", str(folder), "--data", str(data_root), "--cache", str(tmp_path / "cache"), *TINY]
    assert critic_main(args) == 0
    faces = Faces.load(folder / GENERATOR_FILE)
    assert faces.critic is not None and faces.critic.nz == faces.nz
    seeds = faces.random_seeds(30, np.random.default_rng(0))
    assert faces.critic.accepts(faces.latent(seeds)).all()
    report = tmp_path / "docs" / "random_faces.md"
    assert critic_main([*args, "--report", "--report-file", str(report)]) == 0
    text = report.read_text()
    assert "shipped: Faces.random_seeds" in text and "| Smiling |" in text
    for name in ("before", "after", "rejected"):
        assert (report.parent / "random_faces" / f"{name}.png").stat().st_size > 0


def test_report_without_a_critic_is_one_clear_error(data_root, tmp_path, capsys):
    folder = tiny_model(tmp_path / "model", "dcgan")
    assert critic_main(["--weights", str(folder), "--data", str(data_root), "--report", *TINY]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and CRITIC_FILE in err and len(err.strip().splitlines()) == 1


def test_bad_fitting_flags_are_one_clear_error(tmp_path, capsys):
    assert critic_main(["--drop", "1.5"]) == 2
    assert "--drop must be in [0, 1)" in capsys.readouterr().err


def test_realism_is_high_inside_the_real_cloud_and_low_far_from_it():
    torch.manual_seed(0)
    real = torch.randn(400, 8)
    inside, outside = torch.randn(50, 8) * 0.3, torch.randn(50, 8) + 20
    scores = realism(torch.cat([inside, outside]), real)
    assert (scores[:50] >= 1).all() and (scores[50:] < 0.5).all()


def test_precision_and_recall_see_a_collapsed_generator():
    torch.manual_seed(0)
    real = torch.randn(500, 4)
    collapsed = torch.randn(500, 4) * 0.1  # every sample near the mean: realistic, little variety
    precision, recall = precision_recall(collapsed, real)
    assert precision > 0.9 and recall < 0.3
    same = precision_recall(torch.randn(500, 4), real)
    assert min(same) > 0.6


def test_attribute_neutral_removes_what_the_attributes_explain():
    torch.manual_seed(0)
    probs = torch.rand(1000, 40)
    own = torch.randn(1000)
    score = 3 * probs[:, 31] - 2 * probs[:, 20] + own
    neutral = attribute_neutral(score, probs)
    assert abs(np.corrcoef(neutral.numpy(), probs[:, 31].numpy())[0, 1]) < 0.01
    assert np.corrcoef(neutral.numpy(), own.numpy())[0, 1] > 0.95
