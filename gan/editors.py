"""Per-face slider moves: for each slider, a small network says how to move *this* face's latent.

One global direction per attribute moves every face the same way, and for this generator that
way also changes who the face is (docs/sliders.md). A `FaceEditor` adds a learned, face-dependent
correction to the slider's fitted direction, in the spirit of the Latent Transformer (Yao et al.,
ICCV 2021): trained through the frozen generator and the attribute classifier to change the
slider's attribute and hold everything else (`python -m train.attributes`).

The edit stays a straight ray from the face for each sign of the slider (the move per slider
unit depends on the face and the sign, not on the value), so moving a slider further moves the
face further the same way.
"""

from __future__ import annotations

import torch
from torch import nn

MAX_HIDDEN = 1024  # an editor wider than this is not one this project fits: refuse the file


class FaceEditor(nn.Module):
    """latents (N, dim) and sides (N,) of +-1 -> (N, dim) correction of the move per slider unit
    (side +1: more of what the slider says; -1: less). Zero at initialisation: the slider's
    global direction unchanged."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.dim, self.hidden = dim, hidden
        self.register_buffer("center", torch.zeros(dim))  # latents are standardised before the network
        self.register_buffer("scale", torch.ones(()))
        self.net = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 2 * dim),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, z: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
        both = self.net((z - self.center) / self.scale).view(len(z), 2, self.dim)
        return torch.where(side.unsqueeze(1) > 0, both[:, 0], both[:, 1])


def along(z: torch.Tensor, direction: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Latents moved by t (N,) along direction ((dim,) or one per latent (N, dim)), rescaled to their
    original norms, so an edited latent stays on the prior's shell where the generator draws well."""
    moved = z + t.unsqueeze(1) * direction
    return moved * (z.norm(dim=1, keepdim=True) / moved.norm(dim=1, keepdim=True))
