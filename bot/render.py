"""Latents for each kind of request, and their images as Discord files (run off the event loop)."""

from __future__ import annotations

import io

import discord
import numpy as np
import simplejpeg
import torch

from gan import Faces
from gan.imaging import JPEG_CHROMA, JPEG_QUALITY, gif_bytes, grid
from gan.recipes import Recipe

from .state import FaceState

FACE_PX = 256
SIMPLEJPEG_CHROMA = JPEG_CHROMA.replace(":", "")  # simplejpeg spells 4:2:0 as 420
GRID = 4  # faces in a grid of variations or children: a 2 x 2 picture, a pick button each


def face_latent(faces: Faces, state: FaceState) -> torch.Tensor:
    """The face's latent before its edits (the queue applies them, batched with requests alike)."""
    return faces.edit(faces.latent(state.face), None, state.truncation)


def grid_faces(first: Recipe) -> list[Recipe]:
    """The faces of the grid that starts at `first` (a variation or a child): it and its next siblings."""
    return [first.sibling(i) if i else first for i in range(GRID)]


def grid_latents(faces: Faces, state: FaceState) -> torch.Tensor:
    """A grid's faces before their edits; `state` is its first face's."""
    return faces.edit(faces.latent(grid_faces(state.face)), None, state.truncation)


def morph_latents(faces: Faces, a: FaceState, b: Recipe, frames: int) -> torch.Tensor:
    """A morph's frames before their edits (the path edits every frame alike, so the queue can)."""
    return faces.path(a.face, b, frames, a.truncation)


def jpeg(image: np.ndarray) -> bytes:
    """The picture gan.imaging.jpeg_bytes makes (the same libjpeg-turbo, quality and chroma), from
    simplejpeg: it skips Pillow's copies and lets go of the GIL while it encodes, so the encoder
    threads no longer hold up the event loop (0.19 against 0.29 ms a face: docs/bot_load.md)."""
    return simplejpeg.encode_jpeg(
        np.ascontiguousarray(image), JPEG_QUALITY, colorspace="RGB", colorsubsampling=SIMPLEJPEG_CHROMA
    )


# The files are made of faces already FACE_PX wide: the queue upscales each batch at once (backends.Upscaled).
def face_file(images: np.ndarray, name: str = "face.jpg") -> discord.File:
    return discord.File(io.BytesIO(jpeg(images[0])), filename=name)


def grid_file(images: np.ndarray, name: str = "variations.jpg") -> discord.File:
    return discord.File(io.BytesIO(jpeg(grid(images, cols=2, pad=4))), filename=name)


def gif_file(images: np.ndarray, name: str = "morph.gif") -> discord.File:
    return discord.File(io.BytesIO(gif_bytes(images)), filename=name)


def animation_file(images: np.ndarray, name: str = "animation.gif") -> discord.File:
    """A slider's animation: its frames already make the loop (Faces.sweep), so no bounce."""
    return discord.File(io.BytesIO(gif_bytes(images, bounce=False)), filename=name)
