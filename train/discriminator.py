"""The discriminators: the DCGAN convnet (stride-2 convolutions, batch norm, leaky ReLU), paired
with the DCGAN generators, and a residual one without batch norm for the style-based generator.

Real and generated batches go through it separately, so each batch-norm pass sees one kind
of image, as in the DCGAN recipe. Kept deliberately classic: the gains of this project's
recipe come from speed (CUDA graphs), augmentation against overfitting, and the generator's EMA.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gan.equalized import EqualConv2d, EqualLinear


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


class ResidualDiscriminator(nn.Module):
    """Image (N, 3, 64, 64) -> realness logit (N,), without batch norm: each sample is judged on
    its own, which R1 needs (its gradient is per sample) and which keeps the discriminator from
    learning batch statistics. Residual blocks halve the resolution 64 -> 4 (as StyleGAN2's D); its
    layers have the equalised learning rate of the style generator's (gan/equalized.py)."""

    def __init__(self, ndf: int = 64):
        super().__init__()
        widths = [ndf, 2 * ndf, 4 * ndf, 4 * ndf, 4 * ndf]  # at 64, 32, 16, 8, 4 px
        self.from_rgb = EqualConv2d(3, widths[0], 1)
        self.blocks = nn.ModuleList(_ResidualDown(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.head = nn.Sequential(
            EqualConv2d(widths[-1], widths[-1], 3),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            EqualLinear(widths[-1] * 16, widths[-1]),
            nn.LeakyReLU(0.2),
            EqualLinear(widths[-1], 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.from_rgb(x), 0.2)
        for block in self.blocks:
            x = block(x)
        return self.head(x).flatten()


class _ResidualDown(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = EqualConv2d(cin, cin, 3)
        self.conv2 = EqualConv2d(cin, cout, 3)
        self.skip = EqualConv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.leaky_relu(self.conv1(x), 0.2)
        y = F.avg_pool2d(F.leaky_relu(self.conv2(y), 0.2), 2)
        return (y + F.avg_pool2d(self.skip(x), 2)) / math.sqrt(2)  # unit variance through the sum
