"""The style-based generator (StyleGAN2's design, sized for 64 px): z -> mapping MLP -> w -> a
learned constant 4x4 image modulated by w at every convolution -> 64x64 RGB.

Why: in the DCGAN's z-space most attributes lie along Male, so sliders that must not change Male
lose most of their effect; the intermediate space W of a mapping network is far more linearly
separable (StyleGAN's linear-separability measurements), and truncation towards the running mean
`w_avg` trades variety for cleaner faces without leaving the distribution.

No batch norm and no noise inputs: a face depends on its latent alone, in any batch, on any device.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_limits
from .equalized import EqualLinear

RESOLUTIONS = (4, 8, 16, 32, 64)  # up to 64 px, the size of every generator's faces
MAPPING_LR_MUL = 0.01  # the mapping network learns 100 times slower than the rest (StyleGAN's)


@dataclass(frozen=True)
class StyleConfig:
    """Everything needed to rebuild the network; stored in every checkpoint's metadata."""

    nz: int = 128  # z, the prior's dimension (a seed's latent)
    w_dim: int = 256  # the intermediate latent space W
    mapping_layers: int = 4
    channels: int = 192  # feature maps at 4 to 16 px; halved at 32 px and again at 64 px
    arch: str = "style"

    LIMITS = {"nz": (1, 1024), "w_dim": (16, 1024), "mapping_layers": (1, 8), "channels": (8, 512)}

    def __post_init__(self) -> None:
        check_limits(self, self.LIMITS)
        if self.arch != "style":
            raise ValueError(f"a StyleConfig is for arch 'style', got {self.arch!r}")

    def channels_at(self, resolution: int) -> int:
        return max(self.channels // {32: 2, 64: 4}.get(resolution, 1), 4)

    def to_dict(self) -> dict:
        return asdict(self)


class ModulatedConv(nn.Module):
    """A convolution whose input channels are scaled per sample by a style from w, with weight
    demodulation (StyleGAN2) so each output keeps unit variance."""

    def __init__(self, w_dim: int, cin: int, cout: int, kernel: int, demodulate: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))  # equalised (gan/equalized.py)
        self.weight_gain = 1 / math.sqrt(cin * kernel * kernel)
        self.bias = nn.Parameter(torch.zeros(cout))
        self.affine = EqualLinear(w_dim, cin, bias_init=1.0)  # styles start near 1
        self.demodulate = demodulate
        self.padding = kernel // 2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # conv(x * s, W) * d equals a conv with per-sample weights W * s demodulated by d, but runs
        # as one ordinary batched convolution (StyleGAN2's non-fused path): fast on CPUs too
        styles = self.affine(w)  # (N, cin)
        weight = self.weight * self.weight_gain
        out = F.conv2d(x * styles[:, :, None, None], weight, padding=self.padding)
        if self.demodulate:  # d = 1 / |W * s| per sample and output channel
            d = torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8)
            out = out * d[:, :, None, None]
        return out + self.bias[None, :, None, None]


class StyleGenerator(nn.Module):
    """Maps latents z (N, nz) to images (N, 3, 64, 64), roughly in [-1, 1]."""

    def __init__(self, config: StyleConfig = StyleConfig()):
        super().__init__()
        self.config = config
        c = config
        layers: list[nn.Module] = []
        for i in range(c.mapping_layers):
            layers += [EqualLinear(c.nz if i == 0 else c.w_dim, c.w_dim, lr_mul=MAPPING_LR_MUL), nn.LeakyReLU(0.2)]
        self.mapping = nn.Sequential(*layers)
        self.register_buffer("w_avg", torch.zeros(c.w_dim))  # running mean of w, kept by training
        self.const = nn.Parameter(torch.randn(1, c.channels_at(4), 4, 4))
        self.convs = nn.ModuleList()
        self.to_rgb = nn.ModuleList()
        cin = c.channels_at(4)
        for res in RESOLUTIONS:
            cout = c.channels_at(res)
            block = [ModulatedConv(c.w_dim, cin, cout, 3)] + (
                [ModulatedConv(c.w_dim, cout, cout, 3)] if res > 4 else []
            )
            self.convs.append(nn.ModuleList(block))
            self.to_rgb.append(ModulatedConv(c.w_dim, cout, 3, 1, demodulate=False))
            cin = cout

    def map(self, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        """w of latents z, pulled towards w_avg by truncation (1 = full variety)."""
        z = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)  # onto the sphere, as StyleGAN
        w = self.mapping(z)
        return w if truncation == 1.0 else self.w_avg + truncation * (w - self.w_avg)

    def synthesis(self, w: torch.Tensor) -> torch.Tensor:
        """Images of intermediate latents w (N, w_dim)."""
        x = self.const.expand(len(w), -1, -1, -1)
        rgb = None
        for res, convs, to_rgb in zip(RESOLUTIONS, self.convs, self.to_rgb, strict=True):
            if res > 4:
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            for conv in convs:
                x = F.leaky_relu(conv(x, w), 0.2)
            y = to_rgb(x, w)
            rgb = y if rgb is None else F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False) + y
        return rgb

    def forward(self, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        return self.synthesis(self.map(z, truncation))
