"""The GAN losses, on the discriminator's logits: the classic DCGAN objective, and R1.

softplus(-x) = -log sigmoid(x), so these are binary cross-entropy with "real" = 1, written on
logits for numerical stability (and in bf16 under autocast on a GPU).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """BCE: push D(real) towards 1 and D(fake) towards 0."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating: maximise log D(fake) rather than minimise log(1 - D(fake)), whose gradient
    vanishes exactly when the generator is worst."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(real: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al., 2018): the squared gradient norm of D at real images, per sample,
    averaged. Penalising it keeps D from sharpening around the training faces; `real` must
    require grad before D sees it."""
    (grad,) = torch.autograd.grad(real_logits.float().sum(), real, create_graph=True)
    return grad.float().square().flatten(1).sum(dim=1).mean()
