"""Carrying a face on, in pictures (docs/recipes/): a variations grid and a blend grid, each with the face picked.

    python scripts/recipe_pictures.py     # writes docs/recipes/variations.png and docs/recipes/blend.png

Each grid is drawn as the bot draws it (the same faces, the same 2 x 2 layout), beside the face its
pick button posts, captioned with the codes the bot shows.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bot.render import FACE_PX, grid_faces  # noqa: E402
from gan import Faces  # noqa: E402
from gan.imaging import grid, png_bytes, upscale  # noqa: E402
from gan.recipes import Recipe  # noqa: E402

PX, CAPTION, GAP = 128, 40, 24
PICTURES = {  # file: (the grid's first face, the number picked, the grid's caption)
    "variations": ("42v1", 3, "Variations 1-4 of seed 42"),
    "blend": ("42x17c1", 2, "/blend seed_a:42 seed_b:17"),
}


def picture(faces: Faces, first: Recipe, number: int, title: str) -> np.ndarray:
    """From left to right: the face (or the two parents) the grid came from, the grid, the face picked."""
    base, step = first.origin
    sources = [base] if step.parent is None else [base, step.parent]
    origin = grid(upscale(faces.render(sources), PX), cols=1, pad=4)
    codes = grid_faces(first)
    tiles = grid(upscale(faces.render(codes), PX), cols=2, pad=4)
    picked = upscale(faces.render(codes[number - 1]), FACE_PX)[0]
    height = CAPTION + max(tiles.shape[0], picked.shape[0])
    x_grid = origin.shape[1] + GAP
    x_picked = x_grid + tiles.shape[1] + GAP
    canvas = Image.new("RGB", (x_picked + picked.shape[1], height), "white")
    for x, image in ((0, origin), (x_grid, tiles), (x_picked, picked)):
        canvas.paste(Image.fromarray(image), (x, CAPTION))
    pen = ImageDraw.Draw(canvas)
    pen.text((4, 4), "from", fill="black")
    pen.text((4, 20), " + ".join(str(s) for s in sources), fill="dimgray")
    pen.text((x_grid, 4), title, fill="black")
    pen.text((x_grid, 20), "buttons: 1 2 3 4 · More like these · Delete", fill="dimgray")
    pen.text((x_picked, 4), f"pressed {number}: face {codes[number - 1]}", fill="black")
    pen.text((x_picked, 20), "with Reroll, Variations, Morph, Edit, Details", fill="dimgray")
    return np.asarray(canvas)


def main() -> None:
    faces = Faces.load()
    out = ROOT / "docs" / "recipes"
    out.mkdir(parents=True, exist_ok=True)
    for name, (first, number, title) in PICTURES.items():
        (out / f"{name}.png").write_bytes(png_bytes(picture(faces, Recipe.parse(first), number, title)))
        print(f"wrote {out / name}.png")


if __name__ == "__main__":
    main()
