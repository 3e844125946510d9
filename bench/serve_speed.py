"""Serving speed of both backends: generator and end-to-end faces/s at several batch sizes.

    python bench/serve_speed.py [--batches 1 64 1024] [--precision fp32 bf16] [--backends local ray] [--seconds 3]
                                [--in-flight 1 8]

Made for the lent GPU machine (it uses CUDA when torch sees it) and runs on the CPU too.
- generator: latents -> uint8 64 px faces (`Faces.decode` locally, on a GPU with and without its
  CUDA graphs; the Ray Serve deployment's round trip with `--backends ray`, one replica per GPU or
  two CPU replicas, with 1 or 8 requests in flight: Serve draws concurrent requests in one call);
- end to end: the same, then the 256 px upscale and JPEG encode the bot posts, on a pool of one
  thread per core;
- how far bf16 faces are from fp32 ones, and graphed ones from eager ones, over 1024 seeds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bot.render import FACE_PX, jpeg  # noqa: E402
from bot.settings import Settings  # noqa: E402
from gan import Faces  # noqa: E402
from gan.imaging import upscale  # noqa: E402

FIDELITY_SEEDS = 1024


async def rate(draw, z: torch.Tensor, seconds: float, encode: ThreadPoolExecutor | None, in_flight: int = 1) -> float:
    """Faces/s of drawing (and, with a pool, encoding) the batch z again and again, with `in_flight`
    such requests outstanding at once (as several bot processes sharing one Ray deployment have)."""
    loop = asyncio.get_running_loop()

    async def once() -> None:
        images = await draw(z)
        if encode is not None:
            chunks = [images[i : i + 16] for i in range(0, len(images), 16)]
            await asyncio.gather(*(loop.run_in_executor(encode, encode_chunk, c) for c in chunks))

    async def repeat() -> int:
        done = 0
        while time.perf_counter() - start < seconds:
            await once()
            done += len(z)
        return done

    await asyncio.gather(*(once() for _ in range(in_flight)))  # warm-up: lazy initialisation, cuDNN autotuning
    start = time.perf_counter()
    done = sum(await asyncio.gather(*(repeat() for _ in range(in_flight))))
    return done / (time.perf_counter() - start)


def encode_chunk(images) -> list[bytes]:
    return [jpeg(face) for face in upscale(images, FACE_PX)]


def distance(a, b) -> str:
    """Grey levels between two sets of uint8 faces: the largest, the mean, and PSNR."""
    d = a.astype(np.float64) - b.astype(np.float64)
    mse = (d**2).mean()
    psnr = "identical" if mse == 0 else f"PSNR {10 * np.log10(255**2 / mse):.1f} dB"
    return f"max |d| {np.abs(d).max():.0f}, mean |d| {np.abs(d).mean():.3f} grey levels, {psnr}"


def fidelity(device: str, precisions: list[str]) -> None:
    """bf16 against fp32 and CUDA graphs against eager, on the same seeds."""
    seeds = list(range(FIDELITY_SEEDS))
    drawn = {p: Faces.load(device=device, precision=p, cuda_graphs=False).render(seeds) for p in precisions}
    if len(drawn) == 2:
        print(f"bf16 vs fp32 ({FIDELITY_SEEDS} faces, {device}): {distance(drawn['bf16'], drawn['fp32'])}")
    if device == "cuda":
        for p in precisions:  # batches of 1 and of 64 go through the graphs
            graphed = Faces.load(device=device, precision=p)
            small = np.concatenate([graphed.render(seeds[i : i + 64]) for i in range(0, len(seeds), 64)])
            print(f"{p} CUDA graphs vs eager: {distance(small, drawn[p])}")
        if "fp32" in drawn:
            print(f"fp32 GPU vs CPU: {distance(drawn['fp32'], Faces.load().render(seeds))}")


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024])
    p.add_argument("--precision", nargs="+", default=["fp32", "bf16"])
    p.add_argument("--backends", nargs="+", default=["local", "ray"])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--in-flight", type=int, nargs="+", default=[1, 8], help="concurrent requests to Ray")
    args = p.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {os.cpu_count()} cores"
    print(f"{name}, torch {torch.__version__}")
    pool = ThreadPoolExecutor(max_workers=os.cpu_count())
    fidelity(device, args.precision)
    for backend in args.backends:
        for precision, graphs in itertools.product(args.precision, [True, False] if device == "cuda" else [False]):
            if backend == "ray" and not graphs and device == "cuda":
                continue  # the replicas use their graphs
            if backend == "ray":
                import ray
                from ray import serve
                from ray.serve.exceptions import RayServeException

                from bot.ray_serve import APP, RayBackend

                if not ray.is_initialized():
                    ray.init(include_dashboard=False, log_to_driver=False)
                replicas = torch.cuda.device_count() if device == "cuda" else 2
                settings = Settings(backend="ray", device=device, precision=precision, ray_replicas=replicas)
                with contextlib.suppress(RayServeException):
                    serve.delete(APP)  # redeploy with this precision
                draw = RayBackend(settings).draw
            else:
                faces = Faces.load(device=device, precision=precision, cuda_graphs=graphs)

                async def draw(z, faces=faces):
                    return faces.decode(z)

            for batch, in_flight in itertools.product(args.batches, args.in_flight if backend == "ray" else [1]):
                z = torch.randn(batch, 100)
                g = await rate(draw, z, args.seconds, None, in_flight)
                e = await rate(draw, z, args.seconds, pool, in_flight)
                mode = "" if device == "cpu" else " graphs" if graphs else " eager "
                label = f"{backend:5s} {precision}{mode} batch {batch:5d} x {in_flight:2d} in flight"
                print(f"{label}: generator {g:9.0f} faces/s, end to end {e:8.0f} faces/s", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
