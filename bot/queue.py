"""The inference queue: batches latents from concurrent requests into one generator call.

Every request (a face, a 2x2 of variations, a morph's frames) is a block of latents. Requests
that arrive within `window_ms` of each other are concatenated, decoded in one batch on the
model's worker thread (so the event loop never runs the network), and split back.
No task idles in the background: a drain task starts with the first request and ends when the
queue is empty.

Admission is immediate and bounded: a full queue or a user over their cap is refused at once
with a message meant for that user. A failing batch is retried request by request, so only
the request that really fails gets the error. A generator call that runs past `timeout_s` is
abandoned: its thread (a daemon, so it can never hold the process open) is left behind, a new
worker takes over, a batch is retried request by request, and the request that hangs alone is
told it took too long.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

log = logging.getLogger(__name__)


class Refused(Exception):
    """A request that was not drawn; str(e) is meant for the user."""


class QueueFull(Refused):
    pass


class UserBusy(Refused):
    pass


class ShuttingDown(Refused):
    pass


class DrawTimeout(Refused):
    pass


@dataclass(eq=False)
class Ticket:
    """One queued request: its latents, who asked, and the future its images arrive on."""

    z: torch.Tensor
    user_id: int
    future: asyncio.Future = field(repr=False)
    queue: InferenceQueue = field(repr=False)

    def position(self) -> int:
        """1 for the next batch, 2 for the one after...; 0 while being drawn or done."""
        return self.queue.position(self)


class Worker:
    """One daemon thread that runs generator calls in order. A hung call cannot be interrupted in
    Python, so a worker is abandoned rather than joined: it ends after its current call, if ever."""

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


class InferenceQueue:
    def __init__(
        self,
        decode: Callable[[torch.Tensor], np.ndarray],
        *,
        max_batch: int = 32,
        window_ms: float = 10.0,
        max_depth: int = 64,
        per_user: int = 2,
        batching: bool = True,
        timeout_s: float = 30.0,
    ):
        self._decode = decode
        self.max_batch = max_batch
        self.window = window_ms / 1000
        self.max_depth = max_depth
        self.per_user = per_user
        self.batching = batching
        self.timeout = timeout_s
        self._pending: deque[Ticket] = deque()
        self._running: list[Ticket] = []
        self._per_user: Counter[int] = Counter()
        self._worker = Worker()
        self._drainer: asyncio.Task | None = None
        self._closed = False
        self.batches = 0  # number of generator calls, for benchmarks and tests
        self.images = 0
        self.abandoned = 0  # workers left behind on a hung call

    @property
    def depth(self) -> int:
        return len(self._pending) + len(self._running)

    def position(self, ticket: Ticket) -> int:
        try:
            return self._pending.index(ticket) + 1
        except ValueError:
            return 0

    def submit(self, z: torch.Tensor, user_id: int) -> Ticket:
        """Queue latents (N, nz) for one user, or raise Refused at once."""
        if self._closed:
            raise ShuttingDown("The bot is restarting. Please try again in a minute.")
        if self.depth >= self.max_depth:
            raise QueueFull("I'm busy drawing lots of faces right now. Please try again in a moment.")
        if self._per_user[user_id] >= self.per_user:
            n = self._per_user[user_id]
            raise UserBusy(f"You already have {n} faces being drawn. Wait for them to arrive, then ask again.")
        loop = asyncio.get_running_loop()
        ticket = Ticket(z, user_id, loop.create_future(), self)
        self._per_user[user_id] += 1
        ticket.future.add_done_callback(lambda _: self._release(user_id))
        self._pending.append(ticket)
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain(), name="inference-drain")
        return ticket

    def _release(self, user_id: int) -> None:
        self._per_user[user_id] -= 1
        if self._per_user[user_id] <= 0:
            del self._per_user[user_id]

    def _take_batch(self) -> list[Ticket]:
        batch = [self._pending.popleft()]
        rows = len(batch[0].z)
        while self.batching and self._pending and rows + len(self._pending[0].z) <= self.max_batch:
            rows += len(self._pending[0].z)
            batch.append(self._pending.popleft())
        return batch

    async def _call(self, z: torch.Tensor) -> np.ndarray:
        """One generator call on the worker, or DrawTimeout after `timeout` (the worker replaced)."""
        try:
            return await asyncio.wait_for(self._worker.submit(self._decode, z), self.timeout)
        except TimeoutError:
            log.error("a generator call of %d latents took over %g s: abandoning its worker", len(z), self.timeout)
            self._worker.stop()
            self._worker = Worker()
            self.abandoned += 1
            raise DrawTimeout(
                f"Drawing this took longer than {self.timeout:g} s, so I gave up on it. Please try again."
            ) from None

    async def _drain(self) -> None:
        while self._pending:
            rows = sum(len(t.z) for t in self._pending)
            if self.batching and self.window > 0 and rows < self.max_batch:
                await asyncio.sleep(self.window)  # let requests arriving together share a batch
            batch = self._running = [t for t in self._take_batch() if not t.future.done()]
            try:
                if batch:
                    await self._draw(batch)
            finally:
                self._running = []

    async def _draw(self, batch: list[Ticket]) -> None:
        try:
            images = await self._call(torch.cat([t.z for t in batch]))
        except Exception as e:
            if len(batch) == 1:
                _fail(batch[0], e)
            else:  # find the request(s) that fail alone; the others still get their faces
                for t in batch:
                    await self._draw([t])
            return
        self.batches += 1
        self.images += len(images)
        start = 0
        for t in batch:
            if not t.future.done():
                t.future.set_result(images[start : start + len(t.z)])
            start += len(t.z)

    async def close(self, timeout: float = 10.0) -> None:
        """Stop taking requests, finish the queued ones within `timeout`, refuse the rest politely."""
        self._closed = True
        if self._drainer is not None and not self._drainer.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._drainer), timeout)
            except TimeoutError:
                self._drainer.cancel()
        sorry = "The bot is restarting and could not draw this one. Please ask again in a minute."
        for t in [*self._running, *self._pending]:
            _fail(t, ShuttingDown(sorry))
        self._pending.clear()
        self._worker.stop()


def _fail(ticket: Ticket, error: BaseException) -> None:
    if not ticket.future.done():
        ticket.future.set_exception(error)
