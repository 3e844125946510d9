"""Learn each slider's per-face editor (gan/editors.py) through the frozen generator and classifier.

For one slider, every step draws fresh prior faces (half of them already carrying a random edit of
a slider applied before it, so edits learn to compose), moves them with the editor at a random strength
and side, and asks of the edited face:

- the classifier's probability of the slider's own attribute goes where the slider says (for a slider
  that trades, `Weights.gain`, as far on each face as it pays for the loose attributes' change);
- the other attributes stay where they were (Male, Young, Pale_Skin and the other sliders'
  attributes most of all), except the few that change with this one (`Spec.free`);
- the pixels outside the slider's region stay where they were (glasses: outside the eye band,
  smiling: outside the mouth and cheeks, hair: the inner face), a differentiable stand-in for
  "the same person" (the report measures that with a real face recognizer);
- the latent moves no further than it must;
- a regional slider (`Attribute.region`) is judged as it is drawn: blended into the face inside its
  region only (gan/regions.py);
- where its weights ask for it, the face stays the same person to a differentiable stand-in for
  dlib's recognizer (train/identity_net.py): its distance to the unedited face, past a margin.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm import tqdm

from gan import Faces
from gan.attributes import Attribute, AttributeSet
from gan.editors import FaceEditor
from gan.regions import REGIONS, blended, box_mask, region_mask

from .classifier import AttributeClassifier
from .identity_net import IdentityNet

EYES = ((17, 27, 29, 34), (35, 27, 47, 34))  # the eyes themselves, inside the eye band
MAX_EDIT = 3.0  # strengths are drawn up to the slider's end
IDENTITY_MARGIN = 0.4  # distance an edit may take for free, in the distilled net's units: the shipped net's
# distances run at about half of dlib's, so this is about dlib's 0.8 (docs/sliders.md, ninth round)


@dataclass(frozen=True)
class Weights:
    """How much each part of the loss counts (own attribute: 1)."""

    keep: float = 4.0  # mean change of the other attributes' probabilities
    keep_watched: float = 40.0  # extra for Male, Young, Pale_Skin and the other sliders' attributes
    keep_base: float = 0.0  # extra again for the base attributes (Male, Young and Pale_Skin)
    enough: float = 1.0  # the own logit a slider at strength `reach` (and beyond) or a toggle must pass
    reach: float = 1.0  # slider strength from which `enough` is asked; below it, a share of it
    pixels: float = 60.0  # mean absolute change of the held pixels (images in [-1, 1])
    inside: float = 0.1  # of that, for the pixels the slider may change
    eyes: float | None = None  # of that, for the eyes themselves (glasses: lenses the eyes show through)
    latent: float = 0.02  # squared move per latent dimension
    identity: float = 0.0  # distilled recognizer distance past IDENTITY_MARGIN (needs the identity net)
    slack: float = 0.0  # probability change of each loose attribute (Spec.loose) a face may take for free
    # Where set, the own attribute is asked as its gain in probability at this weight, not as a logit each face
    # must pass, and each loose attribute's change costs `trade` of it: the edit goes as far on each face as its
    # own gain pays for the loose attributes' change (gray hair: docs/sliders.md, fifteenth round)
    gain: float = 0.0
    trade: float = 0.0


def held_weights(region: str, weights: Weights) -> torch.Tensor:
    """(1, 1, 64, 64) weight of each pixel in the pixel term: 1 outside the slider's region,
    `weights.inside` in it, and `weights.eyes` on the eyes where that is set."""
    held = 1 - (1 - weights.inside) * box_mask(REGIONS[region])
    if weights.eyes is not None:
        held = torch.where(box_mask(EYES) > 0, weights.eyes, held)
    return held


@dataclass(frozen=True)
class Hold:
    """What an edit must keep of each face, and how much each part counts."""

    attributes: torch.Tensor  # (attributes,) weight of each one's probability change; 0 for those free to move
    slack: torch.Tensor  # (attributes,) change of each one's probability that costs nothing
    pixels: torch.Tensor  # (1, 1, 64, 64) weight of each pixel's change (held_weights)
    loose: torch.Tensor  # (attributes,) 1 for the loose attributes (Spec.loose), 0 for the others
    weights: Weights

    @classmethod
    def of(
        cls,
        names: list[str],
        own: str,
        region: str,
        free: tuple[str, ...],
        watched: tuple[str, ...],
        base: tuple[str, ...],
        loose: tuple[str, ...],
        weights: Weights,
    ) -> Hold:
        """Of the attributes other than `own` and `free`, `watched` are held harder and `base` harder again;
        each face may move the `loose` ones by `weights.slack` for free. A trading edit (`weights.gain`)
        pays for the loose ones' change in `traded`, so the hold leaves them out."""
        attributes = torch.full((len(names),), weights.keep)
        loose_mask = torch.zeros(len(names))
        for c in loose:
            loose_mask[names.index(c)] = 1.0
        for c in watched:
            attributes[names.index(c)] += weights.keep_watched + (weights.keep_base if c in base else 0.0)
        for c in (*free, own, *(loose if weights.gain else ())):
            attributes[names.index(c)] = 0.0
        return cls(attributes, weights.slack * loose_mask, held_weights(region, weights), loose_mask, weights)

    def cost(
        self,
        z0: torch.Tensor,
        x0: torch.Tensor,
        p0: torch.Tensor,
        z1: torch.Tensor,
        x1: torch.Tensor,
        logits: torch.Tensor,
    ) -> torch.Tensor:
        """(N,) cost of the edit from latents z0 (images x0, probabilities p0) to z1 (x1, logits)."""
        moved = torch.relu((torch.sigmoid(logits) - p0).abs() - self.slack)
        kept = (moved * self.attributes).sum(1) / len(self.attributes)
        pixels = ((x1 - x0).abs() * self.pixels).mean(dim=(1, 2, 3))
        return kept + self.weights.pixels * pixels + self.weights.latent * (z1 - z0).pow(2).mean(1)

    def traded(self, p0: torch.Tensor, logits: torch.Tensor, own: int, side: torch.Tensor) -> torch.Tensor:
        """(N,) the own term asked as a gain (`Weights.gain`): what the loose attributes' change costs at
        `trade`, less the own attribute's gain in probability towards `side` (N,) of +-1."""
        p1 = torch.sigmoid(logits)
        gained = side * (p1[:, own] - p0[:, own])
        paid = ((p1 - p0).abs() * self.loose).sum(1)
        return self.weights.gain * (self.weights.trade * paid - gained)


