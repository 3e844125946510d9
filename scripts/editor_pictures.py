"""The pictures of the editor (docs/editor/): what a user sees at each step, and one slider animated.

    python scripts/editor_pictures.py     # writes docs/editor/steps.png and docs/editor/smiling.gif

The steps are the previews the editor redraws (the same latents and edits as the bot: Faces.render
with the editor's values), captioned as the editor captions them; the GIF is what /animate posts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from gan import Faces  # noqa: E402
from gan.attributes import describe  # noqa: E402
from gan.imaging import gif_bytes, png_bytes, upscale  # noqa: E402

SEED = 92
STEPS = (  # what the user presses, and the edits after it
    ("Edit (smiling chosen)", {}),
    ("+0.5", {"smiling": 0.5}),
    ("+0.5", {"smiling": 1.0}),
    ("+0.5", {"smiling": 1.5}),
    ("+0.5", {"smiling": 2.0}),
    ("glasses chosen, On", {"smiling": 2.0, "glasses": "on"}),
)
PX, CAPTION = 160, 36


def main() -> None:
    faces = Faces.load()
    out = ROOT / "docs" / "editor"
    out.mkdir(parents=True, exist_ok=True)
    tiles = []
    for pressed, edits in STEPS:
        tile = Image.new("RGB", (PX, PX + CAPTION), "white")
        tile.paste(Image.fromarray(upscale(faces.render([SEED], edits=edits), PX)[0]), (0, CAPTION))
        draw = ImageDraw.Draw(tile)
        draw.text((4, 2), pressed, fill="black")
        draw.text((4, 18), describe(edits), fill="dimgray")
        tiles.append(np.asarray(tile))
    (out / "steps.png").write_bytes(png_bytes(np.concatenate(tiles, axis=1)))
    frames = faces.decode(faces.sweep(SEED, "smiling", 24))
    (out / "smiling.gif").write_bytes(gif_bytes(upscale(frames, PX), bounce=False))
    print(f"wrote {out / 'steps.png'} and {out / 'smiling.gif'}")


if __name__ == "__main__":
    main()
