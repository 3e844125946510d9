"""Attribute sliders: named latent directions and how an edit moves a latent along them.

Each slider has a record (CelebA attribute, sign, kind, range, the attributes its direction was
made orthogonal to, fitted accuracy) and a `direction` (unit, already projected off its
conditions); a toggle also has an `offset`: its boundary is `direction . z + offset = 0`.

Where a slider has a `FaceEditor` (gan/editors.py), its move depends on the face: the editor's
correction is added to the global direction below.

- slider, value v in [-3, 3]: z + |v| * span * m(z), m(z) = sign(v) * unit * sign * direction + correction,
  rescaled to the norm z had, so the edited latent stays on the prior's typical shell where the
  generator draws well (an unscaled +3 would push it far outside and open mouths, blur faces...).
  `unit` is in prior standard deviations, fitted so that +-3 is a strong edit.
- toggle, "on"/"off": `direction . z + offset` is its boundary (a linear probe of the attribute).
  A face not yet standing `margin` on the asked-for side takes the editor's move, then moves (keeping
  its norm) along `direction` only as far as it still needs to; a face already there is left alone,
  so toggles are idempotent.
- several sliders together: each is drawn a little less far than asked (`AttributeSet.drawn`), so
  that their changes, which add up, still leave the same person; one slider alone, and every
  toggle, is drawn as asked.
- a regional slider (`region` set: a beard belongs to the jaw) changes only its region of the
  image: `AttributeSet.drawing` gives the generator the face without the regional edits and, for each
  region they change, the face with that region's, and the generator draws each inside its region
  (gan/regions.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import CheckpointError, load_tensors, save_tensors
from .checks import is_whole
from .editors import MAX_HIDDEN, FaceEditor, along
from .regions import REGIONS, drawing

SLIDER_RANGE = (-3.0, 3.0)
TOGGLE_VALUES = ("off", "on")
CLOSED_FORM_SLACK = 1e-5  # a toggle aims this much past its goal, in cosine, against float rounding
TOGGLE_REACH = 0.9  # a toggle asks at most for direction . z = 0.9 |z| (see Attribute.toggle)
SHARE = 0.27  # sliders moved together share one face's change (`shared`; docs/sliders.md, tenth round)
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
    editor: FaceEditor | None = None  # the per-face correction; None: the global direction alone
    region: str | None = None  # a regional slider's part of the face (gan/regions.py); None: the whole face
    span: float = 1.0  # slider: the share of its fitted move the range spans (+-3 draws the fitted +-3 x span)

    def move(self, z: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
        """(N, dim) move per slider unit of each latent towards `side` (N,) (+1: more of what the slider says)."""
        base = side.unsqueeze(1) * (self.unit * self.sign) * self.direction
        return base if self.editor is None else base + self.editor(z, side)

    def slide(self, z: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Latents z (N, dim) with the slider at values (N,) (differentiable in the editor)."""
        return along(z, self.move(z, torch.sign(values)), values.abs() * self.span)

    def toggle(self, z: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
        """Latents z (N, dim) toggled to `side` (N,) of the boundary (+1: the attribute's side).

        A latent already standing `margin` on that side is returned as it is. Any other takes the
        editor's per-face move, then moves along the boundary normal (keeping its norm) just as far
        as it still needs to (in closed form), so the next ask finds it there and changes nothing.
        Differentiable in the editor, through the move and the distance still needed.

        A norm-kept move can bring `direction . z` at most to |z|, so for a rare attribute whose
        boundary lies far out the goal is capped at 90% of that: the face goes as far as the latent
        can while staying on its shell.
        """
        normal = side.unsqueeze(1) * self.direction
        needs_move = ~self.stands(z, side)
        start = z if self.editor is None else along(z, self.editor(z, side * self.sign), torch.ones(len(z)))
        # Moving along the unit normal while keeping the norm r turns the latent towards it: the cosine
        # (a + t) / |start + t normal| (a = start . normal) grows with t, and reaches c at
        # t = c sqrt((r^2 - a^2) / (1 - c^2)) - a. Aim a hair past c so the goal holds after rounding (c <= -1:
        # every latent already stands there; the clamp keeps that branch, unused, free of NaN gradients).
        r, a = start.norm(dim=1), start @ self.direction * side
        c = ((self._goal(z, side) - side * self.offset) / r + CLOSED_FORM_SLACK).clamp(-0.999, 0.999)
        t = c * ((r**2 - a**2).clamp_min(1e-12) / (1 - c**2)).sqrt() - a
        return torch.where(needs_move.unsqueeze(1), along(start, normal, t.clamp_min(0)), z)

    def stands(self, z: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
        """(N,) bools: which latents already stand where `toggle` to `side` would take them."""
        return side * (z @ self.direction + self.offset) >= self._goal(z, side)

    def _goal(self, z: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
        return torch.minimum(torch.full((len(z),), self.margin), TOGGLE_REACH * z.norm(dim=1) + side * self.offset)

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
        """4 hex digits that change whenever any slider is refitted, added or removed, or sliders moved
        together share the change differently (SHARE)."""
        h = hashlib.sha1(f"share|{SHARE}|".encode())
        for a in sorted(self, key=lambda a: a.key):
            h.update(f"{a.key}|{a.kind}|{a.sign}|{a.unit}|{a.margin}|{a.offset}|{a.region}|{a.span}|".encode())
            h.update(a.direction.float().numpy().tobytes())
            for v in a.editor.state_dict().values() if a.editor is not None else ():
                h.update(v.float().numpy().tobytes())
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

    def drawn(self, edits: Edits | None) -> dict[str, float | str]:
        """The checked edits as `apply` draws them: the sliders' values `shared`, toggles as asked (a
        half-drawn toggle would be neither on nor off)."""
        edits = self.check(edits)
        sliders = shared({n: v for n, v in edits.items() if isinstance(v, float)})
        return {n: sliders.get(n, v) for n, v in edits.items()}

    def apply(self, z: torch.Tensor, edits: Edits | None) -> torch.Tensor:
        """Edited copy of latents z (N, nz) with the edits as `drawn` gives them, each made in the
        set's order whatever order `edits` names them in: the order each editor learned to compose in
        (`applied_before`). Every move keeps each latent's norm (see the module docstring)."""
        return self._made(z, self.drawn(edits))

    def drawing(self, z: torch.Tensor, edits: Edits | None) -> torch.Tensor:
        """What the generator draws for latents z (N, nz) with `edits` (gan/regions.py): the latents with
        every edit but the regional sliders', drawn everywhere, and for each region a regional slider
        changes, the latents with those edits and its region's, drawn inside it."""
        edits = self.drawn(edits)
        regional = {n for n, v in edits.items() if self[n].region is not None and v != 0.0}
        base = self._made(z, {n: v for n, v in edits.items() if n not in regional})
        layers = {
            region: self._made(z, {n: v for n, v in edits.items() if n not in regional or self[n].region == region})
            for region in {self[n].region for n in regional}
        }
        return drawing(base, layers)

    def _made(self, z: torch.Tensor, edits: dict[str, float | str]) -> torch.Tensor:
        for a in self:
            value = edits.get(a.name)
            if a.kind == "slider" and value:
                z = a.slide(z, torch.full((len(z),), value))
            elif a.kind == "toggle" and value is not None:
                z = a.toggle(z, torch.full((len(z),), float(a.sign if value == "on" else -a.sign)))
        return z

    def applied_before(self, name: str) -> AttributeSet:
        """The sliders whose edits `apply` makes before `name`'s: the ones a face reaching its editor
        may already carry, and so the ones its editor learns to compose with."""
        return AttributeSet(list(self)[: self.names.index(name)])

    # --- files ----------------------------------------------------------------------------------
    def save(self, path: Path | str, meta: dict | None = None) -> None:
        tensors, records = {}, []
        for a in self._by_name.values():
            tensors[f"{a.name}.direction"] = a.direction.float()
            if a.editor is not None:
                tensors.update({f"{a.name}.editor.{k}": v.float() for k, v in a.editor.state_dict().items()})
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
                    "editor_hidden": a.editor.hidden if a.editor is not None else None,
                    "region": a.region,
                    "span": a.span,
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
                hidden = r.pop("editor_hidden", None)  # files from before editors: global directions
                editor = _load_editor(tensors, name, nz, hidden) if hidden is not None else None
                a = Attribute(direction=tensors[f"{name}.direction"].float(), editor=editor, **r)
                if a.direction.shape != (nz,):
                    raise ValueError(f"{name}: direction must have shape ({nz},)")
                if a.kind not in ("slider", "toggle"):
                    raise ValueError(f"{name}: bad kind {a.kind!r}")
                if isinstance(a.span, bool) or not isinstance(a.span, (int, float)) or not 0 < a.span <= 1:
                    raise ValueError(f"{name}: span must be a number above 0 and at most 1, got {a.span!r}")
                if a.region is not None and a.region not in REGIONS:
                    raise ValueError(f"{name}: unknown region {a.region!r} (expected one of {', '.join(REGIONS)})")
                attributes.append(a)
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(path, f"bad attribute data: {e}") from None
        boundaries = {k.removeprefix("boundary."): v.float() for k, v in tensors.items() if k.startswith("boundary.")}
        try:
            return cls(attributes, boundaries)
        except ValueError as e:
            raise CheckpointError(path, f"bad attribute data: {e}") from None


def shared(values: Mapping[str, float]) -> dict[str, float]:
    """Slider values as drawn together: each divided by 1 + SHARE x the other sliders' values, as
    fractions of the range's end (0 to 1 each). One slider alone is drawn as asked; two at +2 each at
    0.85 of its value, two at +3 at 0.79. Continuous in every value, so a slider still slides smoothly
    beside the others."""
    reach = {n: abs(v) / SLIDER_RANGE[1] for n, v in values.items()}
    total = sum(reach.values())
    return {n: v / (1 + SHARE * (total - reach[n])) for n, v in values.items()}


def _load_editor(tensors: dict[str, torch.Tensor], name: str, dim: int, hidden: object) -> FaceEditor:
    """A slider's editor from its tensors; ValueError naming the slider for a bad width or bad weights."""
    if not is_whole(hidden, 1, MAX_HIDDEN):
        raise ValueError(f"{name}: editor width must be an integer from 1 to {MAX_HIDDEN}, got {hidden!r}")
    editor = FaceEditor(dim, hidden)
    prefix = f"{name}.editor."
    try:
        editor.load_state_dict({k.removeprefix(prefix): v.float() for k, v in tensors.items() if k.startswith(prefix)})
    except RuntimeError as e:
        raise ValueError(f"{name}: editor tensors do not match: {e}") from None
    if not all(torch.isfinite(v).all() for v in editor.state_dict().values()) or editor.scale <= 0:
        raise ValueError(f"{name}: editor weights hold NaN, infinity or a scale that is not positive")
    return editor.requires_grad_(False).eval()


def describe(edits: Edits | None) -> str:
    """Edits as a short human caption, e.g. 'smiling +2, glasses on'."""
    parts = []
    for name, value in (edits or {}).items():
        parts.append(f"{name} {value:+g}" if isinstance(value, (int, float)) else f"{name} {value}")
    return ", ".join(parts) if parts else "no edits"
