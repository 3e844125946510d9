"""Everything one training run depends on (`TrainConfig`), and the flags of `python -m train.gan`,
derived from its fields: each field's default, help and choices are declared once, here."""

from __future__ import annotations

import argparse
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

import torch

from gan.model import ARCHS

from .augment import POLICIES
from .data import DEFAULT_PACK, MEMORY_MODES
from .errors import TrainError


def _flag(help: str, default: object = MISSING, choices: tuple[str, ...] | None = None) -> Any:
    """A TrainConfig field: its default, and the help (and choices) of its command-line flag."""
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run depends on: written to OUT/config.json when it starts and stored
    in every checkpoint, so a run can be read, compared and resumed. Benchmarks and tests build it
    directly; `python -m train.gan` builds it from its flags (same names, dashes for underscores)."""

    out: str = _flag("run folder for checkpoints, samples and logs")
    data: str = _flag("the face pack folder", str(DEFAULT_PACK))
    minutes: float = _flag("training-time budget (total, across resumes)", 8.0)
    max_steps: int | None = _flag("stop after this many steps in total", None)
    resume: bool = _flag("continue from OUT/checkpoint.pt", False)
    init: str | None = _flag("start the generator (and its EMA) from this exported generator file", None)
    d_warmup: int = _flag("first steps train the discriminator only", 0)
    batch: int = _flag("images per step", 128)
    lr: float = _flag("Adam's learning rate, both networks", 2e-4)
    arch: str = _flag("generator: the DCGAN, or the style-based one with the residual discriminator", "dcgan", ARCHS)
    augment: str = _flag("DiffAugment policy", "translation", tuple(POLICIES))
    cuda_graph: bool = _flag("on a GPU, replay each training step as one CUDA graph", True)
    ngf: int = _flag("generator width: the DCGAN's base filters, or the style generator's channels", 64)
    ndf: int = _flag("discriminator width", 64)
    r1: float = _flag("R1 gradient penalty weight (gamma); 0 = none", 0.0)
    r1_share: float = _flag(
        "share of each real batch that R1 is measured on, in a D pass of its own (its second backward pass"
        " is the costliest part of a style step; a share estimates the same mean, as StyleGAN2's lazy R1)",
        0.125,
    )
    beta1: float = _flag("Adam's first momentum (StyleGAN uses 0)", 0.5)
    ema: float = _flag("EMA decay of the generator's weights", 0.999)
    limit: int | None = _flag("use only the first N training images", None)
    data_memory: str = _flag(
        "hold the train split in (GPU) memory, or stream it from the zip; auto holds it if it fits",
        "auto",
        MEMORY_MODES,
    )
    seed: int = _flag("seed of the networks' initialisation and the batches", 0)
    device: str = field(
        default_factory=lambda: "cuda" if torch.cuda.is_available() else "cpu",
        metadata={"help": "cuda or cpu (default: cuda when torch sees a GPU)"},
    )
    log_every: int = _flag("steps between metric lines", 50)
    sample_every: float = _flag("seconds of training between sample grids", 60.0)
    checkpoint_every: float = _flag("seconds between checkpoints", 120.0)
    snapshot_seconds: tuple[float, ...] = _flag(
        "also export the EMA generator when training time passes these marks", (300.0,)
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise TrainError(f"--{f.name.replace('_', '-')} must be one of {', '.join(choices)}")
        for name in ("batch", "ngf", "ndf", "log_every"):
            if getattr(self, name) < 1:
                raise TrainError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.ema < 1:
            raise TrainError(f"--ema must be in [0, 1), got {self.ema}")
        if not 0 <= self.beta1 < 1 or self.r1 < 0:
            raise TrainError(f"--beta1 must be in [0, 1) and --r1 at least 0, got {self.beta1} and {self.r1}")
        if not 0 < self.r1_share <= 1:
            raise TrainError(f"--r1-share must be in (0, 1], got {self.r1_share}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """The flags of `python -m train.gan`: one per TrainConfig field (dashes for underscores), with
    its default, help and choices; a yes/no field is --name / --no-name."""
    p = argparse.ArgumentParser(prog="python -m train.gan", description="Train the face generator (train/gan.py).")
    for f in fields(TrainConfig):
        flag, kind = f"--{f.name.replace('_', '-')}", f.type.split(" | ")[0]
        options: dict[str, Any] = {"help": f.metadata["help"], "choices": f.metadata.get("choices")}
        if f.default is MISSING:  # required (out), or computed when not given (device)
            options.update(required=f.default_factory is MISSING, default=None)
        else:
            options["default"] = list(f.default) if isinstance(f.default, tuple) else f.default
        if kind == "bool":
            options["action"] = argparse.BooleanOptionalAction
        elif kind.startswith("tuple["):
            options.update(type=float, nargs="*")
        else:
            options["type"] = {"int": int, "float": float, "str": str}[kind]
        p.add_argument(flag, **options)
    args = vars(p.parse_args(argv))
    args["snapshot_seconds"] = tuple(args["snapshot_seconds"])
    if args["device"] is None:
        del args["device"]
    return TrainConfig(**args)
