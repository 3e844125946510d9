"""Attribute sliders: named latent directions and how an edit moves a latent along them.

Each slider has a record (CelebA attribute, sign, kind, range, the attributes its direction was
made orthogonal to, fitted accuracy) and tensors: `direction` (unit, already projected off its
conditions) and, for toggles, the fitted boundary (`normal`, `offset`) whose side it sets.

- slider, value v in [-3, 3]: z + v * unit * sign * direction, a relative move; `unit` is one
  standard deviation of the prior along the boundary normal, scaled so that 3 units is a strong edit.
- toggle, "on"/"off": moves z along `direction` only as far as needed to stand `margin` on the
  asked-for side of the boundary; a face already there is left alone, so toggles are idempotent.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .checkpoint import CheckpointError, load_tensors, save_tensors

SLIDER_RANGE = (-3.0, 3.0)
TOGGLE_VALUES = ("off", "on")
Edits = Mapping[str, "float | int | str"]


@dataclass
class Attribute:
    name: str
    celeba: str
    sign: int
    kind: str  # "slider" or "toggle"
    conditions: list[str]
    accuracy: float
    description: str
    direction: torch.Tensor  # (nz,) unit
    unit: float = 1.0  # slider step, latent units per slider unit
    margin: float = 0.0  # toggle: distance past the boundary
    normal: torch.Tensor | None = None  # toggle: boundary normal (unit) ...
    offset: float = 0.0  # ... and offset: normal . z + offset = 0 on the boundary
    extra: dict = field(default_factory=dict)

    def info(self) -> dict:
        """The public record, as a plain JSON-able dict."""
        rng = list(SLIDER_RANGE) if self.kind == "slider" else list(TOGGLE_VALUES)
        return {"name": self.name, "celeba": self.celeba, "sign": self.sign, "kind": self.kind, "range": rng,
                "conditions": list(self.conditions), "accuracy": self.accuracy, "description": self.description,
                **self.extra}


class AttributeSet:
    """The sliders of one generator, in display order."""

    def __init__(self, attributes: list[Attribute] | None = None):
        self._by_name = {a.name: a for a in attributes or []}

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
        out: dict[str, float | str] = {}
        for name, value in (edits or {}).items():
            a = self[name]
            if a.kind == "slider":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"{name} is a slider: give a number from {SLIDER_RANGE[0]:g} to {SLIDER_RANGE[1]:g}, got {value!r}")
                if not SLIDER_RANGE[0] <= float(value) <= SLIDER_RANGE[1]:
                    raise ValueError(f"{name} must be from {SLIDER_RANGE[0]:g} to {SLIDER_RANGE[1]:g}, got {value!r}")
                out[name] = float(value)
            else:
                if value not in TOGGLE_VALUES:
                    raise ValueError(f"{name} is a toggle: give one of {', '.join(TOGGLE_VALUES)}, got {value!r}")
                out[name] = value
        return out

    def apply(self, z: torch.Tensor, edits: Edits | None) -> torch.Tensor:
        """Edited copy of latents z (N, nz); sliders first, then toggles so their side holds."""
        edits = self.check(edits)
        z = z.clone()
        for name, value in edits.items():
            a = self._by_name[name]
            if a.kind == "slider" and value != 0:
                z += (value * a.unit * a.sign) * a.direction
        for name, value in edits.items():
            a = self._by_name[name]
            if a.kind == "toggle":
                side = a.sign if value == "on" else -a.sign
                score = side * (z @ a.normal + a.offset)  # > margin: already there
                need = torch.clamp(a.margin - score, min=0) / (a.normal @ a.direction)
                z += (side * need).unsqueeze(1) * a.direction
        return z

    # --- files ----------------------------------------------------------------------------------
    def save(self, path: Path | str, meta: dict | None = None) -> None:
        tensors, records = {}, []
        for a in self._by_name.values():
            tensors[f"{a.name}.direction"] = a.direction.float()
            if a.normal is not None:
                tensors[f"{a.name}.normal"] = a.normal.float()
            records.append({"name": a.name, "celeba": a.celeba, "sign": a.sign, "kind": a.kind,
                            "conditions": a.conditions, "accuracy": a.accuracy, "description": a.description,
                            "unit": a.unit, "margin": a.margin, "offset": a.offset, "extra": a.extra})
        save_tensors(path, tensors, {**(meta or {}), "attributes": records})

    @classmethod
    def load(cls, path: Path | str, nz: int) -> "AttributeSet":
        tensors, meta = load_tensors(path)
        attributes = []
        try:
            for r in meta["attributes"]:
                name = r["name"]
                a = Attribute(direction=tensors[f"{name}.direction"].float(), normal=tensors.get(f"{name}.normal"), **r)
                if a.direction.shape != (nz,) or (a.normal is not None and a.normal.shape != (nz,)):
                    raise ValueError(f"{name}: vectors must have shape ({nz},)")
                if a.kind not in ("slider", "toggle") or (a.kind == "toggle" and a.normal is None):
                    raise ValueError(f"{name}: bad kind {a.kind!r} or toggle without a boundary")
                attributes.append(a)
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(path, f"bad attribute data: {e}") from None
        return cls(attributes)


def describe(edits: Edits | None) -> str:
    """Edits as a short human caption, e.g. 'smiling +2, glasses on'."""
    parts = []
    for name, value in (edits or {}).items():
        parts.append(f"{name} {value:+g}" if isinstance(value, (int, float)) else f"{name} {value}")
    return ", ".join(parts) if parts else "no edits"

