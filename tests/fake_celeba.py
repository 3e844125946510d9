"""A CelebA-shaped download written by the tests: 178x218 JPEGs with a generated face where the real
crop sits, `list_attr_celeba.txt` and `list_eval_partition.txt`, so `prepare` and everything that reads
its pack run for real on a fresh clone without the CelebA data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from gan import Faces
from gan.checkpoint import load_tensors
from train.celeba import ALIGNED_SIZE, CROP_BOX, CROP_SIDE
from train.classifier import DEFAULT_PATH as CLASSIFIER_PATH


def attribute_names() -> list[str]:
    """CelebA's 40 attribute names in their official order, as the shipped classifier records them."""
    return load_tensors(CLASSIFIER_PATH)[1]["attribute_names"]


def write_celeba(root: Path, faces: Faces, n: int, seed: int = 0) -> np.ndarray:
    """Write images 000001.jpg .. n, labels and partition under root; returns the (n, 64, 64, 3)
    faces that sit in the crop of each image."""
    rng = np.random.default_rng(seed)
    names = attribute_names()
    drawn = faces.render(list(range(1, n + 1)))
    (root / "img_align_celeba").mkdir(parents=True)
    attr = [str(n), " ".join(names)]
    partition = []
    for k, face in enumerate(drawn, start=1):
        canvas = Image.fromarray(rng.integers(0, 255, (*ALIGNED_SIZE[::-1], 3), dtype=np.uint8))
        canvas.paste(Image.fromarray(face).resize((CROP_SIDE, CROP_SIDE), Image.Resampling.LANCZOS), CROP_BOX[:2])
        canvas.save(root / "img_align_celeba" / f"{k:06d}.jpg", quality=95)
        values = np.where(rng.random(len(names)) < 0.4, 1, -1)
        attr.append(f"{k:06d}.jpg " + " ".join(f"{v:2d}" for v in values))
        partition.append(f"{k:06d}.jpg {0 if k % 10 < 8 else (1 if k % 10 == 8 else 2)}")
    (root / "list_attr_celeba.txt").write_text("\n".join(attr) + "\n")
    (root / "list_eval_partition.txt").write_text("\n".join(partition) + "\n")
    return drawn
