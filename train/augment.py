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
    """Shift each image by a whole number of pixels, up to ratio of its size, filling with zeros.
    Gathered by index rather than grid_sample, whose CUDA backward has no derivative of its own: R1
    differentiates D's gradient at the augmented real faces."""
    n, _, h, w = x.shape
    reach_y, reach_x = round(h * ratio), round(w * ratio)
    dy = torch.randint(-reach_y, reach_y + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-reach_x, reach_x + 1, (n, 1, 1), device=x.device)
    rows = (torch.arange(h, device=x.device)[None, :, None] + dy + 1).clamp(0, h + 1)  # in the padded image
    cols = (torch.arange(w, device=x.device)[None, None, :] + dx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # (N, H + 2, W + 2, C): the border is the fill
    shifted = padded[torch.arange(n, device=x.device)[:, None, None], rows, cols]
    return shifted.permute(0, 3, 1, 2)


POLICIES = {"none": (), "translation": (translation,), "color,translation": (color, translation)}


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    """Apply a policy's transforms in order. (Cutout starves a batch-norm discriminator.)"""
    for transform in POLICIES[policy]:
        x = transform(x)
    return x
