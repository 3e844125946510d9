"""Where faces are drawn: the backend seam of the inference queue.

A backend turns a batch of latents (N, nz) into uint8 images (N, 64, 64, 3). Two of them:
- `local` (the default): one worker thread in this process, running the loaded `Faces`;
- `ray`: a Ray Serve deployment (bot/ray_serve.py) with one replica per GPU or CPU worker, reached
  from every bot process through a deployment handle, so shards on several machines share GPUs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Protocol

import numpy as np
import torch

from gan import Faces

from .settings import Settings


class Backend(Protocol):
    async def draw(self, z: torch.Tensor) -> np.ndarray:
        """uint8 (N, 64, 64, 3) images of latents (N, nz)."""
        ...

    def abandon(self) -> None:
        """The last draw timed out and was cancelled: stop relying on whatever hung."""
        ...

    async def close(self) -> None: ...


class Worker:
    """One daemon thread that runs calls in order. A hung call cannot be interrupted in Python, so
    a worker is abandoned rather than joined: it ends after its current call, if ever."""

    _count = 0

    def __init__(self) -> None:
        Worker._count += 1
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"inference-{Worker._count}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, arg, future = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(arg))
                except BaseException as e:  # noqa: BLE001 - handed to the awaiting request
                    future.set_exception(e)

    def submit(self, fn: Callable[[torch.Tensor], np.ndarray], arg: torch.Tensor) -> asyncio.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put((fn, arg, future))
        return asyncio.wrap_future(future)

    def stop(self) -> None:
        self._jobs.put(None)


class LocalBackend:
    """The generator on a worker thread of this process (a hung one is replaced)."""

    def __init__(self, decode: Callable[[torch.Tensor], np.ndarray]):
        self._decode = decode
        self._worker = Worker()
        self.abandoned = 0  # workers left behind on a hung call

    async def draw(self, z: torch.Tensor) -> np.ndarray:
        return await self._worker.submit(self._decode, z)

    def abandon(self) -> None:
        self._worker.stop()
        self._worker = Worker()
        self.abandoned += 1

    async def close(self) -> None:
        self._worker.stop()


def create_backend(settings: Settings, faces: Faces | None) -> tuple[Backend, Faces]:
    """The backend the settings ask for, and the Faces the bot uses for latents and sliders (the
    Ray backend's replicas load their own copy of the generator)."""
    if settings.backend == "ray":
        from .ray_serve import RayBackend  # Ray is an optional extra: imported only when asked for

        backend = RayBackend(settings)
        return backend, faces if faces is not None else Faces.load(settings.weights, device="cpu")
    if faces is None:
        faces = Faces.load(settings.weights, device=settings.torch_device(), precision=settings.precision)
    return LocalBackend(faces.decode), faces
