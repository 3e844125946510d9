"""Serving speed of both backends: generator and end-to-end faces/s at several batch sizes.

    python bench/serve_speed.py [--batches 1 64 1024] [--precision fp32 bf16] [--backends local ray] [--seconds 3]

Made for the lent GPU machine (it uses CUDA when torch sees it) and runs on the CPU too.
- generator: latents -> uint8 64 px faces (`Faces.decode` locally; the Ray Serve deployment's
  round trip with `--backends ray`, one replica per GPU or two CPU replicas);
- end to end: the same, then the 256 px upscale and JPEG encode the bot posts, on a pool of one
  thread per core.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bot.render import FACE_PX  # noqa: E402
from bot.settings import Settings  # noqa: E402
from gan import Faces  # noqa: E402
from gan.imaging import jpeg_bytes, upscale  # noqa: E402


async def rate(draw, z: torch.Tensor, seconds: float, encode: ThreadPoolExecutor | None) -> float:
    """Faces/s of drawing (and, with a pool, encoding) the batch z again and again."""
    loop = asyncio.get_running_loop()

    async def once() -> None:
        images = await draw(z)
        if encode is not None:
            chunks = [images[i : i + 16] for i in range(0, len(images), 16)]
            await asyncio.gather(*(loop.run_in_executor(encode, encode_chunk, c) for c in chunks))

    await once()  # warm-up: lazy initialisation, cuDNN autotuning
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        await once()
        done += len(z)
    return done / (time.perf_counter() - start)


def encode_chunk(images) -> list[bytes]:
    return [jpeg_bytes(face) for face in upscale(images, FACE_PX)]


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024])
    p.add_argument("--precision", nargs="+", default=["fp32", "bf16"])
    p.add_argument("--backends", nargs="+", default=["local", "ray"])
    p.add_argument("--seconds", type=float, default=3.0)
    args = p.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {os.cpu_count()} cores"
    print(f"{name}, torch {torch.__version__}")
    pool = ThreadPoolExecutor(max_workers=os.cpu_count())
    for backend in args.backends:
        for precision in args.precision:
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
                faces = Faces.load(device=device, precision=precision)

                async def draw(z, faces=faces):
                    return faces.decode(z)

            for batch in args.batches:
                z = torch.randn(batch, 100)
                g = await rate(draw, z, args.seconds, None)
                e = await rate(draw, z, args.seconds, pool)
                label = f"{backend:5s} {precision} batch {batch:5d}"
                print(f"{label}: generator {g:9.0f} faces/s, end to end {e:8.0f} faces/s", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
