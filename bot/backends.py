"""Where faces are drawn: the backend seam of the inference queue.

A backend turns a batch of latents (N, nz) into uint8 images (N, 64, 64, 3); `Upscaled` brings
them to the size the bot posts. Two backends:
- `local` (the default): worker threads in this process, running the loaded `Faces`;
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
from gan.imaging import upscale

from .settings import Settings


class Backend(Protocol):
    concurrency: int  # draws worth having in flight at once (the queue keeps that many batches going)

    async def draw(self, z: torch.Tensor) -> np.ndarray:
        """uint8 (N, 64, 64, 3) images of latents (N, nz). Cancelling it (a timeout) abandons the call."""
        ...

    async def close(self) -> None: ...


class WorkerPool:
    """Threads that run calls from one shared line, each free thread taking the next.

    A hung call cannot be interrupted in Python, so its thread is left behind rather than joined:
    `replace` starts a fresh thread, and the stuck one ends after its call, if ever."""

    _count = 0

    def __init__(self, threads: int):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._left_behind: set[concurrent.futures.Future] = set()
        self._lock = threading.Lock()
        self.threads = threads
        for _ in range(threads):
            self._start()

    def _start(self) -> None:
        WorkerPool._count += 1
        threading.Thread(target=self._run, name=f"inference-{WorkerPool._count}", daemon=True).start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, arg, future = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(arg))
                except BaseException as e:  # noqa: BLE001 - handed to the awaiting request
                    future.set_exception(e)
            with self._lock:
                if future in self._left_behind:  # replaced while stuck in this call: retire
                    self._left_behind.discard(future)
                    return

    def submit(self, fn: Callable[[torch.Tensor], np.ndarray], arg: torch.Tensor) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put((fn, arg, future))
        return future

    def replace(self, stuck: concurrent.futures.Future) -> None:
        """The thread running `stuck` is given up on: another takes its place."""
        with self._lock:
            if stuck.done():  # it came back after all
                return
            self._left_behind.add(stuck)
        self._start()

    def stop(self) -> None:
        for _ in range(self.threads):
            self._jobs.put(None)


class LocalBackend:
    """The generator on `workers` threads of this process, drawing batches side by side (a thread
    stuck in a call is replaced). On a CPU, one thread per core with one torch thread each keeps
    every core busy even while the event loop and the encoder take turns on them."""

    def __init__(self, decode: Callable[[torch.Tensor], np.ndarray], workers: int = 1):
        self._decode = decode
        self._pool = WorkerPool(workers)
        self.concurrency = workers
        self.abandoned = 0  # threads left behind on a hung call

    async def draw(self, z: torch.Tensor) -> np.ndarray:
        job = self._pool.submit(self._decode, z)
        try:
            return await asyncio.wrap_future(job)
        except asyncio.CancelledError:
            if job.running():  # timed out inside the call: that thread may never come back
                self._pool.replace(job)
                self.abandoned += 1
            raise

    async def close(self) -> None:
        self._pool.stop()


class Upscaled:
    """A backend whose faces come back `size` px wide: upscaled as one batch, off the event loop.

    One bicubic call over a batch of 32 costs a third of 32 single ones, and the faces come back
    contiguous, ready for the encoder. The backend underneath still sends 64 px faces, which is
    16 times less to carry from a Ray replica."""

    def __init__(self, inner: Backend, size: int):
        self.inner = inner
        self.size = size
        self.concurrency = inner.concurrency

    async def draw(self, z: torch.Tensor) -> np.ndarray:
        return await asyncio.to_thread(upscale, await self.inner.draw(z), self.size)

    async def close(self) -> None:
        await self.inner.close()


def create_backend(settings: Settings, faces: Faces | None) -> tuple[Backend, Faces]:
    """The backend the settings ask for, and the Faces the bot uses for latents and sliders (the
    Ray backend's replicas load their own copy of the generator)."""
    if settings.backend == "ray":
        from .ray_serve import RayBackend  # Ray is an optional extra: imported only when asked for

        backend = RayBackend(settings)
        return backend, faces if faces is not None else Faces.load(settings.weights, device="cpu")
    if faces is None:
        faces = Faces.load(settings.weights, device=settings.torch_device(), precision=settings.precision)
    return LocalBackend(faces.decode, settings.inference_workers()), faces
