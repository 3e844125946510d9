"""Attribute sliders: named latent directions and how an edit moves a latent along them.

Each slider has a record (CelebA attribute, sign, kind, range, the attributes its direction was
made orthogonal to, fitted accuracy) and a `direction` (unit, already projected off its
conditions); a toggle also has an `offset`: its boundary is `direction . z + offset = 0`.

- slider, value v in [-3, 3]: z + v * unit * sign * direction, a relative move, rescaled to the norm
  z had, so the edited latent stays on the prior's typical shell where the generator draws well
  (an unscaled +3 would push it far outside and open mouths, blur faces...). `unit` is in prior
  standard deviations, fitted so that +-3 is a strong edit.
- toggle, "on"/"off": moves z along `direction` (keeping its norm) only as far as needed to stand
  `margin` on the asked-for side of the boundary; a face already there is left alone, so toggles
  are idempotent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import CheckpointError, load_tensors, save_tensors

SLIDER_RANGE = (-3.0, 3.0)
TOGGLE_VALUES = ("off", "on")
TOGGLE_MAX_MOVE = 100.0  # latent units: enough to turn any latent to within TOGGLE_REACH of the direction
TOGGLE_REACH = 0.9  # a toggle asks at most for direction . z = 0.9 |z| (see AttributeSet._toggle)
KEY = re.compile(r"[a-z0-9]{2}")
Edits = Mapping[str, "float | int | str"]


@dataclass
class Attribute:
    name: str
    key: str  # two letters or digits, fixed for this slider across refits: what buttons store
    celeba: str
    sign: int
    kind: str  # "slider" or "toggle"
    conditions: list[str]
    accuracy: float
    description: str
    direction: torch.Tensor  # (nz,) unit
    unit: float = 1.0  # slider step, latent units per slider unit
    margin: float = 0.0  # toggle: distance past the boundary
    offset: float = 0.0  # toggle: direction . z + offset = 0 on the boundary

    def info(self) -> dict:
        """The public record, as a plain JSON-able dict."""
        rng = list(SLIDER_RANGE) if self.kind == "slider" else list(TOGGLE_VALUES)
        return {
            "name": self.name,
            "celeba": self.celeba,
            "sign": self.sign,
            "kind": self.kind,
            "range": rng,
            "conditions": list(self.conditions),
            "accuracy": self.accuracy,
            "description": self.description,
        }


class AttributeSet:
    """The sliders of one generator, in display order."""

    def __init__(self, attributes: list[Attribute] | None = None, boundaries: dict[str, torch.Tensor] | None = None):
        self._by_name = {a.name: a for a in attributes or []}
        self.by_key = {a.key: a for a in self._by_name.values()}
        bad = [a.key for a in self._by_name.values() if not KEY.fullmatch(a.key)]
        if bad or len(self.by_key) != len(self._by_name):
            raise ValueError(f"slider keys must be unique and match {KEY.pattern}: {[a.key for a in self]}")
        self.boundaries = boundaries or {}  # CelebA attribute -> fitted unit normal (sliders' conditions)
        self.fingerprint = self._fingerprint()

    def _fingerprint(self) -> str:
        """4 hex digits that change whenever any slider is refitted, added or removed."""
        h = hashlib.sha1()
        for a in sorted(self, key=lambda a: a.key):
            h.update(f"{a.key}|{a.kind}|{a.sign}|{a.unit}|{a.margin}|{a.offset}|".encode())
            h.update(a.direction.float().numpy().tobytes())
        return h.hexdigest()[:4]

    def __iter__(self) -> Iterator[Attribute]:
        return iter(self._by_name.values())

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    def __getitem__(self, name: str) -> Attribute:
        if name not in self._by_name:
            raise ValueError(f"unknown attribute {name!r}; valid names: {self._valid()}")
        return self._by_name[name]

    def _valid(self) -> str:
        return ", ".join(self._by_name) if self._by_name else "none (no sliders are installed)"

    def check(self, edits: Edits | None) -> dict[str, float | str]:
        """Validate edits; return them normalised (slider values as float). Raises ValueError."""
        if edits is not None and not isinstance(edits, Mapping):
            raise ValueError(f"edits must be a mapping of slider names to values, e.g. {{'smiling': 2}}; got {edits!r}")
        out: dict[str, float | str] = {}
        for name, value in (edits or {}).items():
            a = self[name]
            if a.kind == "slider":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    lo, hi = SLIDER_RANGE
                    raise ValueError(f"{name} is a slider: give a number from {lo:g} to {hi:g}, got {value!r}")
                if not SLIDER_RANGE[0] <= float(value) <= SLIDER_RANGE[1]:
                    raise ValueError(f"{name} must be from {SLIDER_RANGE[0]:g} to {SLIDER_RANGE[1]:g}, got {value!r}")
                out[name] = float(value)
            else:
                if value not in TOGGLE_VALUES:
                    raise ValueError(f"{name} is a toggle: give one of {', '.join(TOGGLE_VALUES)}, got {value!r}")
                out[name] = value
        return out

    def apply(self, z: torch.Tensor, edits: Edits | None) -> torch.Tensor:
        """Edited copy of latents z (N, nz); sliders first, then toggles so their side holds.
        Every move keeps each latent's norm (see the module docstring)."""
        edits = self.check(edits)
        for name, value in edits.items():
            a = self._by_name[name]
            if a.kind == "slider" and value != 0:
                z = _along(z, a.direction, torch.full((len(z),), value * a.unit * a.sign))
        for name, value in edits.items():
            a = self._by_name[name]
            if a.kind == "toggle":
                z = self._toggle(z, a, a.sign if value == "on" else -a.sign)
        return z

    @staticmethod
    def _toggle(z: torch.Tensor, a: Attribute, side: int) -> torch.Tensor:
        """Move each latent along the direction just far enough (bisection on the norm-kept move)
        to stand `margin` on `side` of the boundary; latents already there are returned as they are.

        A norm-kept move can bring `direction . z` at most to |z|, so for a rare attribute whose
        boundary lies far out the goal is capped at 90% of that: the face goes as far as the
        latent can while staying on its shell, and asking again changes nothing.
        """

        def score(t: torch.Tensor) -> torch.Tensor:
            return side * (_along(z, a.direction, side * t) @ a.direction + a.offset)

        goal = torch.minimum(torch.full((len(z),), a.margin), TOGGLE_REACH * z.norm(dim=1) + side * a.offset)
        lo, hi = torch.zeros(len(z)), torch.full((len(z),), TOGGLE_MAX_MOVE)
        for _ in range(48):
            mid = (lo + hi) / 2
            ok = score(mid) >= goal
            lo, hi = torch.where(ok, lo, mid), torch.where(ok, mid, hi)
        needs_move = score(torch.zeros(len(z))) < goal
        return torch.where(needs_move.unsqueeze(1), _along(z, a.direction, side * hi), z)

    # --- files ----------------------------------------------------------------------------------
    def save(self, path: Path | str, meta: dict | None = None) -> None:
        tensors, records = {}, []
        for a in self._by_name.values():
            tensors[f"{a.name}.direction"] = a.direction.float()
            records.append(
                {
                    "name": a.name,
                    "key": a.key,
                    "celeba": a.celeba,
                    "sign": a.sign,
                    "kind": a.kind,
                    "conditions": a.conditions,
                    "accuracy": a.accuracy,
                    "description": a.description,
                    "unit": a.unit,
                    "margin": a.margin,
                    "offset": a.offset,
                }
            )
        tensors.update({f"boundary.{k}": v.float() for k, v in self.boundaries.items()})
        save_tensors(path, tensors, {**(meta or {}), "attributes": records})

    @classmethod
    def load(cls, path: Path | str, nz: int) -> AttributeSet:
        tensors, meta = load_tensors(path)
        attributes = []
        try:
            for i, r in enumerate(meta["attributes"]):
                name = r["name"]
                r = {"key": f"{i:02d}", **r}  # files from before keys: keys by position
                a = Attribute(direction=tensors[f"{name}.direction"].float(), **r)
                if a.direction.shape != (nz,):
                    raise ValueError(f"{name}: direction must have shape ({nz},)")
                if a.kind not in ("slider", "toggle"):
                    raise ValueError(f"{name}: bad kind {a.kind!r}")
                attributes.append(a)
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(path, f"bad attribute data: {e}") from None
        boundaries = {k.removeprefix("boundary."): v.float() for k, v in tensors.items() if k.startswith("boundary.")}
        try:
            return cls(attributes, boundaries)
        except ValueError as e:
            raise CheckpointError(path, f"bad attribute data: {e}") from None


def _along(z: torch.Tensor, direction: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Latents moved by t (N,) along a unit direction, rescaled to their original norms."""
    moved = z + t.unsqueeze(1) * direction
    return moved * (z.norm(dim=1, keepdim=True) / moved.norm(dim=1, keepdim=True))


def describe(edits: Edits | None) -> str:
    """Edits as a short human caption, e.g. 'smiling +2, glasses on'."""
    parts = []
    for name, value in (edits or {}).items():
        parts.append(f"{name} {value:+g}" if isinstance(value, (int, float)) else f"{name} {value}")
    return ", ".join(parts) if parts else "no edits"
