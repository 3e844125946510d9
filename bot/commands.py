"""Slash commands. /face and /morph get one typed option per slider of the loaded model:
sliders as Range[float, -3, 3], toggles as on/off choices, so `/face smiling:+2 glasses:on` works
exactly as typed. The options are built from `faces.attributes` when the bot starts."""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands

from gan.latent import MAX_SEED

from .state import FaceState, quantize

if TYPE_CHECKING:
    from .app import ExpressionsBot

log = logging.getLogger(__name__)
MAX_OPTIONS = 25  # Discord's limit per command
MAX_MORPH_FRAMES = 48
Seed = app_commands.Range[int, 0, MAX_SEED]
Truncation = app_commands.Range[float, 0.1, 1.0]


def slider_parameters(bot: ExpressionsBot, room: int) -> tuple[list[inspect.Parameter], dict[str, str]]:
    """One optional keyword parameter per slider (at most `room`), and their descriptions."""
    params, descriptions = [], {}
    names = bot.faces.attributes
    if len(names) > room:
        log.warning("only the first %d of %d sliders fit in a command", room, len(names))
    for name in names[:room]:
        info = bot.faces.attribute_info(name)
        annotation = (
            app_commands.Range[float, -3.0, 3.0] | None if info["kind"] == "slider" else Literal["on", "off"] | None
        )
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation))
        rng = "-3 to +3" if info["kind"] == "slider" else "on/off"
        descriptions[name] = f"{info['description']} ({rng})"[:100]
    return params, descriptions


def edits_from(options: dict) -> dict[str, float | str]:
    return {k: quantize(v) if isinstance(v, (int, float)) else v for k, v in options.items() if v is not None}


def build_commands(bot: ExpressionsBot) -> list[app_commands.Command]:
    def command(name: str, description: str, callback, fixed: list[inspect.Parameter], fixed_desc: dict[str, str]):
        sliders, slider_desc = slider_parameters(bot, MAX_OPTIONS - len(fixed))
        interaction = inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
        callback.__signature__ = inspect.Signature([interaction, *fixed, *sliders])
        app_commands.describe(**fixed_desc, **slider_desc)(callback)
        return app_commands.Command(name=name, description=description, callback=callback)

    async def face(interaction: discord.Interaction, **options) -> None:
        seed, truncation = options.pop("seed"), options.pop("truncation")
        state = FaceState(bot.new_seed() if seed is None else seed, truncation or 1.0, edits_from(options))
        await bot.draw_face(interaction, state)

    async def morph(interaction: discord.Interaction, **options) -> None:
        seed_a, seed_b, frames, truncation = (options.pop(k) for k in ("seed_a", "seed_b", "frames", "truncation"))
        await bot.draw_morph(
            interaction, FaceState(seed_a, truncation or 1.0, edits_from(options)), seed_b, frames or 16
        )

    async def attributes(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(bot.attributes_text(), ephemeral=True)

    kw = inspect.Parameter.KEYWORD_ONLY
    seed = inspect.Parameter("seed", kw, default=None, annotation=Seed | None)
    truncation = inspect.Parameter("truncation", kw, default=None, annotation=Truncation | None)
    return [
        command(
            "face",
            "Draw a face of someone who does not exist",
            face,
            [seed, truncation],
            {"seed": "the face's number (random if empty)", "truncation": "0.1-1: lower is tamer, 1 is most varied"},
        ),
        command(
            "morph",
            "Animate one face turning into another",
            morph,
            [
                inspect.Parameter("seed_a", kw, annotation=Seed),
                inspect.Parameter("seed_b", kw, annotation=Seed),
                inspect.Parameter(
                    "frames", kw, default=None, annotation=app_commands.Range[int, 2, MAX_MORPH_FRAMES] | None
                ),
                truncation,
            ],
            {
                "seed_a": "the face to start from",
                "seed_b": "the face to end at",
                "frames": f"2 to {MAX_MORPH_FRAMES} (default 16)",
                "truncation": "0.1-1: lower is tamer",
            },
        ),
        app_commands.Command(
            name="attributes", description="List the face sliders and what they do", callback=attributes
        ),
    ]
