"""Training speed: img/s of train.gan's step for a few settings, on the GPU when there is one.

    python bench/train_speed.py --data ../shared/celeba64 [--seconds 5]

Each setting builds a fresh Trainer, runs a warm-up (which includes the CUDA-graph capture),
then times whole steps for --seconds. It also checks that the steps really train: the losses
must change from step to step and the generator's weights must move.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from train.data import load_split  # noqa: E402
from train.gan import Trainer  # noqa: E402
from train.train_config import TrainConfig  # noqa: E402

SETTINGS = [
    {"arch": "dcgan"},
    {"arch": "dcgan", "cuda_graph": False},
    {"arch": "dcgan", "batch": 256},
    {"arch": "dcgan-refine"},
    {"arch": "dcgan", "augment": "color,translation"},
    {"arch": "style", "ngf": 192, "ndf": 32, "r1": 1.0, "beta1": 0.0, "lr": 2e-3},  # scripts/recipe_search.sh's
]


def measure(data: torch.Tensor, overrides: dict, seconds: float, warmup: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(TrainConfig(out=out, **overrides))
        for _ in range(warmup):
            trainer.train_step(data)
        before = [p.detach().clone() for p in trainer.G.parameters()]
        losses, steps, start = [], 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(10):
                d, g = trainer.train_step(data)
            losses.append((d.item(), g.item()))  # .item() waits for the GPU
            steps += 10
        elapsed = time.perf_counter() - start
        moved = all(not torch.equal(a, b) for a, b in zip(before, trainer.G.parameters(), strict=True))
        return {
            "config": overrides,
            "img_per_s": round(steps * trainer.config.batch / elapsed),
            "steps": steps,
            "losses_change": len(set(losses)) == len(losses),
            "weights_move": moved,
            "last_losses": [round(x, 3) for x in losses[-1]],
            "device": torch.cuda.get_device_name() if trainer.cuda else "cpu",
        }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/celeba64")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument(
        "--settings",
        type=json.loads,
        nargs="*",
        default=SETTINGS,
        help="TrainConfig fields to change, one JSON object per setting, e.g. '{\"batch\": 256}'",
    )
    args = p.parse_args()
    cuda = torch.cuda.is_available()
    data = load_split(args.data, "train").images.to("cuda" if cuda else "cpu")
    for overrides in args.settings:
        print(json.dumps(measure(data, overrides, args.seconds, args.warmup)), flush=True)


if __name__ == "__main__":
    main()
