"""The request path: every picture the bot posts goes through one `DrawingService`.

The app builds it (the inference queue, the image encoder's threads, the random-seed source); the
slash commands and the buttons hand it `Drawing`s. Each goes the same way: admit it to the queue
(or refuse at once, ephemerally), answer within Discord's 3 s (the picture itself if it is ready
within QUICK_ANSWER_S, else the queue note), encode the images off the event loop, and post the
file with its caption and buttons. On shutdown, `drain` finishes or politely refuses what is left.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, Protocol

import discord
import numpy as np
import torch

from gan import Faces

from . import render
from .backends import Backend, Upscaled
from .metrics import Metrics, kind_of
from .queue import InferenceQueue, Refused, Ticket
from .replies import FAILED, best_effort, deliver, tell
from .settings import Settings

log = logging.getLogger(__name__)
QUICK_ANSWER_S = 1.0  # a face expected this soon is the response itself; a longer wait gets the queue note at once
ANSWER_GRACE_S = 5.0  # on shutdown, time for the last answers to reach Discord


class Drawer(Protocol):
    """What the components need of the bot: its drawing service (None while it starts)."""

    drawing: DrawingService | None


def service_of(interaction: discord.Interaction) -> DrawingService | None:
    """The drawing service of the bot that got this interaction (None while it starts)."""
    client: Drawer = interaction.client  # type: ignore[assignment]
    return client.drawing


def count(interaction: discord.Interaction, outcome: str) -> None:
    """Record an answer that draws nothing (not while the bot is starting: no service yet)."""
    service = service_of(interaction)
    if service is not None:
        service.count(interaction, outcome)


ViewFactory = Callable[..., discord.ui.View]  # (state, owner, faces) -> the buttons under a picture


@dataclass(frozen=True)
class Views:
    """The buttons under what gets posted, given to the service by the app that assembles the bot
    (so the modules that post pictures need not import the buttons they post)."""

    face: ViewFactory  # under a face: Reroll, Variations, Morph, Edit, Details, Delete
    grid: ViewFactory  # under variations and children: pick 1-4, More like these, Delete
    result: ViewFactory  # under morphs and animations: Delete


@dataclass(frozen=True)
class Drawing:
    """One picture request: its latents and the edits they are drawn with, how its images become a
    file, its caption and buttons, and where the answer goes."""

    latents: Callable[[], torch.Tensor]
    encode: Callable[[np.ndarray], discord.File]
    caption: str
    view: Callable[[], discord.ui.View]
    quick: bool = True  # worth waiting a moment to answer with the picture itself (not a morph)
    edits: Mapping[str, float | str] | None = None  # checked slider edits, applied in the batch
    reply: Literal["public", "private", "update"] = "public"  # a new message, one only its user sees,
    # or the message whose button was pressed, redrawn in place (the editor's preview)


class DrawingService:
    """The queue, the encoder and the answers: what the commands and the buttons draw through."""

    def __init__(
        self, faces: Faces, backend: Backend, settings: Settings, views: Views, metrics: Metrics | None = None
    ):
        self.faces = faces
        self.views = views
        self.metrics = metrics or Metrics()
        self.queue = InferenceQueue(
            Upscaled(backend, render.FACE_PX),
            max_batch=settings.batch_cap,
            window_ms=settings.batch_window_ms,
            max_depth=settings.queue_depth,
            per_user=settings.per_user,
            batching=settings.batching,
            timeout_s=settings.draw_timeout_s,
            edit=faces.sliders.drawing,
            metrics=self.metrics,
        )
        self.shutdown_timeout = settings.shutdown_timeout_s
        self._encoder = ThreadPoolExecutor(max_workers=2, thread_name_prefix="encode")
        self._rng = np.random.default_rng()  # seeded from the OS: random faces differ on every run
        self._in_flight: set[asyncio.Task] = set()  # requests being answered, awaited on shutdown
        self.kept: dict[str, bytes] = {}  # pictures drawn once and kept, by file name (the slider sheet)

    def new_seed(self) -> int:
        """A seed for a face the user did not choose (/face without a seed, Reroll, Morph to new
        face): one whose face the critic accepts, so the generator's failures are skipped."""
        return self.faces.random_seeds(1, self._rng)[0]

    async def drain(self) -> None:
        """Stop taking work; draw what is queued within the shutdown timeout, refuse the rest
        politely, and let every waiting user get their answer before the connection goes."""
        await self.queue.close(self.shutdown_timeout)
        others = self._in_flight - {asyncio.current_task()}
        if others:
            await asyncio.wait(others, timeout=ANSWER_GRACE_S)
        self._encoder.shutdown(wait=False, cancel_futures=True)

    def count(self, interaction: discord.Interaction, outcome: str) -> None:
        """Record how an interaction that draws nothing ended (the drawings record their own)."""
        self.metrics.interaction(kind_of(interaction), outcome)

    async def draw(self, interaction: discord.Interaction, drawing: Drawing) -> None:
        kind, start = kind_of(interaction), time.perf_counter()
        try:
            ticket = self.queue.submit(drawing.latents(), interaction.user.id, drawing.edits)
        except (ValueError, Refused) as e:
            self.metrics.interaction(kind, e.outcome if isinstance(e, Refused) else "invalid")
            await tell(interaction, f"⚠️ {e}")
            return
        task = asyncio.current_task()
        self._in_flight.add(task)
        try:
            outcome = await self._answer(interaction, ticket, drawing)
        finally:
            self._in_flight.discard(task)
        self.metrics.interaction(kind, outcome, time.perf_counter() - start if outcome == "answered" else None)

    async def _answer(self, interaction: discord.Interaction, ticket: Ticket, drawing: Drawing) -> str:
        """A quick picture ready within QUICK_ANSWER_S is the response itself: one REST call, and no
        note that flickers past. A request expected to wait longer (or a morph) is answered at once
        with its place in the queue, replaced by the picture when it comes; if Discord will not take
        that note, a plain "thinking..." does (the note is best effort). Returns the outcome."""
        quick = drawing.quick and ticket.expected_wait() <= QUICK_ANSWER_S
        done, _ = await asyncio.wait({ticket.future}, timeout=QUICK_ANSWER_S if quick else 0)
        if not done and not await self._acknowledge(interaction, ticket, drawing.reply):
            ticket.future.cancel()  # the interaction is gone: no one to draw for
            return "gone"
        how = {"ephemeral": drawing.reply == "private", "update": drawing.reply == "update"}
        try:
            images = await ticket.future
            file = await asyncio.get_running_loop().run_in_executor(self._encoder, drawing.encode, images)
        except Refused as e:
            await deliver(interaction, f"⏳ {e}", fallback=f"⏳ {e}", **how)
            return e.outcome
        except Exception:
            log.exception("request failed (user %s, %s)", interaction.user.id, drawing.caption)
            await deliver(interaction, f"⚠️ {FAILED}", fallback=f"⚠️ {FAILED}", **how)
            return "failed"
        posted = await deliver(interaction, drawing.caption, file=file, view=drawing.view(), **how)
        return "answered" if posted else "failed"

    async def _acknowledge(self, interaction: discord.Interaction, ticket: Ticket, reply: str) -> bool:
        """Answer a slow request within Discord's 3 s: its place in the queue, or else "thinking...".
        A redraw in place only says that it is coming (its message keeps showing the last picture)."""
        if reply == "update":
            return await best_effort("deferring", interaction.response.defer())
        batch = ticket.batch()
        if batch == 0:
            note = "🎨 Drawing…"
        elif batch == 1:
            note = "⏳ Your picture is in the next batch…"
        else:
            note = f"⏳ Your picture is in batch #{batch} of the queue (about {ticket.expected_wait():.0f} s)…"
        private = reply == "private"
        if await best_effort("the queue note", interaction.response.send_message(note, ephemeral=private)):
            return True
        return await best_effort("deferring", interaction.response.defer(thinking=True, ephemeral=private))
