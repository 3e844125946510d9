"""Which image format the bot posts: size, encode time and fidelity of 256 px faces.

    python bench/image_formats.py [--n 64] [--picture docs/image_formats.png]

Every candidate encodes the same upscaled faces, uint8 arrays as the bot has them (the Pillow ones
make an image of each first); fidelity is PSNR against the exact (PNG) picture.
The picture shows one face in each format, with a 2x crop of the eyes below it.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bot.render import jpeg  # noqa: E402
from gan import Faces  # noqa: E402
from gan.imaging import grid, jpeg_bytes, png_bytes, upscale  # noqa: E402


def pil(fmt: str, **options):
    def encode(face: np.ndarray) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(face).save(buf, format=fmt, **options)
        return buf.getvalue()

    return encode


BOTS = "JPEG q97, 4:2:0, simplejpeg (the bot's)"
CANDIDATES = {
    "PNG, zlib level 1 + RLE (before)": png_bytes,
    "PNG, Pillow default (level 6)": pil("PNG"),
    "WebP lossless": pil("WEBP", lossless=True, method=0),
    "WebP q90": pil("WEBP", quality=90, method=0),
    "WebP q95": pil("WEBP", quality=95, method=0),
    "JPEG q90 (4:2:0)": pil("JPEG", quality=90),
    "JPEG q95, 4:4:4 (before)": pil("JPEG", quality=95, subsampling=0),
    "JPEG q97, 4:2:0": jpeg_bytes,
    BOTS: jpeg,
}

SHOWN = ["PNG, zlib level 1 + RLE (before)", "JPEG q95, 4:4:4 (before)", BOTS, "WebP q90"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--picture", type=Path, help="write the side-by-side comparison here")
    args = p.parse_args()
    faces = list(upscale(Faces.load().render(list(range(args.n))), 256))  # uint8 arrays, as the bot has them
    exact = [f.astype(float) for f in faces]
    print(f"{'format':40s} {'encode':>8s} {'size':>9s} {'PSNR':>8s}")
    decoded = {}
    for name, encode in CANDIDATES.items():
        start = time.perf_counter()
        blobs = [encode(f) for f in faces]
        ms = (time.perf_counter() - start) / len(faces) * 1000
        back = [np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), dtype=float) for b in blobs]
        mse = np.mean([((b - e) ** 2).mean() for b, e in zip(back, exact, strict=True)])
        psnr = "lossless" if mse == 0 else f"{10 * np.log10(255**2 / mse):.1f} dB"
        print(f"{name:40s} {ms:6.2f} ms {np.mean([len(b) for b in blobs]) / 1024:6.1f} KiB {psnr:>8s}")
        decoded[name] = back[0].astype(np.uint8)
    if args.picture:
        tiles = []
        for name in SHOWN:
            full = decoded[name]
            crop = np.asarray(Image.fromarray(full[80:144, 64:192]).resize((256, 128), Image.Resampling.NEAREST))
            tiles.append(np.concatenate([full, crop]))
        args.picture.write_bytes(png_bytes(grid(np.stack(tiles), cols=len(tiles), pad=8)))
        print(f"wrote {args.picture}: {', '.join(SHOWN)} (left to right)")


if __name__ == "__main__":
    main()
