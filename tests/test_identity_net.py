"""The distilled stand-in for dlib's recognizer: it learns dlib's embeddings of the generator's faces,
round-trips through its file, and the editors refuse an identity weight without it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan.checkpoint import CheckpointError, save_tensors
from train.identity import recognizer
from train.identity_net import IdentityNet, agreement, distill, edited_pairs, load_identity_net, main


def test_distilled_from_dlib_on_faces_and_their_edits(faces, tmp_path):
    images = edited_pairs(faces, 24, seed=0)
    assert images.shape == (48, 64, 64, 3) and not np.array_equal(images[:24], images[24:]), "each face edited"
    targets = recognizer()(images)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    torch.manual_seed(0)
    untrained = IdentityNet().eval()(x).detach().numpy()
    net = distill(images, targets, epochs=20, batch=24, progress=False)
    out = net(x).numpy()
    assert out.shape == (48, 128)
    assert np.abs(out - targets).mean() < 0.5 * np.abs(untrained - targets).mean(), "it learned dlib's embeddings"
    corr, agree, scale = agreement(net, images, targets)
    assert -1 <= corr <= 1 and 0 <= agree <= 1 and scale > 0
    save_tensors(tmp_path / "id.safetensors", dict(net.state_dict()), {"width": net.width})
    again = load_identity_net(tmp_path / "id.safetensors")
    assert torch.equal(again(torch.zeros(1, 3, 64, 64)), net(torch.zeros(1, 3, 64, 64)))


def test_a_file_that_is_not_an_identity_net_is_refused(tmp_path):
    save_tensors(tmp_path / "bad.safetensors", {"head.weight": torch.zeros(3, 3)}, {"width": 32})
    with pytest.raises(CheckpointError, match="not an identity net"):
        load_identity_net(tmp_path / "bad.safetensors")


def test_faces_edited_by_two_sliders_start_from_the_same_prior_faces(faces):
    once = edited_pairs(faces, 6, seed=3, two=0.0)
    twice = edited_pairs(faces, 6, seed=3, two=1.0)
    assert np.array_equal(once[:6], twice[:6]), "the same prior faces"
    assert not np.array_equal(once[6:], twice[6:]), "their edits differ"


@pytest.mark.parametrize(
    "flags, says",
    [(["--two-edits", "1.5"], "--two-edits is a share"), (["--pair-weight", "-1"], "--pair-weight must be 0 or more")],
)
def test_distilling_refuses_bad_settings_before_it_starts(flags, says, tmp_path, capsys):
    assert main([*flags, "--out", str(tmp_path / "id.safetensors"), "--cache", str(tmp_path)]) == 2
    assert says in capsys.readouterr().err
    assert not any(tmp_path.iterdir()), "nothing written"
