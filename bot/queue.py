"""The inference queue: batches latents from concurrent requests into one generator call.

Every request (a face, a 2x2 of variations, a morph's frames) is a block of latents. Requests
that arrive within `window_ms` of each other are concatenated, decoded in one batch on the
model's worker thread (so the event loop never runs the network), and split back.
No task idles in the background: a drain task starts with the first request and ends when the
queue is empty.

Admission is immediate and bounded: a full queue or a user over their cap is refused at once
with a message meant for that user. A failing batch is retried request by request, so only
the request that really fails gets the error. A generator call that runs past `timeout_s` is
abandoned (`Backend.abandon`: the local backend leaves its hung thread behind for a new one), a
batch is retried request by request, and the request that hangs alone is told it took too long.

The drawing itself is the backend's (bot/backends.py): a worker thread in this process, or a
Ray Serve deployment shared by every bot process.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np
import torch

from .backends import Backend

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


class InferenceQueue:
    def __init__(
        self,
        backend: Backend,
        *,
        max_batch: int = 32,
        window_ms: float = 10.0,
        max_depth: int = 64,
        per_user: int = 2,
        batching: bool = True,
        timeout_s: float = 30.0,
    ):
        self.backend = backend
        self.max_batch = max_batch
        self.window = window_ms / 1000
        self.max_depth = max_depth
        self.per_user = per_user
        self.batching = batching
        self.timeout = timeout_s
        self._pending: deque[Ticket] = deque()
        self._running: list[Ticket] = []
        self._per_user: Counter[int] = Counter()
        self._drainer: asyncio.Task | None = None
        self._closed = False
        self.batches = 0  # number of generator calls, for benchmarks and tests
        self.images = 0
        self.timeouts = 0  # generator calls abandoned

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
        """One generator call on the backend, or DrawTimeout after `timeout` (the call abandoned)."""
        try:
            return await asyncio.wait_for(self.backend.draw(z), self.timeout)
        except TimeoutError:
            log.error("a generator call of %d latents took over %g s: abandoning it", len(z), self.timeout)
            self.backend.abandon()
            self.timeouts += 1
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
        await self.backend.close()


def _fail(ticket: Ticket, error: BaseException) -> None:
    if not ticket.future.done():
        ticket.future.set_exception(error)
