"""The bot: slash commands and buttons in front of the inference queue.

Every image request goes the same way: admit it to the queue (or refuse at once, ephemerally),
defer within Discord's 3 s, wait (showing the queue position after a second), encode the image
off the event loop, and send it as a follow-up with the face's buttons.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import discord
import numpy as np
import torch
from discord import app_commands
from discord.ext import commands

from gan import Faces

from . import render
from .commands import build_commands
from .queue import InferenceQueue, Refused, Ticket
from .settings import Settings
from .state import FaceState
from .views import FaceButton, face_view

log = logging.getLogger("bot")
POSITION_AFTER_S = 1.0
FAILED = "Sorry, something went wrong while drawing that. Please try again."


class ExpressionsBot(commands.AutoShardedBot):
    def __init__(self, faces: Faces, settings: Settings):
        super().__init__(command_prefix=commands.when_mentioned, intents=discord.Intents.default(), help_command=None)
        self.faces = faces
        self.settings = settings
        self.queue = InferenceQueue(
            faces.decode,
            max_batch=settings.batch_cap,
            window_ms=settings.batch_window_ms,
            max_depth=settings.queue_depth,
            per_user=settings.per_user,
            batching=settings.batching,
        )
        self._encoder = ThreadPoolExecutor(max_workers=2, thread_name_prefix="encode")
        self._in_flight: set[asyncio.Task] = set()  # requests being answered, awaited on shutdown
        self.tree.on_error = self.on_app_command_error

    async def setup_hook(self) -> None:
        for cmd in build_commands(self):
            self.tree.add_command(cmd)
        self.add_dynamic_items(FaceButton)
        if self.settings.dev_guild:
            guild = discord.Object(self.settings.dev_guild)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    async def close(self) -> None:
        await self.queue.close()  # draw what is queued, refuse the rest politely...
        others = self._in_flight - {asyncio.current_task()}
        if others:  # ...and let every waiting user get their answer before the connection goes
            await asyncio.wait(others, timeout=10)
        self._encoder.shutdown(wait=False)
        await super().close()

    @staticmethod
    def new_seed() -> int:
        return secrets.randbelow(2**32)

    # --- requests ---------------------------------------------------------------------------
    async def draw_face(self, interaction: discord.Interaction, state: FaceState) -> None:
        await self._draw(
            interaction, state, lambda: render.face_latent(self.faces, state), render.face_file, state.caption()
        )

    async def draw_morph(self, interaction: discord.Interaction, state: FaceState, seed_b: int, frames: int) -> None:
        await self._draw(
            interaction,
            state,
            lambda: render.morph_latents(self.faces, state, seed_b, frames),
            render.gif_file,
            f"{state.caption()} → seed {seed_b} · {frames} frames",
            with_buttons=False,
        )

    async def _draw(
        self,
        interaction: discord.Interaction,
        state: FaceState,
        latents: Callable[[], torch.Tensor],
        encode: Callable[[np.ndarray], discord.File],
        caption: str,
        with_buttons: bool = True,
    ) -> None:
        try:
            self.faces.check_edits(state.edits)
            ticket = self.queue.submit(latents(), interaction.user.id)
        except (ValueError, Refused) as e:
            await interaction.response.send_message(f"⚠️ {e}", ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        task = asyncio.current_task()
        self._in_flight.add(task)
        try:
            await self._answer(interaction, ticket, state, encode, caption, with_buttons)
        finally:
            self._in_flight.discard(task)

    async def _answer(
        self,
        interaction: discord.Interaction,
        ticket: Ticket,
        state: FaceState,
        encode: Callable[[np.ndarray], discord.File],
        caption: str,
        with_buttons: bool,
    ) -> None:
        showed_position = False
        try:
            showed_position = await self._show_position(interaction, ticket)
            images = await ticket.future
            file = await asyncio.get_running_loop().run_in_executor(self._encoder, encode, images)
        except Refused as e:
            await interaction.followup.send(f"⏳ {e}")
            return
        except Exception:
            log.exception("request failed (user %s, %s)", interaction.user.id, caption)
            await interaction.followup.send(f"⚠️ {FAILED}")
            return
        view = face_view(state, interaction.user.id, self.faces.attributes) if with_buttons else discord.utils.MISSING
        await interaction.followup.send(caption, file=file, view=view)
        if showed_position:
            await interaction.delete_original_response()

    async def _show_position(self, interaction: discord.Interaction, ticket: Ticket) -> bool:
        done, _ = await asyncio.wait({ticket.future}, timeout=POSITION_AFTER_S)
        if done:
            return False
        pos = ticket.position()
        await interaction.edit_original_response(content=f"⏳ You're #{pos} in the queue…" if pos else "🎨 Drawing…")
        return True

    # --- buttons ------------------------------------------------------------------------------
    async def on_button(self, interaction: discord.Interaction, action: str, state: FaceState, owner: int) -> None:
        if action == "reroll":
            await self.draw_face(interaction, FaceState(self.new_seed(), state.truncation, state.edits))
        elif action == "vary":
            await self._draw(
                interaction,
                state,
                lambda: render.variation_latents(self.faces, state),
                render.grid_file,
                f"Variations of {state.caption()}",
                with_buttons=False,
            )
        elif action == "morph":
            await self.draw_morph(interaction, state, self.new_seed(), 16)
        elif action == "details":
            await interaction.response.send_message(self.details_text(state, owner), ephemeral=True)
        elif interaction.user.id != owner:
            await interaction.response.send_message(f"Only <@{owner}> can delete this face.", ephemeral=True)
        else:
            await interaction.response.defer()
            await interaction.delete_original_response()

    # --- text ---------------------------------------------------------------------------------
    def details_text(self, state: FaceState, owner: int) -> str:
        lines = [f"**Seed** {state.seed}", f"**Truncation** {state.truncation:g}", f"**Requested by** <@{owner}>"]
        for name in self.faces.attributes:
            value = state.edits.get(name)
            lines.append(
                f"**{name}** {'-' if value is None else (f'{value:+g}' if isinstance(value, float) else value)}"
            )
        options = [f"seed:{state.seed}"] + ([f"truncation:{state.truncation:g}"] if state.truncation != 1.0 else [])
        options += [f"{k}:{v:g}" if isinstance(v, float) else f"{k}:{v}" for k, v in state.edits.items()]
        lines.append(f"Recreate it: `/face {' '.join(options)}`")
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

    # --- errors -------------------------------------------------------------------------------
    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error("command error: %s", error, exc_info=error)
        message = f"⚠️ {error}" if isinstance(error, app_commands.TransformerError) else f"⚠️ {FAILED}"
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)


def create_bot(faces: Faces | None = None, **settings) -> ExpressionsBot:
    """Build the bot without touching the network (tests and benchmarks pass a Faces)."""
    s = Settings(**settings)
    if faces is None:
        device = ("cuda" if torch.cuda.is_available() else "cpu") if s.device == "auto" else s.device
        faces = Faces.load(s.weights, device=device)
    return ExpressionsBot(faces, s)
