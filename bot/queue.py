"""The inference queue: batches latents from concurrent requests into one generator call.

Every request (a face, a 2x2 of variations, a morph's frames) is a block of latents, with the
slider edits they are drawn with. Requests that arrive within `window_ms` of each other are
concatenated, edited (one slider call for all the requests that ask for the same edits), decoded in
one batch off the event loop, and split back. As many batches are in flight as the backend draws side by side (its
`concurrency`: worker threads, or Ray replicas), plus one full batch waiting in the backend's line
while they are all busy; when fewer latents wait than would fill the idle workers, they are shared
out evenly, so no worker idles while another draws a full batch.
No task idles in the background: a drain task starts with the first request and ends when the
queue is empty.

Admission is immediate and bounded: a full queue or a user over their cap is refused at once
with a message meant for that user. A failing batch is retried request by request, so only
the request that really fails gets the error. A generator call that runs past `timeout_s` is
cancelled (the local backend leaves its hung thread behind for a new one), a batch is retried
request by request, and the request that hangs alone is told it took too long.

The drawing itself is the backend's (bot/backends.py): worker threads in this process, or a
Ray Serve deployment shared by every bot process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from gan.regions import joined

from .backends import Backend
from .metrics import Metrics

log = logging.getLogger(__name__)
EditFn = Callable[[torch.Tensor, Mapping[str, float | str]], torch.Tensor]  # latents, checked edits -> their drawings


class Refused(Exception):
    """A request that was not drawn; str(e) is meant for the user, `outcome` for the metrics."""

    outcome = "failed"


class QueueFull(Refused):
    outcome = "busy"


class UserBusy(Refused):
    outcome = "over_cap"


class ShuttingDown(Refused):
    outcome = "shutting_down"


class DrawTimeout(Refused):
    outcome = "timed_out"


@dataclass(eq=False)
class Ticket:
    """One queued request: its latents, who asked, and the future its images arrive on."""

    z: torch.Tensor
    user_id: int
    future: asyncio.Future = field(repr=False)
    queue: InferenceQueue = field(repr=False)
    line_end: tuple[int, int] = (0, 0)  # requests and latents ever queued, up to and including this one
    since: float = 0.0  # when it was queued (event loop time)
    edits: tuple[tuple[str, float | str], ...] = ()  # applied to z in the batch (hashable: requests alike share a call)

    def position(self) -> int:
        """Its place among the waiting requests: 1 for the first; 0 while being drawn or done."""
        return self.queue.position(self)

    def batch(self) -> int:
        """Which batch from now should draw it: 1 for the next, 2 for the one after; 0 while being drawn or done."""
        return self.queue.batch(self)

    def expected_wait(self) -> float:
        return self.queue.expected_wait(self)


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
        edit: EditFn | None = None,
        metrics: Metrics | None = None,
    ):
        self.backend = backend
        self.edit = edit  # how a request's edits move its latents (the sliders' apply); None: no edits taken
        self.metrics = metrics or Metrics()
        self.max_batch = max_batch
        self.window = window_ms / 1000
        self.max_depth = max_depth
        self.per_user = per_user
        self.batching = batching
        self.timeout = timeout_s
        self._pending: deque[Ticket] = deque()
        # requests and latents ever queued, and ever taken off the line to draw: positions in O(1)
        self._queued = self._taken = (0, 0)
        self._running: set[Ticket] = set()
        self._per_user: Counter[int] = Counter()
        self._drainer: asyncio.Task | None = None
        self._flying: set[asyncio.Task] = set()  # batches being drawn
        self._wake: asyncio.Future | None = None  # set while the drain waits
        self._closed = False
        self.batches = 0  # number of generator calls, for benchmarks and tests
        self.images = 0
        self.timeouts = 0  # generator calls abandoned
        self._row_s = 0.0  # recent seconds per latent of one call (0 until the first is drawn)
        self._drawn_at = 0.0  # when a generator call last came back with faces (event loop time)

    @property
    def in_flight(self) -> int:
        """Generator calls being drawn now."""
        return len(self._flying)

    def stalled_s(self) -> float:
        """Seconds for which requests have been waiting or drawing without any generator call coming
        back with faces; 0 while the queue is empty."""
        waiting = [t.since for t in (*self._pending, *self._running)]
        if not waiting:
            return 0.0
        return asyncio.get_running_loop().time() - max(self._drawn_at, min(waiting))

    @property
    def depth(self) -> int:
        return len(self._pending) + len(self._running)

    def position(self, ticket: Ticket) -> int:
        return max(0, ticket.line_end[0] - self._taken[0])

    def batch(self, ticket: Ticket) -> int:
        if self.position(ticket) == 0:
            return 0
        if not self.batching:
            return self.position(ticket)
        ahead = ticket.line_end[1] - len(ticket.z) - self._taken[1]  # latents queued before it, not yet taken
        return 1 + ahead // self.max_batch

    def expected_wait(self, ticket: Ticket) -> float:
        """Seconds until this ticket is likely drawn, from the recent speed of the backend
        (0 before the first call, or once it is being drawn)."""
        rows = ticket.line_end[1] - self._taken[1]  # its own latents and those ahead of it
        return rows * self._row_s / self.backend.concurrency + self.window if rows > 0 else 0.0

    def submit(self, z: torch.Tensor, user_id: int, edits: Mapping[str, float | str] | None = None) -> Ticket:
        """Queue latents (N, nz) for one user, to be drawn with `edits` (already checked), or raise
        Refused at once."""
        if edits and self.edit is None:
            raise ValueError("this queue draws unedited latents only")
        if self._closed:
            raise ShuttingDown("The bot is restarting. Please try again in a minute.")
        if self.depth >= self.max_depth:
            raise QueueFull("I'm busy drawing lots of faces right now. Please try again in a moment.")
        if self._per_user[user_id] >= self.per_user:
            n = self._per_user[user_id]
            raise UserBusy(f"You already have {n} faces being drawn. Wait for them to arrive, then ask again.")
        loop = asyncio.get_running_loop()
        self._queued = (self._queued[0] + 1, self._queued[1] + len(z))
        ticket = Ticket(z, user_id, loop.create_future(), self, self._queued, loop.time(), tuple((edits or {}).items()))
        self._per_user[user_id] += 1
        ticket.future.add_done_callback(lambda _: self._release(user_id))
        self._pending.append(ticket)
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain(), name="inference-drain")
        elif self._wake is not None and not self._wake.done() and self._lanes():
            self._wake.set_result(None)  # the drain need not wait for a batch to end
        return ticket

    def _release(self, user_id: int) -> None:
        self._per_user[user_id] -= 1
        if self._per_user[user_id] <= 0:
            del self._per_user[user_id]

    def _take_batch(self, free: int) -> list[Ticket]:
        """The next batch: up to max_batch latents, or an even share among `free` workers."""
        limit = min(self.max_batch, math.ceil(self._pending_rows / free))
        batch = [self._pending.popleft()]
        rows = len(batch[0].z)
        while self.batching and self._pending and rows + len(self._pending[0].z) <= limit:
            rows += len(self._pending[0].z)
            batch.append(self._pending.popleft())
        self._taken = (self._taken[0] + len(batch), self._taken[1] + rows)
        return batch

    @property
    def _pending_rows(self) -> int:
        return self._queued[1] - self._taken[1]

    def _lanes(self) -> int:
        """How many batches to share the waiting latents among now: one per idle worker. With every
        worker busy, one full batch may wait in the backend's own line, so that a worker that
        finishes goes straight on to it instead of idling until the event loop, busy posting the
        faces just drawn, comes round to this queue (tens of ms in a burst)."""
        free = self.backend.concurrency - len(self._flying)
        if free == 0 and self._pending_rows >= (self.max_batch if self.batching else 1):
            return 1
        return max(free, 0)

    async def _call(self, z: torch.Tensor) -> np.ndarray:
        """One generator call on the backend, or DrawTimeout after `timeout` (the call cancelled)."""
        start = time.perf_counter()
        try:
            images = await asyncio.wait_for(self.backend.draw(z), self.timeout)
        except TimeoutError:
            log.error("a generator call of %d latents took over %g s: abandoning it", len(z), self.timeout)
            self.timeouts += 1
            raise DrawTimeout(
                f"Drawing this took longer than {self.timeout:g} s, so I gave up on it. Please try again."
            ) from None
        took = time.perf_counter() - start
        row_s = took / len(z)
        self._row_s = row_s if not self._row_s else 0.8 * self._row_s + 0.2 * row_s  # smoothed
        self._drawn_at = asyncio.get_running_loop().time()
        self.metrics.batch(len(z), took)
        return images

    async def _drain(self) -> None:
        flying = self._flying
        loop = asyncio.get_running_loop()
        try:
            while self._pending or flying:
                lanes = self._lanes()
                if not self._pending or not lanes:  # until a batch is drawn, or a request comes
                    self._wake = loop.create_future()
                    await asyncio.wait([*flying, self._wake], return_when=asyncio.FIRST_COMPLETED)
                    self._wake = None
                    flying.difference_update([t for t in flying if t.done()])
                    continue
                if self.batching and self._pending_rows < self.max_batch * lanes:
                    # let requests arriving together share a batch: the first waits up to `window` for company
                    wait = self._pending[0].since + self.window - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                batch = [t for t in self._take_batch(lanes) if not t.future.done()]
                if batch:
                    self._running.update(batch)
                    flying.add(asyncio.create_task(self._draw(batch)))
        finally:
            for task in flying:  # only when the drain itself is cancelled (close ran out of time)
                task.cancel()
            flying.clear()

    async def _draw(self, batch: list[Ticket]) -> None:
        try:
            images = await self._call(self._latents(batch))
        except Exception as e:
            if len(batch) == 1:
                _fail(batch[0], e)
            else:  # find the request(s) that fail alone; the others still get their faces
                for t in batch:
                    await self._draw([t])
            return
        finally:
            self._running.difference_update(batch)
        self.batches += 1
        self.images += len(images)
        start = 0
        for t in batch:
            if not t.future.done():
                t.future.set_result(images[start : start + len(t.z)])
            start += len(t.z)

    def _latents(self, batch: list[Ticket]) -> torch.Tensor:
        """The batch's latents with each request's edits: one edit call for the requests that ask
        for the same edits (an edit moves each latent on its own, so this is what each would get alone)."""
        parts = [t.z for t in batch]
        alike: defaultdict[tuple, list[int]] = defaultdict(list)
        for i, t in enumerate(batch):
            if t.edits:
                alike[t.edits].append(i)
        for edits, members in alike.items():
            assert self.edit is not None  # submit took these edits
            edited = self.edit(torch.cat([parts[i] for i in members]), dict(edits))
            for i, part in zip(members, edited.split([len(parts[i]) for i in members]), strict=True):
                parts[i] = part
        return joined(parts)  # latents and drawings (gan/regions.py) alike

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
        self._taken = self._queued
        await self.backend.close()


def _fail(ticket: Ticket, error: BaseException) -> None:
    if not ticket.future.done():
        ticket.future.set_exception(error)
