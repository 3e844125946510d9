"""Reading a face pack: WebP faces inside zips, with their 40 CelebA attribute labels.

A pack is the folder `python -m train.celeba` writes (and `../shared/celeba64` is):
`train.zip` / `holdout.zip` of `NNNNNN.webp` (64x64, the CelebA file number) and
`train_attributes.csv` / `holdout_attributes.csv` (`image_id` then the 40 attributes as 1 / -1).

Training holds the whole split in memory as one uint8 tensor (N, 3, 64, 64) when it fits, on the
GPU if there is one, and samples batches there with no data loader in the loop. A pack too large
for that is streamed instead: `BatchStream` decodes shuffled batches from the zip on worker threads.
Only `split="holdout"` reads the holdout, and only evaluation code asks for it.
"""

from __future__ import annotations

import csv
import io
import os
import queue
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gan.model import IMAGE_SIZE

from .errors import TrainError

SPLITS = ("train", "holdout")
DEFAULT_PACK = Path(__file__).resolve().parent.parent.parent / "shared" / "celeba64"  # where CI keeps it
IMAGE_BYTES = 3 * IMAGE_SIZE * IMAGE_SIZE  # one uint8 face
MEMORY_SHARE = 0.5  # hold a split in memory only if it takes at most this share of what is free
MEMORY_MODES = ("auto", "resident", "stream")


@dataclass
class FaceSet:
    images: torch.Tensor  # uint8 (N, 3, 64, 64)
    labels: torch.Tensor  # float (N, 40), 1.0 where the attribute is present
    attribute_names: list[str]
    ids: list[str]

    def __len__(self) -> int:
        return len(self.ids)


def _pack_file(root: Path | str, name: str) -> Path:
    path = Path(root) / name
    if not path.is_file():
        raise TrainError(
            f"{path} not found: {root} is not a face pack (build one from CelebA with `python -m train.celeba`)"
        )
    return path


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def read_attributes(root: Path | str, split: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """Attribute names and a map image_id -> 0/1 vector of the split's CSV."""
    with open(_pack_file(root, f"{split}_attributes.csv"), newline="") as f:
        rows = csv.reader(f)
        header = next(rows)
        names = header[1:]
        table = {Path(r[0]).stem: (np.array(r[1:], dtype=np.int8) > 0) for r in rows}
    return names, table


def members(root: Path | str, split: str, limit: int | None = None) -> list[str]:
    """The split's image names in the zip, sorted by id (the first `limit` of them, if given)."""
    _check_split(split)
    with zipfile.ZipFile(_pack_file(root, f"{split}.zip")) as zf:
        return sorted(n for n in zf.namelist() if n.endswith(".webp"))[:limit]


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)


def load_split(root: Path | str, split: str = "train", limit: int | None = None) -> FaceSet:
    """Decode a split (the first `limit` images, sorted by id, if given) into memory."""
    root = Path(root)
    names, table = read_attributes(root, split)
    files = members(root, split, limit)
    ids = [Path(n).stem for n in files]
    missing = [i for i in ids if i not in table]
    if missing:
        raise TrainError(f"{root}/{split}: {len(missing)} images have no attribute row, e.g. {missing[0]}")
    images = np.empty((len(files), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)  # filled in place: no second copy

    def fill(i: int, blob: bytes) -> None:
        images[i] = _decode(blob)

    with zipfile.ZipFile(root / f"{split}.zip") as zf, ThreadPoolExecutor() as pool:
        for start in range(0, len(files), 4096):  # bounded: a chunk of compressed blobs at a time
            chunk = files[start : start + 4096]
            list(pool.map(fill, range(start, start + len(chunk)), [zf.read(n) for n in chunk]))
    labels = np.stack([table[i] for i in ids]).astype(np.float32) if ids else np.zeros((0, len(names)), np.float32)
    return FaceSet(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels), names, ids)


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the generator's output range."""
    return images.float().div_(127.5).sub_(1.0)


# --- packs larger than memory ---------------------------------------------------------------------
def available_bytes(device: torch.device) -> int:
    """Memory free for a resident split: the GPU's free memory, or the host's available memory."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def hold_in_memory(n_images: int, mode: str, free: dict[str, int]) -> bool:
    """Whether to hold n_images in memory: `mode` resident or stream decides; auto holds them when
    they take at most MEMORY_SHARE of each memory they pass through (`free`: place -> free bytes)."""
    if mode not in MEMORY_MODES:
        raise TrainError(f"data memory mode must be one of {MEMORY_MODES}, got {mode!r}")
    if mode != "auto":
        return mode == "resident"
    return all(n_images * IMAGE_BYTES <= MEMORY_SHARE * b for b in free.values())


class BatchStream:
    """Endless shuffled uint8 batches (batch, 3, 64, 64) decoded from a split's zip.

    Every image is used once per epoch, in a new order each epoch (fixed by `seed`). A feeder
    thread keeps `prefetch` batches decoded ahead, each decoded by a pool of threads with a zip
    handle of their own (Pillow decodes WebP without holding the GIL).
    """

    def __init__(
        self,
        root: Path | str,
        split: str,
        batch: int,
        *,
        seed: int = 0,
        limit: int | None = None,
        workers: int | None = None,
        prefetch: int = 4,
    ):
        self.path = _pack_file(root, f"{split}.zip")
        self.files = members(root, split, limit)
        if len(self.files) < batch:
            raise TrainError(f"{self.path} has {len(self.files)} images, fewer than one batch of {batch}")
        self.batch = batch
        self._rng = np.random.default_rng(seed)
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1))
        self._ready: queue.Queue[torch.Tensor | BaseException] = queue.Queue(maxsize=prefetch)
        self._stop = threading.Event()
        self._feeder = threading.Thread(target=self._feed, name="batch-stream", daemon=True)
        self._feeder.start()

    def __len__(self) -> int:
        return len(self.files)

    def _read(self, name: str) -> np.ndarray:
        zf = getattr(self._local, "zip", None)
        if zf is None:
            zf = self._local.zip = zipfile.ZipFile(self.path)
        return _decode(zf.read(name))

    def _order(self):
        while True:  # epochs; a batch may span the end of one and the start of the next
            yield from self._rng.permutation(len(self.files))

    def _feed(self) -> None:
        order = self._order()
        try:
            while not self._stop.is_set():
                names = [self.files[next(order)] for _ in range(self.batch)]
                x = torch.from_numpy(np.stack(list(self._pool.map(self._read, names)))).permute(0, 3, 1, 2)
                x = x.contiguous().pin_memory() if torch.cuda.is_available() else x.contiguous()
                while not self._stop.is_set():
                    try:
                        self._ready.put(x, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        except Exception as e:  # noqa: BLE001 - handed to the training loop, which raises it
            self._ready.put(e)

    def __next__(self) -> torch.Tensor:
        item = self._ready.get()
        if isinstance(item, BaseException):
            raise TrainError(f"reading {self.path} failed: {item}") from item
        return item

    def __iter__(self) -> BatchStream:
        return self

    def close(self) -> None:
        self._stop.set()
        self._feeder.join()
        self._pool.shutdown()
