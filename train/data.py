"""Reading the celeba64 pack: WebP faces inside zips, with their 40 CelebA attribute labels.

The whole split is decoded once into a uint8 tensor (N, 3, 64, 64); training moves it to the
GPU in one copy and samples batches there, so no data loader sits in the training loop.
Only `split="holdout"` reads the holdout, and only evaluation code asks for it.
"""

from __future__ import annotations

import csv
import io
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

SPLITS = ("train", "holdout")


@dataclass
class FaceSet:
    images: torch.Tensor  # uint8 (N, 3, 64, 64)
    labels: torch.Tensor  # float (N, 40), 1.0 where the attribute is present
    attribute_names: list[str]
    ids: list[str]

    def __len__(self) -> int:
        return len(self.ids)


def read_attributes(root: Path | str, split: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """Attribute names and a map image_id -> 0/1 vector of the split's CSV."""
    with open(Path(root) / f"{split}_attributes.csv", newline="") as f:
        rows = csv.reader(f)
        header = next(rows)
        names = header[1:]
        table = {Path(r[0]).stem: (np.array(r[1:], dtype=np.int8) > 0) for r in rows}
    return names, table


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)


def load_split(root: Path | str, split: str = "train", limit: int | None = None) -> FaceSet:
    """Decode a split (the first `limit` images, sorted by id, if given)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = Path(root)
    names, table = read_attributes(root, split)
    with zipfile.ZipFile(root / f"{split}.zip") as zf:
        members = sorted(n for n in zf.namelist() if n.endswith(".webp"))[:limit]
        blobs = [zf.read(n) for n in members]
    with ThreadPoolExecutor() as pool:
        arrays = list(pool.map(_decode, blobs))
    ids = [Path(n).stem for n in members]
    missing = [i for i in ids if i not in table]
    if missing:
        raise ValueError(f"{split}: {len(missing)} images have no attribute row, e.g. {missing[0]}")
    labels = np.stack([table[i] for i in ids]).astype(np.float32)
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return FaceSet(images, torch.from_numpy(labels), names, ids)


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the generator's output range."""
    return images.float().div_(127.5).sub_(1.0)
