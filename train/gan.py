"""Train the face generator: `python -m train.gan --data ../shared/celeba64 --out runs/NAME --minutes 8`.

Recipe (the DCGAN recipe, made faster and steadier):
- generator: gan.model.Generator, `--arch dcgan` (the reference's shape) or `dcgan-refine`;
- discriminator: the DCGAN convnet with the non-saturating BCE loss, one D step per G step (the style
  generator's: the residual one, with R1 measured on a share of each real batch);
- horizontal flips of the real faces; DiffAugment (`--augment`, translation by default) on every
  image D sees;
- an EMA of the generator's weights is what gets sampled and shipped, with its batch-norm
  statistics re-estimated before each use;
- on a GPU: bf16 autocast, channels_last, the whole train split on the GPU as uint8, and the
  whole step (batch sampling, D and G updates) replayed as one CUDA graph, because at batch 128
  these small networks leave the GPU waiting on Python and kernel launches;
- `--init FILE` starts from an exported generator (e.g. the shipped one, whose run kept no
  discriminator) with a fresh discriminator that trains alone for `--d-warmup` steps first, so
  the generator never follows the gradients of a discriminator that knows nothing yet.

Training time counts the optimisation loop only; writing samples and checkpoints pauses the clock,
so `--snapshot-seconds 300` is 300 s of training, comparable with the reference's 300 s.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import torch
from tqdm import tqdm

from gan.checkpoint import load_generator, save_generator
from gan.imaging import grid, png_bytes, to_uint8
from gan.latent import latents
from gan.model import IMAGE_SIZE, Generator, GeneratorConfig, build_generator
from gan.style import StyleConfig

from .augment import diff_augment
from .data import BatchStream, available_bytes, hold_in_memory, load_split, members, to_unit
from .discriminator import Discriminator, ResidualDiscriminator
from .errors import TrainError, cli
from .losses import discriminator_loss, generator_loss, r1_penalty
from .train_config import TrainConfig, parse_args

SAMPLE_SEEDS = list(range(64))
W_AVG_DECAY = 0.995  # per step, for the style generator's running mean of w (StyleGAN's value)
BASE_KEYS = ("steps", "train_seconds", "images_seen", "device", "recipe")


@torch.no_grad()
def calibrated(g_ema: torch.nn.Module, batches: int = 16, batch: int = 256) -> torch.nn.Module:
    """A copy of the EMA generator whose batch-norm statistics are re-estimated on its own
    activations (the EMA weights never ran in train mode, so no running stats belong to them)."""
    g = copy.deepcopy(g_ema)
    norms = [m for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if not norms:  # the style generator has none: nothing to re-estimate
        return g.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    g.train()
    device = next(g.parameters()).device
    for _ in range(batches):
        g(torch.randn(batch, g.config.nz, device=device))
    return g.eval()


class Trainer:
    """One training run: `run()` trains until the time budget or the step limit, writing metrics,
    samples, checkpoints and snapshots to `config.out` as it goes."""

    def __init__(self, config: TrainConfig):
        self.config = config
        self.out = Path(config.out)
        self.device = torch.device(config.device)
        self.cuda = self.device.type == "cuda"
        torch.manual_seed(config.seed)
        if self.cuda:
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        self.style = config.arch == "style"
        self.base: dict | None = None  # what --init started from, kept in every export's metadata
        self.G, self.D, self.G_ema = self._networks()
        self.graphed = self.cuda and config.cuda_graph
        self.opt_g, self.opt_d = self._optimizers()
        self.graph: torch.cuda.CUDAGraph | None = None
        self.graph_losses: tuple[torch.Tensor, torch.Tensor] | None = None
        self.step, self.seconds, self.snapshots_done = 0, 0.0, []
        self.stream: BatchStream | None = None  # set by open_data when the split is streamed
        self.n_train = 0
        self._last_sample = self._last_checkpoint = 0.0  # training seconds of the last grid and checkpoint
        if config.resume:
            self._load()
        self.sample_z = latents(SAMPLE_SEEDS, self.G.config.nz).to(self.device)

    # --- networks ------------------------------------------------------------------------------
    def _networks(self) -> tuple[torch.nn.Module, torch.nn.Module, torch.nn.Module]:
        """G (from --init when given), a fresh D, and G's EMA copy, on the device."""
        config = self.config
        try:
            g_config = (
                StyleConfig(channels=config.ngf) if self.style else GeneratorConfig(ngf=config.ngf, arch=config.arch)
            )
        except ValueError as e:
            raise TrainError(f"--ngf/--arch: {e}") from None
        G = build_generator(g_config)
        if config.init and not config.resume:
            start, meta = load_generator(config.init)
            if start.config != G.config:
                raise TrainError(f"{config.init} is {start.config}, but this run builds {G.config}")
            G.load_state_dict(start.state_dict())
            self.base = {"file": "/".join(Path(config.init).parts[-2:]), **{k: meta.get(k) for k in BASE_KEYS}}
        G = G.to(self.device, memory_format=torch.channels_last)
        D = (ResidualDiscriminator if self.style else Discriminator)(config.ndf)
        D = D.to(self.device, memory_format=torch.channels_last)
        return G, D, copy.deepcopy(G).eval().requires_grad_(False)

    def _optimizers(self) -> tuple[torch.optim.Adam, torch.optim.Adam]:
        # a captured step needs optimizers that keep their step count on the GPU
        opt = {
            "lr": self.config.lr,
            "betas": (self.config.beta1, 0.999),
            **({"capturable": True} if self.graphed else {"fused": self.cuda}),
        }
        return torch.optim.Adam(self.G.parameters(), **opt), torch.optim.Adam(self.D.parameters(), **opt)

    # --- state ---------------------------------------------------------------------------------
    def _state(self) -> dict:
        return {
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "step": self.step,
            "seconds": self.seconds,
            "snapshots_done": self.snapshots_done,
            "base": self.base,
            "config": asdict(self.config),
        }

    def _load(self) -> None:
        path = self.out / "checkpoint.pt"
        state = torch.load(path, map_location=self.device, weights_only=False)
        self._check_resumable(path, state)
        for name in ("G", "D", "G_ema", "opt_g", "opt_d"):
            getattr(self, name).load_state_dict(state[name])
        self.step, self.seconds, self.snapshots_done = state["step"], state["seconds"], state["snapshots_done"]
        self.base = state.get("base")  # checkpoints written before --init existed have none
        torch.manual_seed(self.config.seed + self.step)

    def _check_resumable(self, path: Path, state: dict) -> None:
        """The networks must match the checkpoint's; runs from before --arch existed were dcgan-refine."""
        for key, before_flag in (("arch", "dcgan-refine"), ("ngf", None), ("ndf", None)):
            saved = state.get("config", state.get("args", {})).get(key, before_flag)  # "args" before TrainConfig
            if saved != getattr(self.config, key):
                raise TrainError(f"{path} was trained with --{key} {saved}: resume with the same")

    def save_checkpoint(self) -> None:
        tmp = self.out / "checkpoint.pt.tmp"
        torch.save(self._state(), tmp)
        tmp.replace(self.out / "checkpoint.pt")

    def meta(self) -> dict:
        return {
            "prior": "normal",
            "training_data": f"{Path(self.config.data).name} train split ({self.n_train:,} faces)",
            "steps": self.step,
            "train_seconds": round(self.seconds, 1),
            "images_seen": self.step * self.config.batch,
            "batch": self.config.batch,
            "device": torch.cuda.get_device_name() if self.cuda else "cpu",
            "recipe": self.recipe(),
            "init": self.base,
            "train_config": asdict(self.config),
        }

    def recipe(self) -> str:
        aug = "" if self.config.augment == "none" else f"+DiffAugment({self.config.augment})"
        r1 = f"+R1({self.config.r1:g}, on {self.config.r1_share:g} of a batch)" if self.config.r1 > 0 else ""
        d = "ResNet-D" if self.style else "DCGAN-D"
        return f"{d}+BCE{r1}+flips{aug}+EMA({self.config.ema})+Adam(beta1={self.config.beta1:g})"

    def export(self, path: Path) -> Generator:
        g = calibrated(self.G_ema)
        save_generator(path, g, self.meta())
        return g

    def write_samples(self, g: Generator) -> None:
        with torch.no_grad():
            img = grid(to_uint8(g(self.sample_z)), cols=8)
        (self.out / "samples").mkdir(parents=True, exist_ok=True)
        (self.out / "samples" / f"{int(self.seconds):05d}s.png").write_bytes(png_bytes(img))

    # --- data ----------------------------------------------------------------------------------
    def open_data(self) -> torch.Tensor:
        """The train split on the device, or, when streamed, a batch-sized buffer that
        `next_batch` refills before each step (a CUDA graph reads it in place)."""
        a = self.config
        self.n_train = len(members(a.data, "train", a.limit))
        free = {"host": available_bytes(torch.device("cpu"))}
        if self.cuda:
            free["gpu"] = available_bytes(self.device)
        if hold_in_memory(self.n_train, a.data_memory, free):
            return load_split(a.data, "train", limit=a.limit).images.to(self.device)
        self.stream = BatchStream(a.data, "train", a.batch, seed=a.seed + self.step, limit=a.limit)
        print(f"streaming {self.n_train:,} training faces from {a.data} (too many to hold in memory)", flush=True)
        return torch.empty(a.batch, 3, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8, device=self.device)

    def next_batch(self, data: torch.Tensor) -> None:
        if self.stream is not None:
            data.copy_(next(self.stream), non_blocking=True)

    def _batch(self, data: torch.Tensor) -> torch.Tensor:
        if self.stream is None:  # resident: sample with replacement on the device
            data = data[torch.randint(0, data.shape[0], (self.config.batch,), device=self.device)]
        x = to_unit(data)  # streamed: the buffer already is a shuffled batch
        flip = torch.rand(x.shape[0], 1, 1, 1, device=self.device) < 0.5
        x = torch.where(flip, x.flip(3), x)
        return x.contiguous(memory_format=torch.channels_last)

    # --- one step: D, then G, then the EMA; on a GPU replayed as a CUDA graph ----------------------
    def _update(self, data: torch.Tensor, warmup: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Draw a batch, take one D step, then (after the warm-up) one G step; returns the losses."""
        real = self._batch(data)
        z = torch.randn(real.shape[0], self.G.config.nz, device=self.device)
        aug = functools.partial(diff_augment, policy=self.config.augment)
        # autocast's weight cache must be off while a CUDA graph is being captured
        autocast = functools.partial(
            torch.autocast, self.device.type, dtype=torch.bfloat16, enabled=self.cuda, cache_enabled=not self.graphed
        )
        with autocast():
            with torch.set_grad_enabled(not warmup):
                fake = self._generate(z)
            self.D.requires_grad_(True)
            d_loss = discriminator_loss(self.D(aug(real)), self.D(aug(fake.detach())))
            if self.config.r1 > 0:  # on the first r1_share of the batch (a random draw), in a pass of its own
                some = real[: max(1, round(len(real) * self.config.r1_share))].detach().requires_grad_(True)
                d_loss = d_loss + self.config.r1 / 2 * r1_penalty(some, self.D(aug(some)))
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        if warmup:
            return d_loss.detach(), None
        with autocast():
            self.D.requires_grad_(False)
            g_loss = generator_loss(self.D(aug(fake)))
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        return d_loss.detach(), g_loss.detach()

    def _capture(self, data: torch.Tensor) -> None:
        """Record one full step as a CUDA graph, after a few eager steps on a side stream that
        pick the cuDNN kernels and create the optimizer state (as torch.cuda.graph requires)."""
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self._update(data, warmup=False)
                self.step += 1
                self._update_ema()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.graph_losses = self._update(data, warmup=False)

    def _generate(self, z: torch.Tensor) -> torch.Tensor:
        """G(z); for the style generator also keeps w_avg, the running mean of w that truncation uses."""
        if not self.style:
            return self.G(z)
        w = self.G.map(z)
        with torch.no_grad():
            self.G.w_avg.lerp_(w.detach().float().mean(0), 1 - W_AVG_DECAY)
        return self.G.synthesis(w)

    def _update_ema(self) -> None:
        g_steps = self.step - self.config.d_warmup
        decay = self.config.ema if self.base else min(self.config.ema, g_steps / (9 + g_steps))
        torch._foreach_lerp_(list(self.G_ema.parameters()), list(self.G.parameters()), 1 - decay)
        if self.style:
            self.G_ema.w_avg.copy_(self.G.w_avg)

    def train_step(self, data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One D step, then (after the warm-up) one G step and the EMA update; returns the losses."""
        warmup = self.step < self.config.d_warmup
        if self.graphed and not warmup and self.graph is None:
            try:
                self._capture(data)
            except RuntimeError as e:  # an unsupported op or driver: train on, eagerly
                print(f"CUDA graph capture failed ({e}); continuing without it (see --no-cuda-graph)", flush=True)
                self.graphed, self.graph = False, None
        if self.graph is not None:
            self.graph.replay()
            losses = self.graph_losses
        else:
            losses = self._update(data, warmup)
        self.step += 1
        if not warmup:
            self._update_ema()
        return losses

    # --- the loop ------------------------------------------------------------------------------
    def run(self) -> None:
        a = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(a.to_json())
        data = self.open_data()
        budget = a.minutes * 60
        bar = tqdm(total=round(budget), initial=min(round(self.seconds), round(budget)), unit="s", dynamic_ncols=True)
        self._last_sample = self._last_checkpoint = self.seconds
        segment_start, segment_first_step = time.perf_counter(), self.step
        with open(self.out / "metrics.jsonl", "a") as log:
            while self.seconds < budget and (a.max_steps is None or self.step < a.max_steps):
                self.next_batch(data)
                d_loss, g_loss = self.train_step(data)
                if self.step % a.log_every and self.step != a.max_steps:
                    continue
                now = time.perf_counter()
                record = self._record(d_loss, g_loss, now - segment_start, self.step - segment_first_step)
                log.write(json.dumps(record) + "\n")
                log.flush()
                g = "-" if record["g_loss"] is None else f"{record['g_loss']:.3f}"
                bar.set_postfix(d=f"{record['d_loss']:.3f}", g=g, img_s=f"{record['img_per_s']:.0f}", step=self.step)
                bar.n = min(round(self.seconds), bar.total)
                bar.refresh()
                self._write_due()
                segment_start, segment_first_step = time.perf_counter(), self.step  # the writing is off the clock
        bar.close()
        if self.stream is not None:
            self.stream.close()
        self.save_checkpoint()
        self.write_samples(self.export(self.out / "final.safetensors"))
        ips = self.step * a.batch / max(self.seconds, 1e-9)
        print(f"done: {self.step} steps, {self.seconds:.0f} s of training, {ips:.0f} img/s")

    def _record(self, d_loss: torch.Tensor, g_loss: torch.Tensor | None, elapsed: float, steps: int) -> dict:
        """Add the segment's time to the clock and return its metrics line; non-finite losses stop the run."""
        d = d_loss.item()  # waits for the GPU, so the clock is honest
        g = None if g_loss is None else g_loss.item()  # None while the discriminator warms up
        self.seconds += elapsed
        if not (math.isfinite(d) and math.isfinite(g if g is not None else 0.0)):
            raise FloatingPointError(f"non-finite loss at step {self.step}: d={d}, g={g}")
        return {
            "step": self.step,
            "seconds": round(self.seconds, 2),
            "kimg": self.step * self.config.batch / 1000,
            "d_loss": round(d, 4),
            "g_loss": g if g is None else round(g, 4),
            "img_per_s": round(steps * self.config.batch / max(elapsed, 1e-9), 1),
        }

    def _write_due(self) -> None:
        """The snapshots, sample grids and checkpoint whose time has come."""
        a = self.config
        for mark in a.snapshot_seconds:
            if self.seconds >= mark and mark not in self.snapshots_done:
                self.write_samples(self.export(self.out / f"snapshot_{int(mark):04d}s.safetensors"))
                self.snapshots_done.append(mark)
        if self.seconds - self._last_sample >= a.sample_every:
            self.write_samples(calibrated(self.G_ema))
            self._last_sample = self.seconds
        if self.seconds - self._last_checkpoint >= a.checkpoint_every:
            self.save_checkpoint()
            self._last_checkpoint = self.seconds


@cli
def main(argv: list[str] | None = None) -> None:
    Trainer(parse_args(argv)).run()


if __name__ == "__main__":
    raise SystemExit(main())