def fit_editor(
    faces: Faces,
    classifier: AttributeClassifier,
    names: list[str],
    attribute: Attribute,
    hold: Hold,
    before: AttributeSet,
    steps: int,
    batch: int = 32,
    hidden: int = 128,
    seed: int = 0,
    progress: bool = True,
    identity: IdentityNet | None = None,
    start: FaceEditor | None = None,
) -> FaceEditor:
    """Train `attribute`'s editor to make its edit and keep what `hold` says; `before` holds the sliders
    fitted so far (edits to compose with). The `identity` net is needed when the hold's weights ask for it.
    With `start`, that editor trains on (a second stage) instead of a new one."""
    weights = hold.weights
    if weights.identity and identity is None:
        raise ValueError(f"{attribute.name}: an identity weight needs the distilled identity net")
    gen = torch.Generator().manual_seed(seed)
    pick = random.Random(seed)
    draw = differentiable_draw(faces)
    draw_blended = differentiable_blend(faces)
    sample = prior(faces, 4096, gen)
    if start is None:
        with torch.random.fork_rng():  # the same seed, the same editor
            torch.manual_seed(seed)
            editor = FaceEditor(faces.latent_dim, hidden)
        editor.center.copy_(sample.mean(0))
        editor.scale.fill_(sample.std(0).mean().item())
    else:
        editor = start.requires_grad_(True).train()
    attribute.editor = editor
    own = names.index(attribute.celeba)
    opt = torch.optim.Adam(editor.net.parameters(), lr=1e-3)
    for step in tqdm(range(steps), desc=f"{attribute.name:<11}", disable=not progress, mininterval=5):
        z = prior(faces, batch, gen)
        if step % 2 and len(before.names):  # learn to compose with the edits fitted before
            z = before.apply(z, _random_edit(before, pick))
        side = torch.where(torch.rand(batch, generator=gen) < 0.5, -1.0, 1.0)
        celeba_side = side * attribute.sign
        with torch.no_grad():
            x0 = draw(z)
            p0 = torch.sigmoid(classifier(x0))
            e0 = identity(x0) if weights.identity else None
        if attribute.kind == "slider":
            strength = 1 + (MAX_EDIT - 1) * torch.rand(batch, generator=gen)
            edited = attribute.slide(z, side * strength)
            goal = weights.enough * (strength / weights.reach).clamp(max=1)
        else:
            edited = attribute.toggle(z, celeba_side)
            goal = torch.full((batch,), weights.enough)
        moved = torch.ones(batch) if attribute.kind == "slider" else (~attribute.stands(z, celeba_side)).float()
        x1 = draw(edited) if attribute.region is None else draw_blended(z, edited, attribute.region)
        logits = classifier(x1)
        if weights.gain:
            own_loss = (hold.traded(p0, logits, own, celeba_side) * moved).sum()
        else:
            own_loss = (torch.relu(goal - celeba_side * logits[:, own]) * moved).sum()
        held_in = hold.cost(z, x0, p0, edited, x1, logits)
        if e0 is not None:
            held_in = held_in + weights.identity * torch.relu((identity(x1) - e0).norm(dim=1) - IDENTITY_MARGIN)
        loss = (own_loss + (held_in * moved).sum()) / batch
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return editor.requires_grad_(False).eval()


