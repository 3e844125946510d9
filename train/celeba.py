"""Build a face pack from the official CelebA download.

    python -m train.celeba ~/celeba --out .data/celeba-full

SOURCE is the folder of the CelebA download: the aligned images as `img_align_celeba/` (a folder,
possibly nested once, as some mirrors ship it) or `img_align_celeba.zip`, and the labels as
`list_attr_celeba.txt` (or `.csv`); `list_eval_partition.txt` is read only for `--holdout partition`.
Each 178x218 image is cropped to the 148x148 square centred at (89, 118), resized to 64x64 with
Lanczos and stored as WebP (quality 90), exactly as `../shared/celeba64` was made.

Holdout rule (`--holdout`): `every:12` (the default, as in celeba64) puts every CelebA number
divisible by 12 in the holdout; `partition` uses CelebA's own test partition. Training never reads
the holdout. A corrupt image is skipped and counted; a missing file or an image without labels
stops the run with one line saying which.

CelebA is for non-commercial research and education only (MMLAB, CUHK); so is any pack and model made from it.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import re
import shutil
import zipfile
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from gan.model import IMAGE_SIZE

from .data import SPLITS
from .errors import TrainError, cli

ALIGNED_SIZE = (178, 218)  # every img_align_celeba image
CROP_CENTER, CROP_SIDE = (89, 118), 148
CROP_BOX = (
    CROP_CENTER[0] - CROP_SIDE // 2,
    CROP_CENTER[1] - CROP_SIDE // 2,
    CROP_CENTER[0] + CROP_SIDE // 2,
    CROP_CENTER[1] + CROP_SIDE // 2,
)
WEBP_QUALITY = 90
IMAGES, ATTRIBUTES, PARTITION = "img_align_celeba", "list_attr_celeba", "list_eval_partition.txt"
CHUNK = 256  # images handed to the worker processes at a time


# --- reading the download ------------------------------------------------------------------------
def read_labels(path: Path) -> tuple[list[str], dict[int, list[int]]]:
    """list_attr_celeba.txt (a count line, the 40 names, then `000001.jpg -1 1 ...`) or the .csv
    variant (`image_id,<names>` then rows): attribute names and CelebA number -> 40 values of 1 / -1."""
    text = path.read_text()
    if path.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(text)))
        names, body = rows[0][1:], rows[1:]
    else:
        lines = text.splitlines()
        if len(lines) < 2:
            raise TrainError(f"{path}: too short to be CelebA's attribute list")
        names, body = lines[1].split(), [line.split() for line in lines[2:] if line.strip()]
    table: dict[int, list[int]] = {}
    for i, row in enumerate(body):
        try:
            values = [1 if int(v) > 0 else -1 for v in row[1:]]
            number = image_number(row[0])
        except (ValueError, IndexError):
            raise TrainError(f"{path}: row {i + 1} is not `NNNNNN.jpg` and {len(names)} values: {row[:3]}...") from None
        if len(values) != len(names):
            raise TrainError(f"{path}: row {i + 1} ({row[0]}) has {len(values)} values for {len(names)} attributes")
        table[number] = values
    if not names or not table:
        raise TrainError(f"{path}: no attribute names or rows found")
    return names, table


def read_partition(path: Path) -> dict[int, int]:
    """list_eval_partition.txt: CelebA number -> 0 train, 1 validation, 2 test."""
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            name, part = line.split()[:2]
            out[image_number(name)] = int(part)
    return out


def image_number(name: str) -> int:
    """'000123.jpg' (or a path ending in it) -> 123."""
    m = re.fullmatch(r"(\d+)\.(jpe?g|png)", Path(name).name, re.IGNORECASE)
    if not m:
        raise ValueError(f"not a CelebA image name: {name!r}")
    return int(m[1])


class ImageSource:
    """The aligned images, from a folder or the zip: number -> bytes."""

    def __init__(self, root: Path):
        folder, archive = root / IMAGES, root / f"{IMAGES}.zip"
        if folder.is_dir():
            inner = folder / IMAGES
            self.folder: Path | None = inner if inner.is_dir() else folder  # some mirrors nest it once
            self.zip: zipfile.ZipFile | None = None
            names = [p.name for p in self.folder.iterdir()]
        elif archive.is_file():
            self.folder, self.zip = None, zipfile.ZipFile(archive)
            names = [n for n in self.zip.namelist() if not n.endswith("/")]
        else:
            raise TrainError(f"no {IMAGES}/ folder or {IMAGES}.zip in {root}")
        self.origin = f"{IMAGES}.zip" if self.zip else f"{IMAGES}/"
        self.names: dict[int, str] = {}
        for n in names:
            try:
                self.names[image_number(n)] = n
            except ValueError:
                continue  # a stray file (README, .DS_Store) is not an image
        if not self.names:
            raise TrainError(f"{archive if self.zip else self.folder} holds no CelebA images (NNNNNN.jpg)")

    def read(self, number: int) -> bytes:
        name = self.names[number]
        return self.zip.read(name) if self.zip else (self.folder / name).read_bytes()


def find_labels(root: Path) -> Path:
    for name in (f"{ATTRIBUTES}.txt", f"{ATTRIBUTES}.csv"):
        if (root / name).is_file():
            return root / name
    raise TrainError(f"no {ATTRIBUTES}.txt (or .csv) in {root}: it holds the 40 attribute labels")


# --- one image -----------------------------------------------------------------------------------
def convert(data: bytes) -> bytes | None:
    """An aligned CelebA JPEG -> the pack's 64x64 WebP, or None if it cannot be decoded."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            img = im.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    if img.size != ALIGNED_SIZE:
        return None
    face = img.crop(CROP_BOX).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    face.save(buf, format="WEBP", quality=WEBP_QUALITY)
    return buf.getvalue()


