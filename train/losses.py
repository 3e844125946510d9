"""The GAN losses, on the discriminator's logits: the classic DCGAN objective.

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
