"""The inference queue: batches latents from concurrent requests into one generator call.

Every request (a face, a 2x2 of variations, a morph's frames) is a block of latents. Requests
that arrive within `window_ms` of each other are concatenated, decoded in one batch on the
model's single worker thread (so the event loop never runs the network), and split back.
No task idles in the background: a drain task starts with the first request and ends when the
queue is empty.

Admission is immediate and bounded: a full queue or a user over their cap is refused at once
with a message meant for that user. A failing batch is retried request by request, so only
the request that really fails gets the error.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch


class Refused(Exception):
    """A request that was not queued; str(e) is meant for the user."""


class QueueFull(Refused):
    pass


class UserBusy(Refused):
    pass


class ShuttingDown(Refused):
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
        decode: Callable[[torch.Tensor], np.ndarray],
        *,
        max_batch: int = 32,
        window_ms: float = 10.0,
        max_depth: int = 64,
        per_user: int = 2,
        batching: bool = True,
    ):
        self._decode = decode
        self.max_batch = max_batch
        self.window = window_ms / 1000
        self.max_depth = max_depth
        self.per_user = per_user
        self.batching = batching
        self._pending: deque[Ticket] = deque()
        self._running: list[Ticket] = []
        self._per_user: Counter[int] = Counter()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._drainer: asyncio.Task | None = None
        self._closed = False
        self.batches = 0  # number of generator calls, for benchmarks and tests
        self.images = 0

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
            raise UserBusy(
                f"You already have {self._per_user[user_id]} faces being drawn. "
                "Wait for them to arrive, then ask again."
            )
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

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            rows = sum(len(t.z) for t in self._pending)
            if self.batching and self.window > 0 and rows < self.max_batch:
                await asyncio.sleep(self.window)  # let requests arriving together share a batch
            batch = self._running = self._take_batch()
            try:
                images = await loop.run_in_executor(self._executor, self._decode, torch.cat([t.z for t in batch]))
                self.batches += 1
                self.images += len(images)
                start = 0
                for t in batch:
                    self._resolve(t, images[start : start + len(t.z)])
                    start += len(t.z)
            except Exception:
                await self._one_by_one(batch)
            finally:
                self._running = []

    async def _one_by_one(self, batch: list[Ticket]) -> None:
        """A batch failed: find the request(s) that fail alone; the others still get their faces."""
        loop = asyncio.get_running_loop()
        for t in batch:
            try:
                self._resolve(t, await loop.run_in_executor(self._executor, self._decode, t.z))
                self.batches += 1
            except Exception as e:  # noqa: BLE001 - reported to that requester only
                if not t.future.done():
                    t.future.set_exception(e)

    @staticmethod
    def _resolve(ticket: Ticket, images: np.ndarray) -> None:
        if not ticket.future.done():
            ticket.future.set_result(images)

    async def close(self, timeout: float = 10.0) -> None:
        """Stop taking requests, finish the queued ones within `timeout`, refuse the rest politely."""
        self._closed = True
        if self._drainer is not None and not self._drainer.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._drainer), timeout)
            except TimeoutError:
                pass
        while self._pending:
            t = self._pending.popleft()
            if not t.future.done():
                t.future.set_exception(
                    ShuttingDown("The bot is restarting and could not draw this one. Please ask again in a minute.")
                )
        self._executor.shutdown(wait=False, cancel_futures=True)