def _convert_chunk(blobs: list[bytes]) -> list[bytes | None]:
    return [convert(b) for b in blobs]


# --- the pack ------------------------------------------------------------------------------------
@dataclass
class Report:
    written: dict[str, int]
    skipped: list[str]  # undecodable or not 178x218
    unlabelled_missing: int  # labelled numbers with no image

    def summary(self, out: Path) -> str:
        lines = [f"wrote {out}: {self.written['train']:,} train and {self.written['holdout']:,} holdout faces"]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} unreadable or wrongly sized images, e.g. {self.skipped[:3]}")
        if self.unlabelled_missing:
            lines.append(f"note: {self.unlabelled_missing:,} labelled images were not in the download")
        return "\n".join(lines)


def holdout_rule(rule: str, root: Path) -> tuple[Callable[[int], bool], str]:
    """'every:N' or 'partition' -> (number -> is holdout, a sentence for the pack's README)."""
    if rule == "partition":
        path = root / PARTITION
        if not path.is_file():
            raise TrainError(f"--holdout partition needs {path}")
        part = read_partition(path)
        return (lambda n: part.get(n) == 2), "CelebA's own test partition (list_eval_partition.txt = 2)"
    m = re.fullmatch(r"every:(\d+)", rule)
    if not m or int(m[1]) < 2:
        raise TrainError(f"--holdout is every:N (N >= 2, e.g. every:12) or partition, got {rule!r}")
    k = int(m[1])
    return (lambda n: n % k == 0), f"every CelebA number divisible by {k}"


