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
import logging
import queue
import threading
from collections.abc import Callable
from typing import Protocol

import numpy as np
import torch

from gan import Faces
from gan.imaging import upscale

from .settings import Settings

log = logging.getLogger(__name__)
WARM_TIMEOUT_S = 60.0  # how long start-up waits for the generator threads' first batch


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

    def __init__(self, threads: int, warm: Callable[[], object] | None = None):
        """`warm`, if given, is run once by each thread before it takes a job, and this waits
        for them (a thread in torch code when the interpreter exits can abort the process)."""
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._left_behind: set[concurrent.futures.Future] = set()
        self._lock = threading.Lock()
        self.threads = threads
        warming = [self._start(warm) for _ in range(threads)]
        if concurrent.futures.wait(warming, timeout=WARM_TIMEOUT_S).not_done:
            log.warning("the generator threads took over %g s to warm up; serving anyway", WARM_TIMEOUT_S)

    def _start(self, warm: Callable[[], object] | None = None) -> concurrent.futures.Future:
        WorkerPool._count += 1
        warmed: concurrent.futures.Future = concurrent.futures.Future()
        name = f"inference-{WorkerPool._count}"
        threading.Thread(target=self._run, args=(warm, warmed), name=name, daemon=True).start()
        return warmed

    def _run(self, warm: Callable[[], object] | None, warmed: concurrent.futures.Future) -> None:
        if warm is not None:
            try:
                warm()
            except Exception:  # noqa: BLE001 - the requests will meet the same error, one by one
                log.exception("warming up a generator thread failed")
        warmed.set_result(None)
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
    every core busy even while the event loop and the encoder take turns on them.

    Given `warm` latents, each thread draws them once at start-up: a thread's first full batch
    costs it fresh memory pages (~3,000 page faults) and the kernels for that shape, which would
    otherwise fall on the first users after a restart. A thread that replaces a hung one starts cold."""

    def __init__(
        self, decode: Callable[[torch.Tensor], np.ndarray], workers: int = 1, warm: torch.Tensor | None = None
    ):
        self._decode = decode
        self._pool = WorkerPool(workers, None if warm is None else lambda: decode(warm))
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
    warm = faces.latent(list(range(settings.batch_cap)))  # a full batch
    return LocalBackend(faces.decode, settings.inference_workers(), warm), faces
