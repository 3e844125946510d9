"""CPU generation speed: img/s at several batch sizes and the latency of one `/face`.

    python bench/generate.py [--device cpu] [--repeats 20]

One `/face` worth of work = render one face + upscale to 256 px + JPEG encode, as the bot does.
A random face adds picking its seed (Faces.random_seeds: the critic reads latents, the generator
draws nothing more); an edited face adds its sliders' editors (a small network per slider). All three
are printed at batch 32.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bot.heap import keep_freed_buffers  # noqa: E402
from bot.render import FACE_PX, face_file  # noqa: E402
from gan import Faces  # noqa: E402
from gan.checkpoint import save_generator  # noqa: E402
from gan.imaging import upscale  # noqa: E402
from gan.regions import bfloat16_units  # noqa: E402
from gan.style import StyleConfig, StyleGenerator  # noqa: E402


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--weights", help="a generator file (default: the shipped one)")
    p.add_argument("--style", action="store_true", help="an untrained style-based generator of the default size")
    args = p.parse_args()
    if args.style:  # speed does not depend on the weights
        path = Path(tempfile.mkdtemp()) / "style.safetensors"
        save_generator(path, StyleGenerator(StyleConfig()), {"prior": "normal"})
        args.weights = path
    kept = keep_freed_buffers()  # as the bot's process does
    faces = Faces.load(args.weights, device=args.device)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), device {args.device}, {faces.generator.config}; freed buffers "
        f"{'kept in the heap' if kept else 'given back'}, region features in "
        f"{'bfloat16' if bfloat16_units() else 'float32'} (gan/regions.py)"
    )
    for batch in (1, 16, 64, 256):
        seeds = list(range(batch))
        times = timed(lambda seeds=seeds: faces.render(seeds), max(3, args.repeats * 16 // batch))
        med = statistics.median(times)
        print(f"batch {batch:>3}: {batch / med:8.0f} img/s   (median {med * 1000:.1f} ms per batch)")
    rng = np.random.default_rng(0)
    explicit = statistics.median(timed(lambda: faces.render(list(range(32))), args.repeats))
    picked = statistics.median(timed(lambda: faces.render(faces.random_seeds(32, rng)), args.repeats))
    pick = statistics.median(timed(lambda: [faces.random_seeds(1, rng) for _ in range(32)], args.repeats))
    print(
        f"batch 32, explicit seeds: {explicit * 1000:.1f} ms; random seeds (critic {'on' if faces.critic else 'off'}): "
        f"{picked * 1000:.1f} ms; the bot's way, 32 picks of one seed: {pick * 1000:.2f} ms "
        f"({pick / 32 * 1e6:.0f} us a face)"
    )
    edits = {"smiling": 2.0, "glasses": "on"} if {"smiling", "glasses"} <= set(faces.attributes) else {}
    edited = statistics.median(timed(lambda: faces.render(list(range(32)), edits=edits), args.repeats))
    z = faces.latent(list(range(32)))
    editing = statistics.median(timed(lambda: faces.edit(z, edits), args.repeats * 5))
    print(
        f"batch 32, edited {edits or '(no sliders installed)'}: {edited * 1000:.1f} ms, "
        f"{(edited - explicit) * 1000:+.2f} ms against unedited, {(edited - explicit) / 32 * 1000:+.3f} ms a face "
        f"(target: at most +1 ms a face; the edits themselves: {editing * 1000:.2f} ms, "
        f"{editing / 32 * 1e6:.0f} us a face)"
    )
    # a regional slider's region is drawn again up to the blend, from a latent of its own (gan/regions.py)
    regional: dict[str, str] = {}  # region -> its first slider
    for a in faces.sliders:
        if a.region is not None and a.kind == "slider":
            regional.setdefault(a.region, a.name)
    for asked in ({n: 2.0 for n in list(regional.values())[:k]} for k in range(1, len(regional) + 1)):
        drawn = statistics.median(timed(lambda asked=asked: faces.render(list(range(32)), edits=asked), args.repeats))
        print(
            f"batch 32, regional {asked}: {drawn * 1000:.1f} ms, {(drawn - explicit) / 32 * 1000:+.3f} ms a face "
            "against unedited (target: at most +1 ms a face)"
        )
    one = timed(lambda: faces.render([1]), args.repeats * 5)
    face = timed(lambda: face_file(upscale(faces.render([1]), FACE_PX)), args.repeats * 5)
    print(f"one face, render only: median {statistics.median(one) * 1000:.1f} ms")
    print(
        f"one /face (render + 256 px upscale + JPEG): median {statistics.median(face) * 1000:.1f} ms, "
        f"p90 {sorted(face)[int(0.9 * len(face))] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