def prepare(
    root: Path | str,
    out: Path | str,
    holdout: str = "every:12",
    limit: int | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Report:
    """Write out/{train,holdout}.zip and *_attributes.csv (and a README) from a CelebA download."""
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise TrainError(f"{root} is not a folder: give the folder holding the CelebA download")
    if (out / "train.zip").exists() and not overwrite:
        raise TrainError(f"{out} already holds a pack: choose another --out or pass --overwrite")
    names, labels = read_labels(find_labels(root))
    source = ImageSource(root)
    is_holdout, rule_text = holdout_rule(holdout, root)
    unlabelled = sorted(set(source.names) - set(labels))
    if unlabelled:
        first = source.names[unlabelled[0]]
        raise TrainError(f"{len(unlabelled)} images have no row in the attribute list, e.g. {first}")
    numbers = sorted(source.names)[:limit]
    tmp = out.with_name(out.name + ".partial")  # renamed to `out` only once complete
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    report = Report({"train": 0, "holdout": 0}, [], len(set(labels) - set(source.names)))
    with contextlib.ExitStack() as stack:
        zips = {s: stack.enter_context(zipfile.ZipFile(tmp / f"{s}.zip", "w", zipfile.ZIP_STORED)) for s in SPLITS}
        files = {s: stack.enter_context(open(tmp / f"{s}_attributes.csv", "w", newline="")) for s in SPLITS}
        tables = {s: csv.writer(f) for s, f in files.items()}
        for t in tables.values():
            t.writerow(["image_id", *names])
        workers = workers or os.cpu_count() or 1
        pool = stack.enter_context(ProcessPoolExecutor(max_workers=workers))
        bar = stack.enter_context(tqdm(total=len(numbers), unit="img", disable=not progress))
        in_flight: deque[tuple[list[int], Future]] = deque()

        def store(part: list[int], webps: list[bytes | None]) -> None:
            for n, webp in zip(part, webps, strict=True):
                if webp is None:
                    report.skipped.append(source.names[n])
                    continue
                split = "holdout" if is_holdout(n) else "train"
                zips[split].writestr(f"{n:06d}.webp", webp)
                tables[split].writerow([f"{n:06d}.webp", *labels[n]])
                report.written[split] += 1
            bar.update(len(part))

        for start in range(0, len(numbers), CHUNK):
            part = numbers[start : start + CHUNK]
            in_flight.append((part, pool.submit(_convert_chunk, [source.read(n) for n in part])))
            if len(in_flight) > 2 * workers:  # a bounded window keeps memory flat on 200k images
                store(in_flight[0][0], in_flight.popleft()[1].result())
        while in_flight:
            store(in_flight[0][0], in_flight.popleft()[1].result())
    (tmp / "README.md").write_text(_readme(source, rule_text, report))
    if overwrite:
        shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return report


def _readme(source: ImageSource, rule: str, report: Report) -> str:
    return f"""# A face pack built by `python -m train.celeba`

From the aligned CelebA images ({source.origin}), each cropped to the {CROP_SIDE}x{CROP_SIDE} square centred at
{CROP_CENTER} and resized to {IMAGE_SIZE}x{IMAGE_SIZE} with Lanczos, stored as WebP (quality {WEBP_QUALITY}),
with the 40 CelebA binary attributes of each image (1 or -1).

| file | what |
| --- | --- |
| train.zip | {report.written["train"]:,} images, `NNNNNN.webp` (the CelebA file number), stored uncompressed |
| train_attributes.csv | `image_id` then the 40 attributes, one row per image in train.zip |
| holdout.zip | {report.written["holdout"]:,} images ({rule}): never train on them; they are for evaluation |
| holdout_attributes.csv | the same for holdout.zip |

{len(report.skipped)} images could not be read and were skipped.

CelebA is released by MMLAB, CUHK for non-commercial research and educational use only; this pack and
any model trained on it inherit that condition.
"""


@cli
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m train.celeba", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("source", type=Path, help="folder of the CelebA download")
    p.add_argument("--out", type=Path, required=True, help="the pack folder to write (e.g. .data/celeba-full)")
    p.add_argument("--holdout", default="every:12", help="every:N (default every:12, as celeba64) or partition")
    p.add_argument("--limit", type=int, help="only the first N images by CelebA number")
    p.add_argument("--workers", type=int, help="processes converting images (default: one per core)")
    p.add_argument("--overwrite", action="store_true", help="replace a pack already at --out")
    args = p.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        raise TrainError(f"--limit must be at least 1, got {args.limit}")
    if args.workers is not None and not 1 <= args.workers <= 256:
        raise TrainError(f"--workers must be from 1 to 256, got {args.workers}")
    report = prepare(args.source, args.out, args.holdout, args.limit, args.workers, args.overwrite)
    print(report.summary(args.out))


if __name__ == "__main__":
    raise SystemExit(main())
