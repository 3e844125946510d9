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
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
from .backends import Backend
from .buttons import face_view, known, result_view
from .queue import InferenceQueue, Refused, Ticket
from .replies import FAILED, best_effort, deliver, tell
from .settings import Settings
from .state import MAX_MORPH_FRAMES, TRUNCATION_RANGE, BadRequest, Decoded, FaceState, check_frames, check_seed_option

if TYPE_CHECKING:
    from .app import ExpressionsBot

log = logging.getLogger(__name__)
POSITION_AFTER_S = 1.0
ANSWER_GRACE_S = 5.0  # on shutdown, time for the last answers to reach Discord
MAX_OPTIONS = 25  # Discord's limit per command
MORPH_FRAMES = 16
UNKNOWN_BUTTON = "This button belongs to an older version of me and no longer works. Try /face."
Seed = app_commands.Range[int, 0, MAX_SEED]
Truncation = app_commands.Range[float, TRUNCATION_RANGE[0], TRUNCATION_RANGE[1]]
Slider = app_commands.Range[float, SLIDER_RANGE[0], SLIDER_RANGE[1]]


class FaceCog(commands.Cog):
    def __init__(self, bot: ExpressionsBot, faces: Faces, backend: Backend, settings: Settings):
        self.bot = bot
        self.faces = faces
        self.queue = InferenceQueue(
            backend,
            max_batch=settings.batch_cap,
            window_ms=settings.batch_window_ms,
            max_depth=settings.queue_depth,
            per_user=settings.per_user,
            batching=settings.batching,
            timeout_s=settings.draw_timeout_s,
        )
        self.shutdown_timeout = settings.shutdown_timeout_s
        self._encoder = ThreadPoolExecutor(max_workers=2, thread_name_prefix="encode")
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

    @staticmethod
    def new_seed() -> int:
        return secrets.randbelow(MAX_SEED + 1)

    # --- requests ---------------------------------------------------------------------------
    async def draw_face(self, interaction: discord.Interaction, state: FaceState, notice: str = "") -> None:
        owner = interaction.user.id
        await self._draw(
            interaction,
            lambda: render.face_latent(self.faces, state),
            render.face_file,
            _caption(state.caption(), notice),
            lambda: face_view(state, owner, self.faces),
        )

    async def draw_variations(self, interaction: discord.Interaction, state: FaceState, notice: str = "") -> None:
        owner = interaction.user.id
        await self._draw(
            interaction,
            lambda: render.variation_latents(self.faces, state),
            render.grid_file,
            _caption(f"Variations of {state.caption()}", notice),
            lambda: result_view(state, owner, self.faces),
        )

    async def draw_morph(
        self, interaction: discord.Interaction, state: FaceState, seed_b: int, frames: int, notice: str = ""
    ) -> None:
        owner = interaction.user.id
        caption = f"{state.caption()} → seed {seed_b} · {frames} frames"
        await self._draw(
            interaction,
            lambda: render.morph_latents(self.faces, state, seed_b, frames),
            render.gif_file,
            _caption(caption, notice),
            lambda: result_view(state, owner, self.faces),
        )

    async def _draw(
        self,
        interaction: discord.Interaction,
        latents: Callable[[], torch.Tensor],
        encode: Callable[[np.ndarray], discord.File],
        caption: str,
        view: Callable[[], discord.ui.View],
    ) -> None:
        try:
            ticket = self.queue.submit(latents(), interaction.user.id)
        except (ValueError, Refused) as e:
            await tell(interaction, f"⚠️ {e}")
            return
        try:
            await interaction.response.defer(thinking=True)
        except discord.HTTPException as e:  # the interaction expired or Discord failed: no one to answer
            log.warning("could not defer (%s); dropping the request", e)
            ticket.future.cancel()
            return
        task = asyncio.current_task()
        self._in_flight.add(task)
        try:
            await self._answer(interaction, ticket, encode, caption, view)
        finally:
            self._in_flight.discard(task)

    async def _answer(
        self,
        interaction: discord.Interaction,
        ticket: Ticket,
        encode: Callable[[np.ndarray], discord.File],
        caption: str,
        view: Callable[[], discord.ui.View],
    ) -> None:
        noted = await self._show_position(interaction, ticket)
        try:
            images = await ticket.future
            file = await asyncio.get_running_loop().run_in_executor(self._encoder, encode, images)
        except Refused as e:
            await deliver_text(interaction, f"⏳ {e}", noted)
            return
        except Exception:
            log.exception("request failed (user %s, %s)", interaction.user.id, caption)
            await deliver_text(interaction, f"⚠️ {FAILED}", noted)
            return
        if await deliver(interaction, caption, file=file, view=view()) and noted:
            await best_effort("deleting the queue note", interaction.delete_original_response())

    async def _show_position(self, interaction: discord.Interaction, ticket: Ticket) -> bool:
        """After a second's wait, turn "thinking..." into the place in the queue; best effort."""
        done, _ = await asyncio.wait({ticket.future}, timeout=POSITION_AFTER_S)
        if done:
            return False
        pos = ticket.position()
        note = f"⏳ You're #{pos} in the queue…" if pos else "🎨 Drawing…"
        return await best_effort("the queue note", interaction.edit_original_response(content=note))

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
        log.error("command error: %s", error, exc_info=error)
        await tell(interaction, f"⚠️ {FAILED}")

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """A button no face-button class will pick up (a forged or retired custom_id) still gets an answer."""
        if interaction.type is discord.InteractionType.component:
            custom_id = (interaction.data or {}).get("custom_id", "")
            if not known(custom_id):
                log.info("unknown button %r", custom_id)
                await tell(interaction, f"⚠️ {UNKNOWN_BUTTON}")


async def deliver_text(interaction: discord.Interaction, text: str, noted: bool) -> None:
    """A text outcome: replaces the queue note if one is showing, else posted as the follow-up."""
    if noted and await best_effort("replacing the queue note", interaction.edit_original_response(content=text)):
        return
    await deliver(interaction, text, fallback=text)


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
