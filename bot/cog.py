"""FaceCog: the slash commands, and everything they share: the model, the inference queue and the
image encoder.

/face and /morph get one typed option per slider of the loaded model (sliders as
Range[float, -3, 3], toggles as on/off choices), built when the cog loads, so `/face smiling:+2
glasses:on` works exactly as typed. Discord checks those options, and so does the cog: a forged
payload gets the same clear message as any other bad value.

Every image request goes the same way: check it, admit it to the queue (or refuse at once,
ephemerally), defer within Discord's 3 s, wait (showing the queue position after a second, if
Discord lets us), encode the image off the event loop, and post it with its buttons.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import discord
import numpy as np
import torch
from discord import app_commands
from discord.ext import commands

from gan import Faces
from gan.attributes import SLIDER_RANGE
from gan.latent import MAX_SEED

from . import render
from .backends import Backend, Upscaled
from .buttons import face_view, known, result_view
from .queue import InferenceQueue, Refused, Ticket
from .replies import FAILED, best_effort, deliver, tell
from .settings import Settings
from .state import MAX_MORPH_FRAMES, TRUNCATION_RANGE, BadRequest, Decoded, FaceState, check_frames, check_seed_option

if TYPE_CHECKING:
    from .app import ExpressionsBot

log = logging.getLogger(__name__)
QUICK_ANSWER_S = 1.0  # a face expected this soon is the response itself; a longer wait gets the queue note at once
ANSWER_GRACE_S = 5.0  # on shutdown, time for the last answers to reach Discord
MAX_OPTIONS = 25  # Discord's limit per command
MORPH_FRAMES = 16
UNKNOWN_BUTTON = "This button belongs to an older version of me and no longer works. Try /face."
Seed = app_commands.Range[int, 0, MAX_SEED]
Truncation = app_commands.Range[float, TRUNCATION_RANGE[0], TRUNCATION_RANGE[1]]
Slider = app_commands.Range[float, SLIDER_RANGE[0], SLIDER_RANGE[1]]


@dataclass(frozen=True)
class Drawing:
    """One picture request: its latents, how its images become a file, its caption and buttons."""

    latents: Callable[[], torch.Tensor]
    encode: Callable[[np.ndarray], discord.File]
    caption: str
    view: Callable[[], discord.ui.View]
    quick: bool = True  # worth waiting a moment to answer with the picture itself (not a morph)


class FaceCog(commands.Cog):
    def __init__(self, bot: ExpressionsBot, faces: Faces, backend: Backend, settings: Settings):
        self.bot = bot
        self.faces = faces
        self.queue = InferenceQueue(
            Upscaled(backend, render.FACE_PX),
            max_batch=settings.batch_cap,
            window_ms=settings.batch_window_ms,
            max_depth=settings.queue_depth,
            per_user=settings.per_user,
            batching=settings.batching,
            timeout_s=settings.draw_timeout_s,
        )
        self.shutdown_timeout = settings.shutdown_timeout_s
        self._encoder = ThreadPoolExecutor(max_workers=2, thread_name_prefix="encode")
        self._rng = np.random.default_rng()  # seeded from the OS: random faces differ on every run
        self._in_flight: set[asyncio.Task] = set()  # requests being answered, awaited on shutdown
        self._commands = build_commands(self)

    async def cog_load(self) -> None:
        for cmd in self._commands:
            self.bot.tree.add_command(cmd)
        self.bot.tree.on_error = self.on_app_command_error

    async def cog_unload(self) -> None:
        for cmd in self._commands:
            self.bot.tree.remove_command(cmd.name)

    async def drain(self) -> None:
        """Stop taking work; draw what is queued within the shutdown timeout, refuse the rest
        politely, and let every waiting user get their answer before the connection goes."""
        await self.queue.close(self.shutdown_timeout)
        others = self._in_flight - {asyncio.current_task()}
        if others:
            await asyncio.wait(others, timeout=ANSWER_GRACE_S)
        self._encoder.shutdown(wait=False, cancel_futures=True)

    def new_seed(self) -> int:
        """A seed for a face the user did not choose (/face without a seed, Reroll, Morph to new
        face): one whose face the critic accepts, so the generator's failures are skipped."""
        return self.faces.random_seeds(1, self._rng)[0]

    # --- requests ---------------------------------------------------------------------------
    async def draw_face(self, interaction: discord.Interaction, state: FaceState, notice: str = "") -> None:
        owner = interaction.user.id
        drawing = Drawing(
            lambda: render.face_latent(self.faces, state),
            render.face_file,
            _caption(state.caption(), notice),
            lambda: face_view(state, owner, self.faces),
        )
        await self._draw(interaction, drawing)

    async def draw_variations(self, interaction: discord.Interaction, state: FaceState, notice: str = "") -> None:
        owner = interaction.user.id
        drawing = Drawing(
            lambda: render.variation_latents(self.faces, state),
            render.grid_file,
            _caption(f"Variations of {state.caption()}", notice),
            lambda: result_view(state, owner, self.faces),
        )
        await self._draw(interaction, drawing)

    async def draw_morph(
        self, interaction: discord.Interaction, state: FaceState, seed_b: int, frames: int, notice: str = ""
    ) -> None:
        owner = interaction.user.id
        caption = f"{state.caption()} → seed {seed_b} · {frames} frames"
        drawing = Drawing(
            lambda: render.morph_latents(self.faces, state, seed_b, frames),
            render.gif_file,
            _caption(caption, notice),
            lambda: result_view(state, owner, self.faces),
            quick=False,
        )
        await self._draw(interaction, drawing)

    async def _draw(self, interaction: discord.Interaction, drawing: Drawing) -> None:
        try:
            ticket = self.queue.submit(drawing.latents(), interaction.user.id)
        except (ValueError, Refused) as e:
            await tell(interaction, f"⚠️ {e}")
            return
        task = asyncio.current_task()
        self._in_flight.add(task)
        try:
            await self._answer(interaction, ticket, drawing)
        finally:
            self._in_flight.discard(task)

    async def _answer(self, interaction: discord.Interaction, ticket: Ticket, drawing: Drawing) -> None:
        """A quick picture ready within QUICK_ANSWER_S is the response itself: one REST call, and no
        note that flickers past. A request expected to wait longer (or a morph) is answered at once
        with its place in the queue, replaced by the picture when it comes; if Discord will not take
        that note, a plain "thinking..." does (the note is best effort)."""
        quick = drawing.quick and ticket.expected_wait() <= QUICK_ANSWER_S
        done, _ = await asyncio.wait({ticket.future}, timeout=QUICK_ANSWER_S if quick else 0)
        if not done and not await self._acknowledge(interaction, ticket):
            ticket.future.cancel()  # the interaction is gone: no one to draw for
            return
        try:
            images = await ticket.future
            file = await asyncio.get_running_loop().run_in_executor(self._encoder, drawing.encode, images)
        except Refused as e:
            await deliver(interaction, f"⏳ {e}", fallback=f"⏳ {e}")
        except Exception:
            log.exception("request failed (user %s, %s)", interaction.user.id, drawing.caption)
            await deliver(interaction, f"⚠️ {FAILED}", fallback=f"⚠️ {FAILED}")
        else:
            await deliver(interaction, drawing.caption, file=file, view=drawing.view())

    async def _acknowledge(self, interaction: discord.Interaction, ticket: Ticket) -> bool:
        """Answer a slow request within Discord's 3 s: its place in the queue, or else "thinking..."."""
        batch = ticket.batch()
        if batch == 0:
            note = "🎨 Drawing…"
        elif batch == 1:
            note = "⏳ Your picture is in the next batch…"
        else:
            note = f"⏳ Your picture is in batch #{batch} of the queue (about {ticket.expected_wait():.0f} s)…"
        if await best_effort("the queue note", interaction.response.send_message(note)):
            return True
        return await best_effort("deferring", interaction.response.defer(thinking=True))

    # --- text ---------------------------------------------------------------------------------
    def details_text(self, decoded: Decoded, owner: int) -> str:
        state = decoded.state
        lines = [f"**Seed** {state.seed}", f"**Truncation** {state.truncation:g}", f"**Requested by** <@{owner}>"]
        for name in self.faces.attributes:
            value = state.edits.get(name)
            lines.append(f"**{name}** {'-' if value is None else _value(value)}")
        options = [f"seed:{state.seed}"] + ([f"truncation:{state.truncation:g}"] if state.truncation != 1.0 else [])
        options += [f"{k}:{_value(v)}" for k, v in state.edits.items()]
        lines.append(f"Recreate it: `/face {' '.join(options)}`")
        if decoded.notice():
            lines.append(decoded.notice())
        return "\n".join(lines)

    def attributes_text(self) -> str:
        if not self.faces.attributes:
            return "This model has no sliders yet."
        rows = []
        for name in self.faces.attributes:
            info = self.faces.attribute_info(name)
            rng = "-3 … +3" if info["kind"] == "slider" else "on / off"
            rows.append(f"**{name}** ({rng}): {info['description']}")
        return "Sliders for `/face` and `/morph`:\n" + "\n".join(rows)

    # --- errors and strays ------------------------------------------------------------------------
    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError):
        original = getattr(error, "original", error)
        if isinstance(original, (BadRequest, app_commands.TransformerError)):
            await tell(interaction, f"⚠️ {original}")
            return
        if isinstance(original, app_commands.CommandSignatureMismatch):  # a forged or outdated client's payload
            given = {o.get("name") for o in (interaction.data or {}).get("options", [])}
            missing = [p.name for p in original.command.parameters if p.required and p.name not in given]
            log.info("/%s without %s", original.command.name, missing or "the options it declares")
            what = ", ".join(missing) or "the options it needs"
            await tell(interaction, f"⚠️ This /{original.command.name} came without {what}. Please type it again.")
            return
        log.error("command error: %s", error, exc_info=error)
        await tell(interaction, f"⚠️ {FAILED}")

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """A button no face-button class will pick up (a forged or retired custom_id) still gets an answer."""
        if interaction.type is discord.InteractionType.component:
            custom_id = (interaction.data or {}).get("custom_id", "")
            if not known(custom_id) or not _on_message(interaction.message, custom_id):
                log.info("unknown button %r", custom_id)
                await tell(interaction, f"⚠️ {UNKNOWN_BUTTON}")


