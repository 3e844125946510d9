"""Latent-space tools: seeds to latents, truncation and spherical interpolation.

The prior is a standard normal N(0, I) in nz dimensions. Its mass sits on a thin shell of
radius ~sqrt(nz), so interpolation goes along great circles (slerp) rather than straight lines,
which would cut through the low-density middle and give washed-out faces mid-morph.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np
import torch

MAX_SEED = 2**32 - 1


def check_seed(seed: object) -> int:
    """The seed as a Python int, or ValueError: integers (numpy's too) from 0 to MAX_SEED; not bools."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_)) and 0 <= seed <= MAX_SEED:
        return int(seed)
    raise ValueError(f"seed must be an integer from 0 to {MAX_SEED}, got {seed!r}")


def check_seeds(seeds: Iterable[int] | int) -> list[int]:
    """Return the seeds (one seed or several) as a list of ints, or raise ValueError naming the first bad one."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        seeds = [seeds]
    out = [check_seed(s) for s in seeds]
    if not out:
        raise ValueError("at least one seed is needed")
    return out


def seed_to_latent(seed: int, nz: int) -> torch.Tensor:
    """The latent of one seed: drawn on the CPU from its own generator, so it is the same
    on every device and whatever else is in the batch."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn(nz, generator=g)


def latents(seeds: Iterable[int] | int, nz: int) -> torch.Tensor:
    """Stack the latents of several seeds into (N, nz)."""
    return torch.stack([seed_to_latent(s, nz) for s in check_seeds(seeds)])


def check_truncation(psi: float) -> float:
    """Truncation is a number in (0, 1]: 1 = full variety, lower is tamer and cleaner; else ValueError."""
    if isinstance(psi, (bool, np.bool_)) or not isinstance(psi, numbers.Real) or not 0.0 < psi <= 1.0:
        raise ValueError(f"truncation must be a number in (0, 1], got {psi!r}")
    return float(psi)


def truncate(z: torch.Tensor, psi: float) -> torch.Tensor:
    """Pull latents towards the prior's mean (0) by psi."""
    return z * check_truncation(psi)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation from a (nz,) to b (nz,) at each t in [0, 1]; returns (len(t), nz).

    Direction follows the great circle, and the norm goes linearly from |a| to |b|, so every
    frame keeps a typical-set norm. t=0 and t=1 return a and b exactly.
    """
    t = t.reshape(-1, 1).to(a.dtype)
    na, nb = a.norm(), b.norm()
    ua, ub = a / na, b / nb
    omega = torch.arccos(torch.clamp(ua @ ub, -1.0, 1.0))
    if omega < 1e-6:
        direction = ua.expand(len(t), -1)
    else:
        direction = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / torch.sin(omega)
    out = direction * ((1 - t) * na + t * nb)
    out[t.reshape(-1) == 0] = a
    out[t.reshape(-1) == 1] = b
    return out
