"""Regions of the 64 px aligned face, and edits drawn inside one region only.

A slider whose change belongs to one part of the face (a beard: the jaw) can be a *regional*
slider: the generator draws the face with its edits and without that slider's, and from the region's
BLEND_PX on draws the edited face's features inside the region and the other's outside, the region's edge
feathered, so the layers after it draw the seam. What lies outside, the eyes, nose and brows a
recognizer reads, stays the face's own (docs/sliders.md, twelfth round).

Such an edit travels as a *drawing*, one row per face: [base latent | one latent per region in
REGION_NAMES | one weight in [0, 1] per region]. The base latent, drawn everywhere, carries the face's
whole-face edits; each region's latent carries those and the regional edits of that region, and is
drawn inside it as far as its weight says, in DRAW_ORDER (a later region on top where two
overlap). Each regional edit keeps a latent of its own, so two of them (gray hair and makeup) do not
add up into one latent that changes the person (docs/sliders.md, fourteenth round). A region whose
weight is 0 holds the base latent, so drawings interpolate slot by slot. `Faces.decode` takes drawings
as well as plain latents; a drawing whose weights are all 0 draws its base latent as a plain latent would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

from .model import IMAGE_SIZE, Generator

Boxes = tuple[tuple[int, int, int, int], ...]
# Boxes (x0, y0, x1, y1) in the 64 px aligned faces, from dlib's 68 landmarks on holdout faces:
# eyes at y 29-31, brows 23, mouth y 45-51 and x 24-39, chin 60, cheeks x 13-51.
REGIONS: dict[str, Boxes] = {
    "eyes": ((8, 18, 56, 38),),
    "mouth": ((14, 36, 50, 62),),
    "lower_face": ((8, 36, 56, 64),),
    "face": ((12, 16, 52, 62),),
    "hair": ((0, 0, 64, 26), (0, 0, 18, 64), (46, 0, 64, 64)),  # all but the inner face
    "all": ((0, 0, 64, 64),),
    "jaw": ((8, 40, 56, 64),),  # chin, jaw and lower cheeks: where a beard grows, the nose and eyes left out
    # above the forehead and beside the face: where the hair is, the forehead and brows left out
    "scalp": ((0, 0, 64, 15), (0, 0, 15, 64), (49, 0, 64, 64)),
    # brows, lids and lashes, and the lips: where makeup is drawn, the skin around them left out
    "lids_lips": ((14, 21, 50, 31), (20, 42, 44, 56)),
}
REGION_NAMES = tuple(REGIONS)  # the order of a drawing's weights: append new regions, never reorder
# the order a drawing's regions are drawn in, a later one on top where two overlap: a beard over the lips'
# makeup (lipstick over the moustache hid the beard), gray hair over the beard's and a bald head's sides
DRAW_ORDER = ("all", "face", "lower_face", "mouth", "eyes", "hair", "lids_lips", "jaw", "scalp")
# the feature size at which each region's edit is blended in: the DCGAN's 8 px block, the cheapest to draw a
# region's features to; the lids and lips at 16 px, whose lipstick an 8 px blend draws faint (docs/sliders.md)
BLEND_PX = {name: 16 if name == "lids_lips" else 8 for name in REGIONS}
FEATHER_PX = 3.0  # standard deviation, in image pixels, of the Gaussian that softens a region's edge


def box_mask(boxes: Boxes) -> torch.Tensor:
    """(1, 1, 64, 64) float mask: 1 in the boxes, 0 elsewhere."""
    mask = torch.zeros(1, 1, IMAGE_SIZE, IMAGE_SIZE)
    for x0, y0, x1, y1 in boxes:
        mask[..., y0:y1, x0:x1] = 1
    return mask


@cache
def _feathered() -> torch.Tensor:
    """(regions, 1, 64, 64): each region's mask with its edge blurred by FEATHER_PX."""
    half = int(3 * FEATHER_PX)
    x = torch.arange(-half, half + 1, dtype=torch.float32)
    g = torch.exp(-(x**2) / (2 * FEATHER_PX**2))
    g = g / g.sum()
    masks = torch.cat([box_mask(REGIONS[name]) for name in REGION_NAMES])
    masks = F.conv2d(F.pad(masks, (half,) * 4, mode="replicate"), g.reshape(1, 1, 1, -1))
    return F.conv2d(masks, g.reshape(1, 1, -1, 1))