def _on_message(message: discord.Message | None, custom_id: str) -> bool:
    """Whether the pressed button is on its message: discord.py runs a button class only then."""
    rows = message.components if message is not None else []
    return any(getattr(c, "custom_id", None) == custom_id for row in rows for c in getattr(row, "children", [row]))


def _caption(text: str, notice: str) -> str:
    return f"{text}\n{notice}" if notice else text


def _value(v: float | str) -> str:
    return f"{v:+g}" if isinstance(v, float) else v


# --- slash commands -------------------------------------------------------------------------------
def slider_parameters(faces: Faces, room: int) -> tuple[list[inspect.Parameter], dict[str, str]]:
    """One optional keyword parameter per slider (at most `room`), and their descriptions."""
    params, descriptions = [], {}
    if len(faces.attributes) > room:
        log.warning("only the first %d of %d sliders fit in a command", room, len(faces.attributes))
    for name in faces.attributes[:room]:
        info = faces.attribute_info(name)
        annotation = Slider | None if info["kind"] == "slider" else Literal["on", "off"] | None
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation))
        rng = "-3 to +3" if info["kind"] == "slider" else "on/off"
        descriptions[name] = f"{info['description']} ({rng})"[:100]
    return params, descriptions


def build_commands(cog: FaceCog) -> list[app_commands.Command]:
    faces = cog.faces

    def command(name: str, description: str, callback, fixed: list[inspect.Parameter], fixed_desc: dict[str, str]):
        sliders, slider_desc = slider_parameters(faces, MAX_OPTIONS - len(fixed))
        interaction = inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
        callback.__signature__ = inspect.Signature([interaction, *fixed, *sliders])
        app_commands.describe(**fixed_desc, **slider_desc)(callback)
        return app_commands.Command(name=name, description=description, callback=callback)

    async def face(interaction: discord.Interaction, **options) -> None:
        seed, truncation = options.pop("seed"), options.pop("truncation")
        state = FaceState.create(faces, cog.new_seed() if seed is None else seed, truncation, options)
        await cog.draw_face(interaction, state)

    async def morph(interaction: discord.Interaction, **options) -> None:
        seed_a, seed_b, frames, truncation = (options.pop(k) for k in ("seed_a", "seed_b", "frames", "truncation"))
        state = FaceState.create(faces, seed_a, truncation, options)
        await cog.draw_morph(interaction, state, check_seed_option(seed_b), check_frames(frames, MORPH_FRAMES))

    async def attributes(interaction: discord.Interaction) -> None:
        await tell(interaction, cog.attributes_text())

    kw = inspect.Parameter.KEYWORD_ONLY
    seed = inspect.Parameter("seed", kw, default=None, annotation=Seed | None)
    truncation = inspect.Parameter("truncation", kw, default=None, annotation=Truncation | None)
    frames = app_commands.Range[int, 2, MAX_MORPH_FRAMES] | None
    lo, hi = TRUNCATION_RANGE
    return [
        command(
            "face",
            "Draw a face of someone who does not exist",
            face,
            [seed, truncation],
            {
                "seed": "the face's number (random if empty)",
                "truncation": f"{lo:g}-{hi:g}: lower is tamer, {hi:g} is most varied",
            },
        ),
        command(
            "morph",
            "Animate one face turning into another",
            morph,
            [
                inspect.Parameter("seed_a", kw, annotation=Seed),
                inspect.Parameter("seed_b", kw, annotation=Seed),
                inspect.Parameter("frames", kw, default=None, annotation=frames),
                truncation,
            ],
            {
                "seed_a": "the face to start from",
                "seed_b": "the face to end at",
                "frames": f"2 to {MAX_MORPH_FRAMES} (default {MORPH_FRAMES})",
                "truncation": f"{lo:g}-{hi:g}: lower is tamer",
            },
        ),
        app_commands.Command(
            name="attributes", description="List the face sliders and what they do", callback=attributes
        ),
    ]
