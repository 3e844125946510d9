"""Turning generator output into pictures people see: uint8 arrays, grids, PNG and GIF bytes.

Shared by the CLI, the bot and the training code so that a face looks the same everywhere.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

DEFAULT_SIZE = 256
SIZE_RANGE = (16, 2048)  # pixels per face side
Z_RLE = 3  # zlib's run-length-encoding strategy
JPEG_QUALITY = 97
JPEG_CHROMA = "4:2:0"  # colour at half the picture's width, which is still twice the face's 64 px
GIF_PALETTE_STRIDE = 4


def uint8_nhwc(x: torch.Tensor) -> torch.Tensor:
    """Generator output (N, 3, H, W) in [-1, 1] -> uint8 (N, H, W, 3) on its own device, rounded to
    nearest: a quarter of the bytes of float32 to carry home."""
    x = (x.detach().float().clamp(-1, 1) + 1) * 127.5
    return x.round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Generator output (N, 3, H, W) in [-1, 1] -> uint8 (N, H, W, 3) numpy, rounded to nearest."""
    return uint8_nhwc(x).cpu().numpy()


def upscale(images: np.ndarray, size: int = DEFAULT_SIZE) -> np.ndarray:
    """uint8 faces (N, H, W, 3), or one (H, W, 3), as size x size pictures of the same shape.

    Bicubic, so a face stays smooth on a phone screen where 64 px would be a blur of blocks; done
    in one torch call on uint8 channels-last data, about ten times faster than Pillow's Lanczos per
    face and within 47 dB of it (docs/image_formats.md)."""
    if not SIZE_RANGE[0] <= size <= SIZE_RANGE[1]:
        raise ValueError(f"size must be from {SIZE_RANGE[0]} to {SIZE_RANGE[1]} px, got {size}")
    batch = images[None] if images.ndim == 3 else images
    if batch.shape[1:3] != (size, size):
        x = torch.from_numpy(np.require(batch, requirements=["C", "W"])).permute(0, 3, 1, 2)  # channels-last view
        y = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)
        # channels-last memory is contiguous (N, H, W, 3) once permuted; torch returns a single
        # image channels-first, and Pillow would copy that one again, slowly, pixel by pixel
        batch = y.contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1).numpy()
    return batch[0] if images.ndim == 3 else batch


def grid(images: np.ndarray, cols: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile uint8 (N, H, W, 3) images into one (rows x cols) uint8 picture on a white background."""
    n, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i, im in enumerate(images):
        r, q = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        out[y : y + h, x : x + w] = im
    return out


def png_bytes(image: Image.Image | np.ndarray) -> bytes:
    img = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buf = io.BytesIO()
    # zlib level 1 with the run-length strategy: much faster than the default level and, on smooth
    # upscaled faces, nearly as small (measured in docs/training/README.md)
    img.save(buf, format="PNG", compress_level=1, compress_type=Z_RLE)
    return buf.getvalue()


def jpeg_bytes(image: Image.Image | np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG as the bot posts it, byte for byte (the bot's own encoder, bot.render.jpeg, skips Pillow).
    An upscaled 64 px face has no colour detail finer than a quarter of the picture's width, so 4:2:0
    chroma (half the width) keeps all of it; at quality 97 a 256 px face is about 18 KiB, 0.24 ms to
    encode, and 49 dB from the PNG (docs/image_formats.md)."""
    img = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, subsampling=JPEG_CHROMA)
    return buf.getvalue()


def gif_bytes(frames: np.ndarray, frame_ms: int = 80, bounce: bool = True) -> bytes:
    """uint8 frames (N, H, W, 3) as an animated GIF that loops forever, all frames on one shared
    palette and undithered, so colours do not flicker or crawl between frames. With bounce it
    plays forth and back."""
    if len(frames) == 0:
        raise ValueError("a GIF needs at least one frame")
    order = [*range(len(frames)), *range(len(frames) - 2, 0, -1)] if bounce and len(frames) > 2 else range(len(frames))
    # the palette comes from every 4th pixel of every frame: these smooth pictures lose nothing to
    # it, and median cut runs 16 times fewer pixels (docs/image_formats.md)
    sample = np.ascontiguousarray(frames[:, ::GIF_PALETTE_STRIDE, ::GIF_PALETTE_STRIDE])
    palette = Image.fromarray(sample.reshape(-1, *sample.shape[2:])).quantize(
        colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    mapped = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    paletted = [mapped[i] for i in order]
    buf = io.BytesIO()
    paletted[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=paletted[1:],
        loop=0,
        duration=frame_ms,
        disposal=1,
        optimize=False,
        palette=palette.getpalette(),
    )  # one global table, no per-frame tables
    return buf.getvalue()