def prior(faces: Faces, n: int, gen: torch.Generator) -> torch.Tensor:
    """n latents of the kind sliders move: prior z, or its W for a style-based generator."""
    z = torch.randn(n, faces.nz, generator=gen)
    return faces.to_w(z) if faces.in_w else z


def _random_edit(sliders: AttributeSet, pick: random.Random) -> dict[str, float | str]:
    a = sliders[pick.choice(sliders.names)]
    return {a.name: pick.choice(("off", "on")) if a.kind == "toggle" else pick.uniform(-MAX_EDIT, MAX_EDIT)}


def _frozen(faces: Faces) -> Callable[[torch.Tensor], torch.Tensor]:
    """What draws the latents sliders move (the generator, or its synthesis network), frozen."""
    faces.generator.requires_grad_(False)
    return faces.generator.synthesis if faces.in_w else faces.generator


def differentiable_draw(faces: Faces) -> Callable[[torch.Tensor], torch.Tensor]:
    """latents -> float images in [-1, 1], with gradients to the latents (the generator frozen)."""
    net = _frozen(faces)
    return lambda z: net(z.to(faces.device, faces.dtype)).float()


def differentiable_blend(faces: Faces) -> Callable[[torch.Tensor, torch.Tensor, str], torch.Tensor]:
    """(base latents, edited latents, region) -> float images in [-1, 1] of the edit drawn inside the
    region only, as decode draws a regional slider, with gradients to the edited latents."""
    net = _frozen(faces)
    region_masks = {name: region_mask(name) for name in REGIONS}  # made once, not at every step

    def draw(base: torch.Tensor, edited: torch.Tensor, region: str) -> torch.Tensor:
        over = [(region, edited.to(faces.device, faces.dtype), region_masks[region])]
        return blended(net, base.to(faces.device, faces.dtype), over).float()

    return draw
