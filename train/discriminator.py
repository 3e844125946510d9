"""The discriminator: the DCGAN convnet (stride-2 convolutions, batch norm, leaky ReLU).

Real and generated batches go through it separately, so each batch-norm pass sees one kind
of image, as in the DCGAN recipe. Kept deliberately classic: the gains of this project's
recipe come from speed (CUDA graphs), augmentation against overfitting, and the generator's EMA.
"""

from __future__ import annotations

import torch
from torch import nn


class Discriminator(nn.Module):
    """Image (N, 3, 64, 64) in [-1, 1] -> realness logit (N,)."""

    def __init__(self, ndf: int = 64):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        c = ndf
        for _ in range(3):  # 32 -> 16 -> 8 -> 4
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2, inplace=True)]
            c *= 2
        layers.append(nn.Conv2d(c, 1, 4, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()
