"""The random-face critic: which seeds draw a face worth showing, judged from the seed's latent alone.

A small MLP scores a prior latent z (N, nz); a face whose score is below `threshold` is one the
generator tends to draw badly (melted features, a patch over an eye, a second mouth). It reads z,
not the image, so picking a good random seed costs no generator work: the bot still draws exactly
one face per request, in the same batches as explicit seeds. `python -m train.critic` fits it
(distilled from a face detector's confidence in the rendered faces) and writes it beside the generator;
docs/random_faces.md says how it was chosen and what it costs in variety and fairness.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from .checkpoint import CheckpointError, load_tensors, save_tensors
from .checks import is_whole

MAX_HIDDEN = 4096  # a critic wider than this is not one this project fits: refuse the file


class LatentCritic(nn.Module):
    """z (N, nz) -> realism score (N,); `accepts` says which clear the fitted threshold."""

    def __init__(self, nz: int, hidden: int, threshold: float = 0.0):
        super().__init__()
        self.nz, self.hidden, self.threshold = nz, hidden, threshold
        self.net = nn.Sequential(
            nn.Linear(nz, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)

    @torch.inference_mode()
    def score(self, z: torch.Tensor) -> torch.Tensor:
        """(N,) float scores of CPU latents; higher is more realistic."""
        return self(z.float())

    def accepts(self, z: torch.Tensor) -> torch.Tensor:
        """(N,) bools: which latents' faces are worth showing."""
        return self.score(z) >= self.threshold

    def save(self, path: Path | str, meta: dict) -> None:
        """fp16 weights with the shape and threshold in the metadata (a few hundred KiB)."""
        state = {k: v.half() for k, v in self.state_dict().items()}
        save_tensors(path, state, {**meta, "nz": self.nz, "hidden": self.hidden, "threshold": self.threshold})

    @classmethod
    def load(cls, path: Path | str, nz: int) -> LatentCritic:
        """The critic in `path`, for latents of width nz; CheckpointError naming the file otherwise."""
        tensors, meta = load_tensors(path)
        hidden, threshold, width = meta.get("hidden"), meta.get("threshold"), meta.get("nz")
        if not is_whole(hidden, 1, MAX_HIDDEN):
            raise CheckpointError(path, f"critic width must be an integer from 1 to {MAX_HIDDEN}, got {hidden!r}")
        if width != nz:
            raise CheckpointError(path, f"critic reads latents of width {width!r}, but the generator's are {nz}")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
            raise CheckpointError(path, f"critic threshold must be a finite number, got {threshold!r}")
        critic = cls(nz, hidden, float(threshold))
        try:
            critic.load_state_dict({k: v.float() for k, v in tensors.items()})
        except (RuntimeError, TypeError) as e:
            raise CheckpointError(path, f"tensors do not match the critic: {e}") from None
        if not all(torch.isfinite(p).all() for p in critic.parameters()):
            raise CheckpointError(path, "critic weights hold NaN or infinity")
        return critic.eval()
