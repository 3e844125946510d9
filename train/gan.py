"""Train the face generator: `python -m train.gan --data ../shared/celeba64 --out runs/NAME --minutes 8`.

Recipe (the DCGAN recipe, made faster and steadier):
- generator: gan.model.Generator, `--arch dcgan` (the reference's shape) or `dcgan-refine`;
- discriminator: the DCGAN convnet with the non-saturating BCE loss, one D step per G step;
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

import argparse
import copy
import functools
import json
import math
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

import torch
from tqdm import tqdm

from gan.checkpoint import load_generator, save_generator
from gan.imaging import grid, png_bytes, to_uint8
from gan.latent import latents
from gan.model import ARCHS, IMAGE_SIZE, Generator, GeneratorConfig, build_generator
from gan.style import StyleConfig

from .augment import POLICIES, diff_augment
from .data import MEMORY_MODES, BatchStream, available_bytes, hold_in_memory, load_split, members, to_unit
from .discriminator import Discriminator, ResidualDiscriminator
from .errors import TrainError, cli
from .losses import discriminator_loss, generator_loss, r1_penalty

SAMPLE_SEEDS = list(range(64))
W_AVG_DECAY = 0.995  # per step, for the style generator's running mean of w (StyleGAN's value)
BASE_KEYS = ("steps", "train_seconds", "images_seen", "device", "recipe")


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run depends on: written to OUT/config.json when it starts and stored
    in every checkpoint, so a run can be read, compared and resumed. Benchmarks and tests build it
    directly; `python -m train.gan` builds it from its flags (same names, dashes for underscores)."""

    out: str  # run folder for checkpoints, samples and logs
    data: str = "../shared/celeba64"  # the face pack
    minutes: float = 8.0  # training-time budget (total, across resumes)
    max_steps: int | None = None  # stop after this many steps in total
    resume: bool = False  # continue from OUT/checkpoint.pt
    init: str | None = None  # start the generator (and its EMA) from this exported generator file
    d_warmup: int = 0  # first steps train the discriminator only
    batch: int = 128
    lr: float = 2e-4
    arch: str = "dcgan"  # one of gan.model.ARCHS; "style" trains with the residual discriminator
    augment: str = "translation"  # DiffAugment policy: one of augment.POLICIES
    cuda_graph: bool = True  # on a GPU, replay each training step as one CUDA graph
    ngf: int = 64  # generator width: the DCGAN's base filters, or the style generator's channels
    ndf: int = 64
    r1: float = 0.0  # R1 penalty weight (gamma); 0 = none
    beta1: float = 0.5  # Adam's first momentum (0 is the StyleGAN choice)
    ema: float = 0.999  # EMA decay of the generator's weights
    limit: int | None = None  # use only the first N training images
    data_memory: str = "auto"  # hold the train split in (GPU) memory, or stream it: auto holds it if it fits
    seed: int = 0
    device: str = field(default_factory=lambda: "cuda" if torch.cuda.is_available() else "cpu")
    log_every: int = 50  # steps between metric lines
    sample_every: float = 60.0  # seconds of training between sample grids
    checkpoint_every: float = 120.0  # seconds between checkpoints
    snapshot_seconds: tuple[float, ...] = (300.0,)  # also export the EMA generator as training time passes these

    def __post_init__(self) -> None:
        for name, choices in (
            ("arch", ARCHS),
            ("augment", tuple(POLICIES)),
            ("data_memory", MEMORY_MODES),
        ):
            if getattr(self, name) not in choices:
                raise TrainError(f"--{name.replace('_', '-')} must be one of {', '.join(choices)}")
        for name in ("batch", "ngf", "ndf", "log_every"):
            if getattr(self, name) < 1:
                raise TrainError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.ema < 1:
            raise TrainError(f"--ema must be in [0, 1), got {self.ema}")
        if not 0 <= self.beta1 < 1 or self.r1 < 0:
            raise TrainError(f"--beta1 must be in [0, 1) and --r1 at least 0, got {self.beta1} and {self.r1}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """The flags of `python -m train.gan`, one per TrainConfig field, with its defaults."""
    d = {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=d["data"], help="the face pack folder")
    p.add_argument("--out", required=True, help="run folder for checkpoints, samples and logs")
    p.add_argument("--minutes", type=float, default=d["minutes"], help="training-time budget (total, across resumes)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps in total")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--init", help="start the generator (and its EMA) from this exported generator file")
    p.add_argument("--d-warmup", type=int, default=d["d_warmup"], help="first steps train the discriminator only")
    p.add_argument("--batch", type=int, default=d["batch"])
    p.add_argument("--lr", type=float, default=d["lr"])
    p.add_argument("--arch", choices=ARCHS, default=d["arch"])
    p.add_argument("--augment", choices=list(POLICIES), default=d["augment"], help="DiffAugment policy")
    p.add_argument(
        "--cuda-graph",
        action=argparse.BooleanOptionalAction,
        default=d["cuda_graph"],
        help="on a GPU, replay each training step as one CUDA graph",
    )
    p.add_argument("--ngf", type=int, default=d["ngf"])
    p.add_argument("--ndf", type=int, default=d["ndf"])
    p.add_argument("--r1", type=float, default=d["r1"], help="R1 gradient penalty weight (0 = none)")
    p.add_argument("--beta1", type=float, default=d["beta1"], help="Adam's beta1 (StyleGAN uses 0)")
    p.add_argument("--ema", type=float, default=d["ema"], help="EMA decay of generator weights")
    p.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    p.add_argument(
        "--data-memory",
        choices=MEMORY_MODES,
        default=d["data_memory"],
        help="hold the train split in (GPU) memory, or stream it from the zip; auto holds it if it fits",
    )
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument("--device", help="cuda or cpu (default: cuda when torch sees a GPU)")
    p.add_argument("--log-every", type=int, default=d["log_every"], help="steps between metric lines")
    p.add_argument(
        "--sample-every", type=float, default=d["sample_every"], help="seconds of training between sample grids"
    )
    p.add_argument("--checkpoint-every", type=float, default=d["checkpoint_every"], help="seconds between checkpoints")
    p.add_argument(
        "--snapshot-seconds",
        type=float,
        nargs="*",
        default=list(d["snapshot_seconds"]),
        help="also export the EMA generator when training time passes these marks",
    )
    args = vars(p.parse_args(argv))
    args["snapshot_seconds"] = tuple(args["snapshot_seconds"])
    if args["device"] is None:
        del args["device"]
    return TrainConfig(**args)


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
        try:
            g_config = (
                StyleConfig(channels=config.ngf) if self.style else GeneratorConfig(ngf=config.ngf, arch=config.arch)
            )
        except ValueError as e:
            raise TrainError(f"--ngf/--arch: {e}") from None
        self.G = build_generator(g_config)
        self.base: dict | None = None  # what --init started from, kept in every export's metadata
        if config.init and not config.resume:
            start, meta = load_generator(config.init)
            if start.config != self.G.config:
                raise TrainError(f"{config.init} is {start.config}, but this run builds {self.G.config}")
            self.G.load_state_dict(start.state_dict())
            self.base = {"file": "/".join(Path(config.init).parts[-2:]), **{k: meta.get(k) for k in BASE_KEYS}}
        self.G = self.G.to(self.device, memory_format=torch.channels_last)
        self.D = (ResidualDiscriminator if self.style else Discriminator)(config.ndf)
        self.D = self.D.to(self.device, memory_format=torch.channels_last)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.graphed = self.cuda and config.cuda_graph
        # a captured step needs optimizers that keep their step count on the GPU
        opt = {
            "lr": config.lr,
            "betas": (config.beta1, 0.999),
            **({"capturable": True} if self.graphed else {"fused": self.cuda}),
        }
        self.opt_g = torch.optim.Adam(self.G.parameters(), **opt)
        self.opt_d = torch.optim.Adam(self.D.parameters(), **opt)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.graph_losses: tuple[torch.Tensor, torch.Tensor] | None = None
        self.step, self.seconds, self.snapshots_done = 0, 0.0, []
        self.stream: BatchStream | None = None  # set by open_data when the split is streamed
        self.n_train = 0
        if config.resume:
            self._load()
        self.sample_z = latents(SAMPLE_SEEDS, self.G.config.nz).to(self.device)

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
        # the networks must match the checkpoint's; runs from before --arch existed were dcgan-refine
        for key, before_flag in (("arch", "dcgan-refine"), ("ngf", None), ("ndf", None)):
            saved = state.get("config", state.get("args", {})).get(key, before_flag)  # "args" before TrainConfig
            if saved != getattr(self.config, key):
                raise TrainError(f"{path} was trained with --{key} {saved}: resume with the same")
        for name in ("G", "D", "G_ema", "opt_g", "opt_d"):
            getattr(self, name).load_state_dict(state[name])
        self.step, self.seconds, self.snapshots_done = state["step"], state["seconds"], state["snapshots_done"]
        self.base = state.get("base")  # checkpoints written before --init existed have none
        torch.manual_seed(self.config.seed + self.step)

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
        r1 = f"+R1({self.config.r1:g})" if self.config.r1 > 0 else ""
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

    # --- training ------------------------------------------------------------------------------
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
            real.requires_grad_(self.config.r1 > 0)
            d_real, d_fake = self.D(aug(real)), self.D(aug(fake.detach()))
            d_loss = discriminator_loss(d_real, d_fake)
            if self.config.r1 > 0:
                d_loss = d_loss + self.config.r1 / 2 * r1_penalty(real, d_real)
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

    def run(self) -> None:
        a = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(a.to_json())
        data = self.open_data()
        budget = a.minutes * 60
        log = open(self.out / "metrics.jsonl", "a")
        bar = tqdm(total=round(budget), initial=min(round(self.seconds), round(budget)), unit="s", dynamic_ncols=True)
        last_sample = last_ckpt = self.seconds
        segment_start, segment_first_step = time.perf_counter(), self.step
        while self.seconds < budget and (a.max_steps is None or self.step < a.max_steps):
            self.next_batch(data)
            d_loss, g_loss = self.train_step(data)
            if self.step % a.log_every and self.step != a.max_steps:
                continue
            d = d_loss.item()  # waits for the GPU, so the clock below is honest
            g = None if g_loss is None else g_loss.item()  # None while the discriminator warms up
            now = time.perf_counter()
            self.seconds += now - segment_start
            if not (math.isfinite(d) and math.isfinite(g if g is not None else 0.0)):
                raise FloatingPointError(f"non-finite loss at step {self.step}: d={d}, g={g}")
            ips = (self.step - segment_first_step) * a.batch / max(now - segment_start, 1e-9)
            rec = {
                "step": self.step,
                "seconds": round(self.seconds, 2),
                "kimg": self.step * a.batch / 1000,
                "d_loss": round(d, 4),
                "g_loss": g if g is None else round(g, 4),
                "img_per_s": round(ips, 1),
            }
            log.write(json.dumps(rec) + "\n")
            log.flush()
            bar.set_postfix(d=f"{d:.3f}", g="-" if g is None else f"{g:.3f}", img_s=f"{ips:.0f}", step=self.step)
            bar.n = min(round(self.seconds), bar.total)
            bar.refresh()
            for mark in a.snapshot_seconds:
                if self.seconds >= mark and mark not in self.snapshots_done:
                    g_snap = self.export(self.out / f"snapshot_{int(mark):04d}s.safetensors")
                    self.write_samples(g_snap)
                    self.snapshots_done.append(mark)
            if self.seconds - last_sample >= a.sample_every:
                self.write_samples(calibrated(self.G_ema))
                last_sample = self.seconds
            if self.seconds - last_ckpt >= a.checkpoint_every:
                self.save_checkpoint()
                last_ckpt = self.seconds
            segment_start, segment_first_step = time.perf_counter(), self.step  # I/O above is off the clock
        bar.close()
        if self.stream is not None:
            self.stream.close()
        self.save_checkpoint()
        self.write_samples(self.export(self.out / "final.safetensors"))
        log.close()
        ips = self.step * a.batch / max(self.seconds, 1e-9)
        print(f"done: {self.step} steps, {self.seconds:.0f} s of training, {ips:.0f} img/s")


@cli
def main(argv: list[str] | None = None) -> None:
    Trainer(parse_args(argv)).run()


if __name__ == "__main__":
    raise SystemExit(main())
