"""Regions of the 64 px aligned face, and edits drawn inside one region only.

A slider whose change belongs to one part of the face (a beard: the jaw) can be a *regional*
slider: the generator draws the face with its edits and without that slider's, and from BLEND_PX on
draws the edited face's features inside the region and the other's outside, the region's edge
feathered, so the layers after it draw the seam. What lies outside, the eyes, nose and brows a
recognizer reads, stays the face's own (docs/sliders.md, twelfth round).

Such an edit travels as a *drawing*, one row per face: [edited latent | the latent without the regional
edits | one weight in [0, 1] per region in REGION_NAMES]. `Faces.decode` takes drawings as well as plain
latents; a drawing whose weights are all 0 draws its edited latent as a plain latent would.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import torch
import torch.nn.functional as F

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
BLEND_PX = 16  # the feature size at which a regional edit is blended in (the DCGAN's 16 px block)
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


def _weights(regions: set[str]) -> torch.Tensor:
    """(1, regions) a drawing's weights: 1 for each region in `regions`, 0 for the others."""
    return torch.tensor([[float(name in regions) for name in REGION_NAMES]])


def drawing(edited: torch.Tensor, base: torch.Tensor, regions: set[str]) -> torch.Tensor:
    """(N, 2 dim + regions) rows of latents `edited` drawn inside `regions` over `base` outside them."""
    return torch.cat([edited, base, _weights(regions).expand(len(edited), -1)], dim=1)


def drawing_width(dim: int) -> int:
    return 2 * dim + len(REGION_NAMES)


def split(rows: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A drawing's edited latents, base latents and region weights (the weights clamped to [0, 1])."""
    return rows[:, :dim], rows[:, dim : 2 * dim], rows[:, 2 * dim :].clamp(0, 1)


def masks(weights: torch.Tensor) -> torch.Tensor:
    """(N, 1, 64, 64) where each face takes its edited latent: the union of its regions, each as far as
    its weight says."""
    feathered = _feathered().to(weights.device)
    return 1 - torch.prod(1 - weights[:, :, None, None] * feathered[:, 0], dim=1, keepdim=True)


def region_mask(region: str) -> torch.Tensor:
    """(1, 1, 64, 64) where a drawing of one regional edit takes its edited latent (`masks` of its weights)."""
    return masks(_weights({region}))


def blended(
    draw: Callable[[torch.Tensor], torch.Tensor], edited: torch.Tensor, base: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """`draw`'s output (latents -> images) for `edited` inside `mask` (N, 1, 64, 64) and `base` outside:
    blended in the DCGAN's BLEND_PX features, or in pixels for any other generator. Differentiable in
    `edited` (the editors learn through it)."""
    if not isinstance(draw, Generator):
        x, x_base = draw(edited), draw(base)
        mask = mask.to(x.device, x.dtype)
        return mask * x + (1 - mask) * x_base
    h, h_base = (z.reshape(len(z), -1, 1, 1) for z in (edited, base))
    for i, block in enumerate(draw.net):
        h, h_base = block(h), block(h_base)
        if h.shape[-1] == BLEND_PX:
            m = F.interpolate(mask.to(h.device, h.dtype), size=h.shape[-2:], mode="area")
            return draw.net[i + 1 :](m * h + (1 - m) * h_base)
    raise ValueError(f"the generator has no {BLEND_PX} px block to blend a regional edit in")


def joined(parts: list[torch.Tensor]) -> torch.Tensor:
    """Latents and drawings concatenated for one decode call: where both come, the latents as drawings
    of themselves."""
    widths = {p.shape[1] for p in parts}
    if len(widths) == 1:
        return torch.cat(parts)
    dim = min(widths)
    if widths != {dim, drawing_width(dim)}:
        raise ValueError(f"rows of widths {sorted(widths)} are neither latents nor their drawings")
    return torch.cat([drawing(p, p, set()) if p.shape[1] == dim else p for p in parts])
