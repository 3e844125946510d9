"""`Faces`: the one object the CLI, the bot, the tests and the benchmarks use to draw faces."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from .attributes import SLIDER_RANGE, TOGGLE_VALUES, AttributeSet, Edits
from .checkpoint import load_generator
from .checks import is_whole
from .critic import LatentCritic
from .graphs import GraphedDraw
from .imaging import to_uint8
from .latent import MAX_SEED, check_truncation, slerp, truncate
from .model import IMAGE_SIZE, Generator, fuse_batchnorm
from .recipes import Face, Recipe, latents_of
from .regions import DRAW_ORDER, REGION_NAMES, blended, drawing, drawing_width, region_mask, split
from .style import StyleGenerator

WEIGHTS_DIR = Path(__file__).parent / "weights"
GENERATOR_FILE = "generator.safetensors"
ATTRIBUTES_FILE = "attributes.safetensors"
CRITIC_FILE = "critic.safetensors"
MAX_FRAMES = 256
MORPH_FRAMES = 16  # a morph's length when none is asked for
SWEEP_FRAMES = 24  # a slider animation's length when none is asked for
MAX_RANDOM_SEEDS = 4096  # of one random_seeds call
CRITIC_TRIES = 16  # candidates per random seed before the best of them is taken anyway
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


class Faces:
    """A loaded generator plus its attribute sliders.

    Latents are drawn on the CPU per seed, so a seed gives the same face on any device and in
    any batch; the network runs on `device`, in fp32 (exact) or bf16 (within a few grey levels,
    much faster on CPUs with bf16 units: docs/image_formats.md). On a CUDA GPU, batches of up to
    64 are drawn through captured CUDA graphs unless `cuda_graphs` is off (docs/bot_load.md).
    """

    def __init__(
        self,
        generator: torch.nn.Module,
        meta: dict,
        attributes: AttributeSet,
        device: str = "cpu",
        cuda_graphs: bool = True,
        critic: LatentCritic | None = None,
    ):
        self.generator = generator
        self.meta = meta
        self.device = torch.device(device)
        self.dtype = next(generator.parameters()).dtype
        self._attributes = attributes
        self.critic = critic  # None: every random seed is taken as drawn
        self.nz: int = generator.config.nz  # a seed's latent z
        self.in_w = isinstance(generator, StyleGenerator)  # truncation, edits and morphs happen in W
        self.latent_dim = _latent_dim(generator)  # what decode takes
        self._draw = generator.synthesis if self.in_w else generator
        self._graphed = (
            GraphedDraw(self._draw, self.latent_dim, self.device, self.dtype)
            if cuda_graphs and self.device.type == "cuda"
            else None
        )

    @classmethod
    def load(
        cls, path: Path | str | None = None, device: str = "cpu", precision: str = "fp32", cuda_graphs: bool = True
    ) -> Faces:
        """Load a generator checkpoint (default: the shipped one) and, where their files sit beside
        it, its sliders and its random-face critic. Raises CheckpointError naming the file on any problem."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        path = Path(path) if path is not None else WEIGHTS_DIR / GENERATOR_FILE
        if not isinstance(device, str) or not re.fullmatch(r"cpu|cuda(:\d{1,2})?", device):
            raise ValueError(f"device must be cpu, cuda or cuda:N, got {device!r}")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} was asked for, but torch sees no CUDA GPU")
        g, meta = load_generator(path, "cpu")
        g = fuse_batchnorm(g) if isinstance(g, Generator) else g
        g = g.to(device, PRECISIONS[precision], memory_format=torch.channels_last)  # faster convolutions
        attr_path = path.parent / ATTRIBUTES_FILE
        attributes = AttributeSet.load(attr_path, _latent_dim(g)) if attr_path.is_file() else AttributeSet()
        critic_path = path.parent / CRITIC_FILE
        critic = LatentCritic.load(critic_path, g.config.nz) if critic_path.is_file() else None
        return cls(g, meta, attributes, device, cuda_graphs, critic)

    # --- sliders ------------------------------------------------------------------------------
    @property
    def attributes(self) -> list[str]:
        """Slider names, in display order."""
        return self._attributes.names

    @property
    def sliders(self) -> AttributeSet:
        """The slider set itself, for code that fits or measures sliders."""
        return self._attributes

    def attribute_info(self, name: str) -> dict:
        return self._attributes[name].info()

    def check_edits(self, edits: Edits | None) -> dict[str, float | str]:
        """Validate edits without rendering (ValueError naming the valid choices)."""
        return self._attributes.check(edits)

    # --- latents and images -----------------------------------------------------------------------
    def latent(self, faces: Iterable[Face] | Face) -> torch.Tensor:
        """(N, nz) CPU latents of faces: seeds (integers 0 .. 2**32-1), face codes ("42v3", gan/recipes.py)
        or recipes; ValueError (recipes.CodeError) naming the first bad one."""
        many = [faces] if isinstance(faces, (str, Recipe)) or not isinstance(faces, Iterable) else list(faces)
        return latents_of(many, self.nz)

    def random_seeds(self, n: int, rng: np.random.Generator) -> list[int]:
        """n seeds for random faces, the same ones for the same rng state: each is the first of up to
        CRITIC_TRIES seeds drawn from rng that the critic accepts (else the best-scored of them).
        Without a critic, n seeds straight from rng. Explicit seeds never pass through here."""
        if not is_whole(n, 1, MAX_RANDOM_SEEDS):
            raise ValueError(f"n must be an integer from 1 to {MAX_RANDOM_SEEDS}, got {n!r}")
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator (numpy.random.default_rng()), got {rng!r}")
        if self.critic is None:
            return [int(s) for s in rng.integers(0, MAX_SEED, n, endpoint=True)]
        best: list[int] = [0] * n
        best_score = [-np.inf] * n
        todo = list(range(n))
        for _ in range(CRITIC_TRIES):
            drawn = [int(s) for s in rng.integers(0, MAX_SEED, len(todo), endpoint=True)]
            scores = self.critic.score(self.latent(drawn)).tolist()
            for i, seed, score in zip(todo, drawn, scores, strict=True):
                if score > best_score[i]:
                    best[i], best_score[i] = seed, score
            todo = [i for i, score in zip(todo, scores, strict=True) if score < self.critic.threshold]
            if not todo:
                break
        return best

    def edit(self, z: torch.Tensor, edits: Edits | None = None, truncation: float = 1.0) -> torch.Tensor:
        """What decode draws: the latents truncated (in W, towards w_avg, for a style-based generator;
        towards 0 in z otherwise), then with `edits` their drawings (gan/regions.py): edits keep their
        full strength at any truncation."""
        if self.in_w:
            z = self.to_w(z, truncation)
        elif truncation != 1.0:
            z = truncate(z, truncation)
        return self._attributes.drawing(z, edits) if edits else z

    @torch.inference_mode()
    def to_w(self, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        """(N, w_dim) CPU latents in W of z, truncated towards w_avg (style-based generators)."""
        w = self.generator.map(z.to(self.device, self.dtype), check_truncation(truncation))
        return w.float().cpu()

    @torch.inference_mode()
    def decode(self, z: torch.Tensor, batch: int = 256) -> np.ndarray:
        """uint8 (N, 64, 64, 3) images of what `edit` gives: latents (N, latent_dim) or drawings
        (N, drawing_width(latent_dim), gan/regions.py)."""
        widths = (self.latent_dim, drawing_width(self.latent_dim))
        if not isinstance(z, torch.Tensor):
            raise ValueError(f"latents must be a torch.Tensor of shape (N, {self.latent_dim}), got {type(z).__name__}")
        if z.ndim != 2 or z.shape[1] not in widths:
            raise ValueError(
                f"latents must have shape (N, {self.latent_dim}) or (N, {widths[1]}), got {tuple(z.shape)}"
            )
        if z.shape[1] != self.latent_dim:
            base, layers, weights = split(z, self.latent_dim)
            if weights.any():
                return self._decode_regional(base, layers, weights, batch)
            z = base
        if self._graphed is not None and len(z) <= self._graphed.max_batch:
            return self._graphed(z)
        out = [to_uint8(self._draw(chunk.to(self.device, self.dtype))) for chunk in z.split(batch)]
        return np.concatenate(out)

    def _decode_regional(
        self, base: torch.Tensor, layers: torch.Tensor, weights: torch.Tensor, batch: int
    ) -> np.ndarray:
        """Faces of drawings (`split`) some of whose rows blend regions: the rows that blend the same
        regions drawn together, up to the blend once per latent they hold."""
        images = np.empty((len(base), IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
        patterns, group = torch.unique(weights > 0, dim=0, return_inverse=True)
        for k, pattern in enumerate(patterns):
            rows = (group == k).nonzero().squeeze(1)
            if not pattern.any():
                images[rows.numpy()] = self.decode(base[rows], batch)
                continue
            for chunk in rows.split(batch):
                over = [
                    (name, layers[chunk, r].to(self.device, self.dtype), region_mask(name, weights[chunk, r]))
                    for name in DRAW_ORDER
                    if pattern[r := REGION_NAMES.index(name)]
                ]
                images[chunk.numpy()] = to_uint8(blended(self._draw, base[chunk].to(self.device, self.dtype), over))
        return images

    def render(self, seeds: Iterable[Face] | Face, truncation: float = 1.0, edits: Edits | None = None) -> np.ndarray:
        """uint8 (N, 64, 64, 3) faces of the seeds (or face codes)."""
        return self.decode(self.edit(self.latent(seeds), edits, truncation))

    def morph(
        self,
        seed_a: Face,
        seed_b: Face,
        frames: int = MORPH_FRAMES,
        truncation: float = 1.0,
        edits: Edits | None = None,
    ) -> np.ndarray:
        """uint8 (frames, 64, 64, 3): a to b (seeds or face codes) along `path`; the first and last frames
        are exactly render(seed_a) and render(seed_b) with the same settings."""
        return self.decode(self.path(seed_a, seed_b, frames, truncation, edits))

    def path(
        self,
        seed_a: Face,
        seed_b: Face,
        frames: int = MORPH_FRAMES,
        truncation: float = 1.0,
        edits: Edits | None = None,
    ) -> torch.Tensor:
        """What decode draws for a morph (latents, or drawings with edits): along the prior's great circle
        in z, or a straight line in W for a style-based generator; exact endpoints either way."""
        if not is_whole(frames, 2, MAX_FRAMES):
            raise ValueError(f"frames must be an integer from 2 to {MAX_FRAMES}, got {frames!r}")
        ends = self.latent([seed_a, seed_b])
        t = torch.linspace(0, 1, frames)
        if not self.in_w:
            return self.edit(slerp(ends[0], ends[1], t), edits, truncation)
        a, b = self.to_w(ends, truncation)
        line = self._between(a, b, t)
        return self._attributes.drawing(line, edits) if edits else line

    def sweep(
        self, seed: Face, name: str, frames: int = SWEEP_FRAMES, truncation: float = 1.0, edits: Edits | None = None
    ) -> torch.Tensor:
        """The drawings (gan/regions.py) of one slider's animation on one face, for decode: a loop from the slider's low
        end to its high end and back (a toggle: off, on, off), the face's other `edits` held.

        Frame 0 is exactly the face with the slider at its low end (`off`), and frame frames/2 (for an
        even count) at its high end. A slider's frames are its values in between, each exactly the face
        `render` draws at that value; a toggle's frames interpolate between its off and on faces (along
        the prior's great circle in z, a straight line in W)."""
        if not is_whole(frames, 2, MAX_FRAMES):
            raise ValueError(f"frames must be an integer from 2 to {MAX_FRAMES}, got {frames!r}")
        a = self._attributes[name]
        held = {k: v for k, v in self.check_edits(edits).items() if k != name}
        base = self.edit(self.latent(seed), None, truncation)
        phase = 1 - (1 - 2 * torch.arange(frames) / frames).abs()  # 0 -> 1 -> 0, the loop's last step to go

        def at(value: float | str) -> torch.Tensor:  # the face with the slider at `value`, edits in slider order
            wanted = {**held, name: value}
            return self._attributes.drawing(base, {n: wanted[n] for n in self.attributes if n in wanted})

        if a.kind == "slider":
            lo, hi = SLIDER_RANGE
            return torch.cat([at(lo + (hi - lo) * float(p)) for p in phase])
        # off and on hold the same edits, so they blend the same regions: their latents are what moves
        (off, off_layers, weights), (on, on_layers, _) = (split(at(v), self.latent_dim) for v in TOGGLE_VALUES)
        layers = {
            name: self._between(off_layers[0, r], on_layers[0, r], phase)
            for r, name in enumerate(REGION_NAMES)
            if weights[0, r]
        }
        return drawing(self._between(off[0], on[0], phase), layers)

    def _between(self, a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """(len(t), dim) latents from a (t = 0) to b (t = 1), both exact: along the prior's great circle
        in z, a straight line in W."""
        if not self.in_w:
            return slerp(a, b, t)
        line = torch.lerp(a, b, t[:, None])
        line[t == 1] = b  # lerp at 1 is a + 1 * (b - a): not b to the bit
        return line


def _latent_dim(generator: torch.nn.Module) -> int:
    """The width of the latents decode takes and sliders move: W for a style-based generator, else z."""
    return generator.config.w_dim if isinstance(generator, StyleGenerator) else generator.config.nz
