"""The generator network: latent vector in, 64x64 RGB face out.

A DCGAN stack of stride-2 transposed convolutions, cheap on a CPU (one face in a few ms).
Two DCGAN architectures, named in every checkpoint's config (the style-based one is in style.py):
- "dcgan": the classic stack, the same shape as the reference model, so comparisons with it
  measure the training recipe alone; the fastest to train and to serve;
- "dcgan-refine": one extra 3x3 convolution at 8, 16 and 32 px, room to refine features at
  each scale for about twice the generator's compute (the first shipped models).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .checks import check_limits
from .style import StyleConfig, StyleGenerator

IMAGE_SIZE = 64  # every generator draws 64x64 faces


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything needed to rebuild the network; stored in every checkpoint's metadata."""

    nz: int = 100
    ngf: int = 64
    arch: str = "dcgan"

    ARCHS = ("dcgan", "dcgan-refine")  # the style-based generator has its own config (gan/style.py)
    LIMITS = {"nz": (1, 1024), "ngf": (4, 256)}  # checked before a tensor is allocated

    def __post_init__(self) -> None:
        check_limits(self, self.LIMITS)
        if self.arch not in self.ARCHS:
            raise ValueError(f"unsupported generator architecture {self.arch!r} (expected one of {self.ARCHS})")

    def to_dict(self) -> dict:
        return asdict(self)


ARCHS = (*GeneratorConfig.ARCHS, StyleConfig.arch)  # every generator a checkpoint can name


def config_from_dict(d: dict) -> GeneratorConfig | StyleConfig:
    """The config a checkpoint's metadata describes, checked (sizes bounded) before anything is built."""
    if not isinstance(d, dict):
        raise ValueError(f"the config must be a JSON object, got {type(d).__name__}")
    if d.get("arch", "dcgan") not in ARCHS:
        raise ValueError(f"unsupported generator architecture {d['arch']!r} (expected one of {ARCHS})")
    cls = StyleConfig if d.get("arch") == "style" else GeneratorConfig
    unknown = set(d) - set(cls.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown generator config keys: {sorted(unknown)}")
    return cls(**d)


def build_generator(config: GeneratorConfig | StyleConfig) -> nn.Module:
    return StyleGenerator(config) if isinstance(config, StyleConfig) else Generator(config)


def _upsample(cin: int, cout: int, first: bool = False) -> nn.Sequential:
    conv = (
        nn.ConvTranspose2d(cin, cout, 4, 1, 0, bias=False)
        if first
        else nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False)
    )
    return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _refine(c: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))


class Generator(nn.Module):
    """Maps latents (N, nz) to images (N, 3, 64, 64) in [-1, 1]."""

    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        self.config = config
        c = config.ngf
        layers = [_upsample(config.nz, 8 * c, first=True)]  # 4x4
        for cin, cout in ((8 * c, 4 * c), (4 * c, 2 * c), (2 * c, c)):  # 8x8, 16x16, 32x32
            layers.append(_upsample(cin, cout))
            if config.arch == "dcgan-refine":
                layers.append(_refine(cout))
        self.net = nn.Sequential(*layers, nn.ConvTranspose2d(c, 3, 4, 2, 1), nn.Tanh())  # 64x64
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.reshape(z.shape[0], self.config.nz, 1, 1))


def fuse_batchnorm(g: Generator) -> Generator:
    """Fold each eval-mode BatchNorm into the convolution before it, in place.

    Inference then runs conv+bias+ReLU only: faster on a CPU, with the same outputs.
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
