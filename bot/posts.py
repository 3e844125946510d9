"""What the bot posts for a face: the face itself, its variations, a morph, a slider's animation.

The slash commands, the face buttons and the editor all post through these. Each is a `Drawing`
handed to the bot's `DrawingService`; the buttons under each come from the service's `Views`, so
this module does not import the buttons that call it.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import discord
import numpy as np
import torch

from gan import Faces
from gan.attributes import SLIDER_RANGE, TOGGLE_VALUES
from gan.recipes import Recipe
from gan.sheet import SHEET_SEED, sheet_latents, sheet_picture

from . import render
from .drawing import Drawing, DrawingService, ViewFactory
from .replies import deliver
from .state import FaceState


async def post_face(
    service: DrawingService, interaction: discord.Interaction, state: FaceState, notice: str = ""
) -> None:
    """A face with its buttons."""
    face_view = service.views.face
    await _post(service, interaction, state, notice, render.face_latent, render.face_file, state.caption(), face_view)


async def post_grid(
    service: DrawingService, interaction: discord.Interaction, first: FaceState, notice: str = ""
) -> None:
    """A grid of variations or children, from `first` on, with a button to pick each and one for more."""
    base, step = first.face.origin
    numbers = f"{step.index}–{step.index + render.GRID - 1}"
    if step.parent is None:
        label = f"Variations {numbers} of {base.label}"
    else:
        label = f"Children {numbers} of {base.label} and {step.parent.label}"
    caption = f"{first.caption(label)}\nPick one to carry on from it."
    grid = service.views.grid
    await _post(service, interaction, first, notice, render.grid_latents, render.grid_file, caption, grid)


async def post_morph(
    service: DrawingService,
    interaction: discord.Interaction,
    state: FaceState,
    end: Recipe,
    frames: int,
    notice: str = "",
) -> None:
    """A GIF of this face turning into `end`; its requester can delete it."""
    caption = f"{state.caption()} → {end.label} · {frames} frames"

    def latents(faces: Faces, state: FaceState) -> torch.Tensor:
        return render.morph_latents(faces, state, end, frames)

    await _post(service, interaction, state, notice, latents, render.gif_file, caption, service.views.result, False)


async def post_animation(
    service: DrawingService,
    interaction: discord.Interaction,
    state: FaceState,
    slider: str,
    frames: int,
    notice: str = "",
) -> None:
    """A looping GIF of this face with one slider swept from end to end and back, its other edits
    held; its requester can delete it."""
    kind = service.faces.attribute_info(slider)["kind"]
    lo, hi = (f"{v:+g}" for v in SLIDER_RANGE) if kind == "slider" else TOGGLE_VALUES
    held = FaceState(state.face, state.truncation, {k: v for k, v in state.edits.items() if k != slider})
    caption = f"{held.caption()} · {slider} {lo} → {hi} → {lo} · {frames} frames"

    def latents(faces: Faces, state: FaceState) -> torch.Tensor:
        return faces.sweep(state.face, slider, frames, state.truncation, state.edits)

    anim = service.views.result
    await _post(service, interaction, held, notice, latents, render.animation_file, caption, anim, False, edited=True)


async def post_sheet(service: DrawingService, interaction: discord.Interaction, seed: int | None, text: str) -> None:
    """`text` over the slider sheet (gan/sheet.py) of `seed`, seen by its user alone. The sheet of the
    default face is drawn once per slider set and kept: its file name carries the set's fingerprint."""
    faces = service.faces
    shown = SHEET_SEED if seed is None else seed
    name = f"sliders-{faces.sliders.fingerprint}-{shown}.jpg"
    caption = f"{text}\nEach slider on seed {shown}: its low end, the face as drawn, its high end."
    if (kept := service.kept.get(name)) is not None:
        posted = await deliver(interaction, caption, file=discord.File(io.BytesIO(kept), filename=name), ephemeral=True)
        service.count(interaction, "answered" if posted else "failed")
        return

    def encode(images: np.ndarray) -> discord.File:
        data = render.jpeg(sheet_picture(faces, images, shown))
        if seed is None:
            service.kept[name] = data
        return discord.File(io.BytesIO(data), filename=name)

    drawing = Drawing(lambda: sheet_latents(faces, shown), encode, caption, discord.ui.View, reply="private")
    await service.draw(interaction, drawing)


async def _post(
    service: DrawingService,
    interaction: discord.Interaction,
    state: FaceState,
    notice: str,
    latents: Callable[[Faces, FaceState], torch.Tensor],
    encode: Callable[[np.ndarray], discord.File],
    caption: str,
    view: ViewFactory,
    quick: bool = True,
    edited: bool = False,
) -> None:
    """Draw `latents` of the face (before its edits, which the queue applies, unless `edited`: the
    latents carry them already) and post them publicly under `view`'s buttons."""
    owner, faces = interaction.user.id, service.faces
    drawing = Drawing(
        lambda: latents(faces, state),
        encode,
        f"{caption}\n{notice}" if notice else caption,
        lambda: view(state, owner, faces),
        quick,
        None if edited else state.edits,
    )
    await service.draw(interaction, drawing)
