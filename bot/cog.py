"""FaceCog: the slash commands, their error hook, and an answer for stray buttons.

/face and /morph get one typed option per slider of the loaded model (sliders as
Range[float, -3, 3], toggles as on/off choices), built when the cog loads, so `/face smiling:+2
glasses:on` works exactly as typed. Discord checks those options, and so does the cog: a forged
payload gets the same clear message as any other bad value. The pictures go through the bot's
DrawingService (bot/drawing.py), posted as the buttons post them (bot/buttons.py).
"""

from __future__ import annotations

import inspect
import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from gan import Faces
from gan.attributes import SLIDER_RANGE, TOGGLE_VALUES
from gan.faces import MORPH_FRAMES, SWEEP_FRAMES
from gan.latent import MAX_SEED
from gan.recipes import MAX_CODE, CodeError
from gan.sheet import SHEET_SEED

from .buttons import known
from .drawing import DrawingService
from .logs import bind
from .posts import post_animation, post_face, post_grid, post_morph, post_sheet
from .replies import FAILED, tell
from .state import (
    MAX_MORPH_FRAMES,
    TRUNCATION_RANGE,
    BadRequest,
    FaceState,
    check_face_option,
    check_frames,
    check_seed_option,
)

log = logging.getLogger(__name__)
MAX_OPTIONS = 25  # Discord's limit per command
UNKNOWN_BUTTON = "This button belongs to an older version of me and no longer works. Try /face."
Seed = app_commands.Range[int, 0, MAX_SEED]
Code = app_commands.Range[str, 1, MAX_CODE]  # a seed or a face code (gan/recipes.py)
CODE_TEXT = "a seed or a face code from Details (42, 42v3, 42x17c2)"
Truncation = app_commands.Range[float, TRUNCATION_RANGE[0], TRUNCATION_RANGE[1]]
Slider = app_commands.Range[float, SLIDER_RANGE[0], SLIDER_RANGE[1]]
SLIDER_TEXT = f"{SLIDER_RANGE[0]:+g} to {SLIDER_RANGE[1]:+g}"
SLIDER_SPAN = f"{SLIDER_RANGE[0]:+g} … {SLIDER_RANGE[1]:+g}"
TOGGLE_TEXT = "/".join(reversed(TOGGLE_VALUES))  # "on/off"


class FaceCog(commands.Cog):
    def __init__(self, bot: commands.Bot, service: DrawingService):
        self.bot = bot
        self.service = service
        self.faces = service.faces
        self._commands = build_commands(self)

    async def cog_load(self) -> None:
        for cmd in self._commands:
            self.bot.tree.add_command(cmd)
        self.bot.tree.on_error = self.on_app_command_error

    async def cog_unload(self) -> None:
        for cmd in self._commands:
            self.bot.tree.remove_command(cmd.name)

    def attributes_text(self) -> str:
        if not self.faces.attributes:
            return "This model has no sliders yet."
        rows = []
        for name in self.faces.attributes:
            info = self.faces.attribute_info(name)
            rng = SLIDER_SPAN if info["kind"] == "slider" else " / ".join(reversed(TOGGLE_VALUES))
            rows.append(f"**{name}** ({rng}): {info['description']}")
        return "Sliders for `/face` and `/morph`:\n" + "\n".join(rows)

    # --- errors and strays ------------------------------------------------------------------------
    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError):
        original = getattr(error, "original", error)
        told = (BadRequest, CodeError, app_commands.TransformerError)  # a face too deep to refine is a CodeError
        self.service.count(
            interaction, "invalid" if isinstance(original, (*told, app_commands.CommandSignatureMismatch)) else "failed"
        )
        if isinstance(original, told):
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
            bind(interaction)
            custom_id = (interaction.data or {}).get("custom_id", "")
            if not known(custom_id) or not _on_message(interaction.message, custom_id):
                log.info("unknown button %r", custom_id)
                self.service.metrics.interaction("unknown", "invalid")  # not its forged action: labels stay few
                await tell(interaction, f"⚠️ {UNKNOWN_BUTTON}")


