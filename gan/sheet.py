"""The slider sheet: one face with every slider at its low end, unedited and at its high end, in labelled rows.

`/attributes` in the bot and `python -m gan attributes --sheet` show it, so a user sees what each slider
does before asking for it. `sheet_latents` gives the faces in reading order (they go through the
bot's queue like any request's); `sheet_picture` lays the drawn faces out with their labels.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .attributes import SLIDER_RANGE, TOGGLE_VALUES
from .faces import Faces
from .imaging import upscale
from .recipes import Face, Recipe

SHEET_SEED = 42  # the face shown when none is asked for
CELL_PX = 112  # each face's side in the sheet
ROWS_PER_BLOCK = 8  # sliders per block of rows; more sliders go into blocks side by side
LABEL_PX, HEADER_PX, PAD, BLOCK_GAP = 116, 26, 4, 24
FONT_PX = 15
INK, MUTED, PAPER = (32, 34, 37), (110, 114, 120), (255, 255, 255)


def ends(faces: Faces, name: str) -> tuple[float | str, float | str]:
    """A slider's two ends: -3 and +3, or off and on for a toggle."""
    return TOGGLE_VALUES if faces.attribute_info(name)["kind"] == "toggle" else SLIDER_RANGE


def sheet_latents(faces: Faces, seed: Face = SHEET_SEED, truncation: float = 1.0) -> torch.Tensor:
    """(3 * sliders, ...) drawings for decode (gan/regions.py), edits applied: for each slider in display
    order, the face at its low end, unedited and at its high end."""
    base = faces.edit(faces.latent(seed), None, truncation)
    rows = []
    for name in faces.attributes:
        lo, hi = ends(faces, name)
        rows += [faces.sliders.drawing(base, edits) for edits in ({name: lo}, {}, {name: hi})]
    return torch.cat(rows) if rows else base[:0]


def sheet_picture(faces: Faces, images: np.ndarray, seed: Face) -> np.ndarray:
    """uint8 (H, W, 3): sheet_latents' faces (3 per slider, any size) in rows labelled with each slider
    and its ends, in blocks of ROWS_PER_BLOCK side by side, under a title naming the seed."""
    names = faces.attributes
    if len(images) != 3 * len(names):
        raise ValueError(f"a sheet of {len(names)} sliders takes {3 * len(names)} faces, got {len(images)}")
    cells = upscale(images, CELL_PX)
    rows_per_block = min(ROWS_PER_BLOCK, len(names)) or 1
    blocks = max(1, math.ceil(len(names) / rows_per_block))
    block_w = LABEL_PX + 3 * (CELL_PX + PAD) + BLOCK_GAP
    width = blocks * block_w - BLOCK_GAP + PAD
    height = HEADER_PX + rows_per_block * (CELL_PX + PAD) + PAD
    sheet = Image.new("RGB", (width, height), PAPER)
    pen = ImageDraw.Draw(sheet)
    font, small = _font(FONT_PX), _font(FONT_PX - 3)
    pen.text((PAD, 5), Recipe.of(seed).label, font=font, fill=INK)
    for b in range(blocks):
        x0 = b * block_w + PAD
        for c, head in enumerate(("low end", "as drawn", "high end")):
            pen.text(
                (x0 + LABEL_PX + c * (CELL_PX + PAD) + CELL_PX // 2, HEADER_PX - 4),
                head,
                font=small,
                fill=MUTED,
                anchor="ms",
            )
    for i, name in enumerate(names):
        b, r = divmod(i, rows_per_block)
        x0, y0 = b * block_w + PAD, HEADER_PX + r * (CELL_PX + PAD)
        lo, hi = ends(faces, name)
        span = f"{lo:+g} … {hi:+g}" if isinstance(lo, float) else f"{lo} / {hi}"
        pen.text((x0, y0 + CELL_PX // 2 - 2), name, font=font, fill=INK, anchor="ls")
        pen.text((x0, y0 + CELL_PX // 2 + 16), span, font=small, fill=MUTED, anchor="ls")
        for c in range(3):
            sheet.paste(Image.fromarray(cells[3 * i + c]), (x0 + LABEL_PX + c * (CELL_PX + PAD), y0))
    return np.asarray(sheet)


@cache
def _font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's own font at px (it ships one), so the sheet needs no font installed."""
    return ImageFont.load_default(px)