def drawing(base: torch.Tensor, layers: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
    """(N, drawing_width(dim)) rows drawing latents `base` (N, dim) everywhere and each of `layers`
    (region name -> latents (N, dim)) inside its region."""
    layers = dict(layers or {})
    unknown = set(layers) - set(REGIONS)
    if unknown:
        raise ValueError(f"unknown regions {sorted(unknown)} (expected some of {', '.join(REGIONS)})")
    weights = torch.tensor([[float(name in layers) for name in REGION_NAMES]]).expand(len(base), -1)
    return torch.cat([base, *(layers.get(name, base) for name in REGION_NAMES), weights], dim=1)


def drawing_width(dim: int) -> int:
    return (1 + len(REGION_NAMES)) * dim + len(REGION_NAMES)


def split(rows: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A drawing's base latents (N, dim), region latents (N, regions, dim) and region weights (N, regions),
    the weights clamped to [0, 1]."""
    n = len(REGION_NAMES)
    return rows[:, :dim], rows[:, dim : (1 + n) * dim].reshape(len(rows), n, dim), rows[:, (1 + n) * dim :].clamp(0, 1)


def region_mask(region: str, weights: torch.Tensor | None = None) -> torch.Tensor:
    """(N, 1, 64, 64) where a drawing takes its `region` latent: the region's feathered mask, times each
    face's weight (N,) for it (one face at weight 1 when `weights` is None)."""
    mask = _feathered()[REGION_NAMES.index(region)][None]
    # a copy: the cached masks may have been made in inference mode, which autograd may not save
    return mask.clone() if weights is None else weights[:, None, None, None] * mask.to(weights.device)


def blended(
    draw: Callable[[torch.Tensor], torch.Tensor],
    base: torch.Tensor,
    layers: Sequence[tuple[str, torch.Tensor, torch.Tensor]],
) -> torch.Tensor:
    """`draw`'s output (latents -> images) for `base` with each of `layers` (region, latents, mask (N or 1, 1,
    64, 64)) drawn over it inside its mask, in order: blended in the DCGAN's features of the region's BLEND_PX,
    or in pixels for any other generator. A layer blended at a finer size than a later one is drawn under it
    all the same (its mask less the later one's). Differentiable in the latents (the editors learn through it);
    drawn without gradients on a CPU, the regions' features come from `_features`, the face's own as a plain
    decode's."""
    if not isinstance(draw, Generator):
        x = draw(base)
        for _, z, mask in layers:
            mask = mask.to(x.device, x.dtype)
            x = mask * draw(z) + (1 - mask) * x
        return x
    fast = base.device.type == "cpu" and not torch.is_grad_enabled()
    sizes = {BLEND_PX[region] for region, _, _ in layers}
    h = base.reshape(len(base), -1, 1, 1)
    for i, block in enumerate(draw.net):
        h = block(h)  # the face's own features, as a plain decode draws them
        size = h.shape[-1]
        for k, (region, z, mask) in enumerate(layers):
            if BLEND_PX[region] != size:
                continue
            for later, _, over in layers[k + 1 :]:
                mask = mask * (1 - over) if BLEND_PX[later] < size else mask  # drawn over this one, but earlier
            m = F.interpolate(mask.to(h.device, h.dtype), size=h.shape[-2:], mode="area")
            inside = _features(draw.net[: i + 1], z) if fast else draw.net[: i + 1](z.reshape(len(z), -1, 1, 1))
            h = torch.lerp(h, inside, m)
        sizes.discard(size)
        if not sizes:
            return draw.net[i + 1 :](h)
    raise ValueError(f"the generator has no {min(sizes)} px block to blend a regional edit in")


@cache
def bfloat16_units() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16, AMX): there a region's features are drawn
    in bfloat16, several times float32's speed (docs/benchmarks.md)."""
    supported = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(torch.backends.mkldnn.is_available() and supported is not None and supported())


def _features(blocks: nn.Sequential, z: torch.Tensor) -> torch.Tensor:
    """`blocks(z)` in z's dtype for latents z (N, nz) on a CPU, for a region's features only (the face's own go
    through the blocks as they are), drawn for speed: in bfloat16 where `bfloat16_units`, and each fused DCGAN
    block whose input is at most 4 px (transposed convolution, bias, ReLU) as one matrix product and its
    overlap-add, which a CPU runs several times faster than ConvTranspose2d at that size. Equal to the blocks
    up to bfloat16's rounding (about 0.4 %): a grey level or two in the region drawn."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16_units()):
        h = z.reshape(len(z), -1, 1, 1)
        for block in blocks:
            conv = block[0] if isinstance(block, nn.Sequential) and isinstance(block[1], nn.Identity) else None
            if _as_product(conv) and h.shape[-1] <= 4:
                h = torch.relu(_overlap_added(conv, h))
            else:
                h = block(h)
    return h.to(z.dtype).contiguous()


def _as_product(conv: nn.Module | None) -> bool:
    """Whether `_overlap_added` draws this layer: a DCGAN's square transposed convolution."""
    return (
        isinstance(conv, nn.ConvTranspose2d)
        and conv.kernel_size == (4, 4)
        and conv.stride[0] == conv.stride[1]
        and conv.padding[0] == conv.padding[1]
        and conv.output_padding == (0, 0)
        and conv.dilation == (1, 1)
        and conv.groups == 1
    )


def _overlap_added(conv: nn.ConvTranspose2d, h: torch.Tensor) -> torch.Tensor:
    """conv(h) for a 4x4 kernel: each input pixel's (4, 4) patch of the output as one matrix product, the
    patches added where they overlap."""
    n, cin, size = h.shape[0], h.shape[1], h.shape[-1]
    cout, stride, pad = conv.out_channels, conv.stride[0], conv.padding[0]
    patches = h.permute(0, 2, 3, 1).reshape(-1, cin) @ conv.weight.permute(0, 2, 3, 1).reshape(cin, -1)
    patches = patches.view(n, size, size, 4, 4, cout)
    full = (size - 1) * stride + 4  # the output before its padding is cropped
    out = h.new_zeros(n, full, full, cout, dtype=torch.float32)
    for ky in range(4):
        for kx in range(4):
            out[:, ky : ky + stride * size : stride, kx : kx + stride * size : stride] += patches[:, :, :, ky, kx]
    out = out[:, pad : full - pad, pad : full - pad]
    return (out if conv.bias is None else out + conv.bias).permute(0, 3, 1, 2).to(h.dtype).contiguous()


def joined(parts: list[torch.Tensor]) -> torch.Tensor:
    """Latents and drawings concatenated for one decode call: where both come, the latents as drawings
    of themselves."""
    widths = {p.shape[1] for p in parts}
    if len(widths) == 1:
        return torch.cat(parts)
    dim = min(widths)
    if widths != {dim, drawing_width(dim)}:
        raise ValueError(f"rows of widths {sorted(widths)} are neither latents nor their drawings")
    return torch.cat([drawing(p) if p.shape[1] == dim else p for p in parts])