def _on_message(message: discord.Message | None, custom_id: str) -> bool:
    """Whether the pressed button is on its message: discord.py runs a button class only then."""
    rows = message.components if message is not None else []
    return any(getattr(c, "custom_id", None) == custom_id for row in rows for c in getattr(row, "children", [row]))


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
        rng = SLIDER_TEXT if info["kind"] == "slider" else TOGGLE_TEXT
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
        seed, code, truncation = options.pop("seed"), options.pop("code"), options.pop("truncation")
        if seed is not None and code is not None:
            raise BadRequest("give a seed or a code, not both")
        chosen = seed if seed is not None else code  # FaceState.create checks either
        state = FaceState.create(faces, cog.service.new_seed() if chosen is None else chosen, truncation, options)
        await post_face(cog.service, interaction, state)

    async def morph(interaction: discord.Interaction, **options) -> None:
        seed_a, seed_b, frames, truncation = (options.pop(k) for k in ("seed_a", "seed_b", "frames", "truncation"))
        state = FaceState.create(faces, seed_a, truncation, options)
        end = check_face_option(seed_b, "seed_b")
        await post_morph(cog.service, interaction, state, end, check_frames(frames))

    async def blend(interaction: discord.Interaction, **options) -> None:
        seed_a, seed_b, truncation = (options.pop(k) for k in ("seed_a", "seed_b", "truncation"))
        parent = FaceState.create(faces, seed_a, truncation, options)
        first = parent.with_face(parent.face.child(check_face_option(seed_b, "seed_b"), 1))
        await post_grid(cog.service, interaction, first)

    async def animate(interaction: discord.Interaction, seed: str, slider: str, frames: int | None = None) -> None:
        if slider not in faces.attributes:  # Discord offers the choices; a forged payload may not keep to them
            raise BadRequest(f"slider must be one of {', '.join(faces.attributes)}, got {slider!r}")
        state = FaceState.create(faces, seed, None, {})
        await post_animation(cog.service, interaction, state, slider, check_frames(frames, SWEEP_FRAMES))

    async def attributes(interaction: discord.Interaction, seed: Seed | None = None) -> None:
        if not faces.attributes:
            cog.service.count(interaction, "answered")
            await tell(interaction, cog.attributes_text())
            return
        await post_sheet(
            cog.service, interaction, check_seed_option(seed) if seed is not None else None, cog.attributes_text()
        )

    kw = inspect.Parameter.KEYWORD_ONLY
    seed = inspect.Parameter("seed", kw, default=None, annotation=Seed | None)
    code = inspect.Parameter("code", kw, default=None, annotation=Code | None)
    seed_a, seed_b = (inspect.Parameter(name, kw, annotation=Code) for name in ("seed_a", "seed_b"))
    truncation = inspect.Parameter("truncation", kw, default=None, annotation=Truncation | None)
    frames = app_commands.Range[int, 2, MAX_MORPH_FRAMES] | None
    lo, hi = TRUNCATION_RANGE
    return [
        command(
            "face",
            "Draw a face of someone who does not exist",
            face,
            [seed, code, truncation],
            {
                "seed": "the face's number (random if empty)",
                "code": "a face's code from Details, e.g. 42v3 (a variation) or 42x17c2 (a blend)",
                "truncation": f"{lo:g}-{hi:g}: lower is tamer, {hi:g} is most varied",
            },
        ),
        command(
            "morph",
            "Animate one face turning into another",
            morph,
            [seed_a, seed_b, inspect.Parameter("frames", kw, default=None, annotation=frames), truncation],
            {
                "seed_a": f"the face to start from: {CODE_TEXT}",
                "seed_b": f"the face to end at: {CODE_TEXT}",
                "frames": f"2 to {MAX_MORPH_FRAMES} (default {MORPH_FRAMES})",
                "truncation": f"{lo:g}-{hi:g}: lower is tamer",
            },
        ),
        command(
            "blend",
            "Four children of two faces, each a mix of both: pick one to carry on",
            blend,
            [seed_a, seed_b, truncation],
            {
                "seed_a": f"the first parent: {CODE_TEXT}",
                "seed_b": f"the second parent: {CODE_TEXT}",
                "truncation": f"{lo:g}-{hi:g}: lower is tamer",
            },
        ),
        animate_command(faces, animate, frames),
        app_commands.Command(
            name="attributes",
            description="Show every face slider at both ends, on one face",
            callback=app_commands.describe(seed=f"the face to show them on (default {SHEET_SEED})")(attributes),
        ),
    ]


def animate_command(faces: Faces, callback, frames) -> app_commands.Command:
    """/animate seed slider [frames]: the slider's choices are the model's sliders (Discord allows 25)."""
    choices = [app_commands.Choice(name=n, value=n) for n in faces.attributes[:MAX_OPTIONS]]
    callback.__signature__ = inspect.Signature(
        [
            inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction),
            inspect.Parameter("seed", inspect.Parameter.KEYWORD_ONLY, annotation=Code),
            inspect.Parameter("slider", inspect.Parameter.KEYWORD_ONLY, annotation=str),
            inspect.Parameter("frames", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=frames),
        ]
    )
    app_commands.describe(
        seed=f"the face: {CODE_TEXT}",
        slider="the slider to sweep from one end to the other and back",
        frames=f"2 to {MAX_MORPH_FRAMES} (default {SWEEP_FRAMES})",
    )(callback)
    if choices:
        app_commands.choices(slider=choices)(callback)
    return app_commands.Command(name="animate", description="Animate one slider on a face", callback=callback)
