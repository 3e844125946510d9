"""Differentiable augmentation (Zhao et al., 2020) for data-efficient GAN training.

On a few tens of thousands of faces the discriminator soon memorises the training set. Applying
the same random translation (and optionally colour) to real *and* generated images, in both the D
and the G step, keeps it honest without the generator learning to draw the augmentations (they are
applied after it, differentiably). The default policy is translation alone, the one the shipped
model was trained with; docs/training/README.md has the measurements behind that choice.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def color(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    r = lambda: torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype)  # noqa: E731
    x = x + (r() - 0.5)  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (r() * 2) + mean  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (r() + 0.5) + mean  # contrast


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio of its size, filling with zeros (one grid_sample)."""
    n = x.shape[0]
    shift = (torch.rand(n, 2, device=x.device) * 2 - 1) * (2 * ratio)  # in [-1, 1] grid units
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid.to(x.dtype), mode="nearest", padding_mode="zeros", align_corners=False)


POLICIES = {"none": (), "translation": (translation,), "color,translation": (color, translation)}


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    """Apply a policy's transforms in order. (Cutout starves a batch-norm discriminator.)"""
    for transform in POLICIES[policy]:
        x = transform(x)
    return x
