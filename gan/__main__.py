"""Command line: render faces, morphs and grids with the shipped model.

python -m gan face --seed 42 [--truncation 0.7] [--size 256] [--edit smiling=2 --edit glasses=on] -o face.png
python -m gan face --code 42v3x17c2 -o face.png          (a face by its code: gan/recipes.py)
python -m gan morph --from 1 --to 42v3 [--frames 24] -o morph.gif
python -m gan grid --seeds 0-63 -o grid.png
python -m gan grid --random 64 [--rng 7] -o grid.png    (random faces the critic accepts)
python -m gan attributes [--sheet [--seed 7] -o sheet.png]   (the sliders; the sheet: each at both ends on one face)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .checkpoint import CheckpointError
from .faces import MAX_FRAMES, Faces
from .imaging import DEFAULT_SIZE, SIZE_RANGE, gif_bytes, grid, png_bytes, upscale
from .latent import MAX_SEED
from .recipes import CodeError, Recipe
from .sheet import SHEET_SEED, sheet_latents, sheet_picture

MAX_GRID = 1024  # faces in one grid
MIN_FRAME_MS, MAX_FRAME_MS = 20, 10_000  # browsers draw faster GIF frames at 100 ms
MAX_PIXELS = 2**26  # output pixels of one command (faces x size^2): 64 Mpx, about 200 MB of RGB


def parse_seeds(text: str) -> list[int]:
    """'0-63', '1,5,9' or '3-5,8' -> list of seeds (counted before any list is built)."""
    ranges = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            ranges.append(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds look like 0-63 or 1,5,9; got {text!r}") from None
    count = sum(len(r) for r in ranges)
    if not 1 <= count <= MAX_GRID:
        raise argparse.ArgumentTypeError(f"give from 1 to {MAX_GRID} seeds, got {count}")
    return [s for r in ranges for s in r]


def whole_number(what: str, lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: a whole number from lo to hi, else one line naming `what` and the range."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = lo - 1
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number from {lo} to {hi}, got {text!r}")
        return value

    return parse


def face_code(text: str) -> Recipe:
    """A seed or a face code (gan/recipes.py), else one line saying what is wrong with it."""
    try:
        return Recipe.parse(text)
    except CodeError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def frame_ms(text: str) -> int:
    value = int(text)
    if not MIN_FRAME_MS <= value <= MAX_FRAME_MS:
        raise argparse.ArgumentTypeError(f"frame time must be from {MIN_FRAME_MS} to {MAX_FRAME_MS} ms, got {value}")
    return value


def parse_edit(text: str) -> tuple[str, float | str]:
    """'smiling=2' -> ('smiling', 2.0); 'glasses=on' -> ('glasses', 'on')."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"edits look like smiling=2 or glasses=on; got {text!r}")
    try:
        return name.strip(), float(value)
    except ValueError:
        return name.strip(), value.strip()


def _prog() -> str:
    """What the user typed: `python -m gan` or the `expressions-faces` entry point."""
    name = Path(sys.argv[0]).name
    return "python -m gan" if name in ("__main__.py", "") else name


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=_prog(), description="Draw faces of people who do not exist.")
    p.add_argument("--weights", help="generator .safetensors (default: the shipped model)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--truncation", type=float, default=1.0, help="(0, 1]: lower is tamer")
        sp.add_argument("--size", type=int, default=DEFAULT_SIZE, help="output pixels per face")
        sp.add_argument(
            "--edit",
            type=parse_edit,
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="slider edit, e.g. smiling=2 or glasses=on (repeatable)",
        )
        sp.add_argument("-o", "--output", type=Path, required=True)

    face = sub.add_parser("face", help="one face as PNG")
    which_face = face.add_mutually_exclusive_group(required=True)
    which_face.add_argument("--seed", type=int, help=f"0 .. {MAX_SEED}")
    which_face.add_argument("--code", type=face_code, help="a face code, e.g. 42v3 or 42x17c2 (the bot's Details)")
    common(face)
    morph = sub.add_parser("morph", help="an animated GIF from one face to another")
    morph.add_argument("--from", dest="seed_a", type=face_code, required=True, help="a seed or a face code")
    morph.add_argument("--to", dest="seed_b", type=face_code, required=True, help="a seed or a face code")
    morph.add_argument("--frames", type=int, default=24)
    morph.add_argument("--frame-ms", type=frame_ms, default=80, help=f"{MIN_FRAME_MS} to {MAX_FRAME_MS}")
    common(morph)
    g = sub.add_parser("grid", help="many faces tiled into one PNG")
    which = g.add_mutually_exclusive_group(required=True)
    which.add_argument("--seeds", type=parse_seeds, help="e.g. 0-63")
    which.add_argument(
        "--random",
        type=whole_number("--random", 1, MAX_GRID),
        metavar="N",
        help="N random faces, as the bot picks them",
    )
    g.add_argument(
        "--rng", type=whole_number("--rng", 0, MAX_SEED), help="seed of the random pick (default: a new pick each run)"
    )
    common(g)
    g.set_defaults(size=128)
    attrs = sub.add_parser("attributes", help="list the sliders, or draw them on one face (--sheet)")
    attrs.add_argument("--sheet", action="store_true", help="a PNG of one face with every slider at both ends")
    attrs.add_argument("--seed", type=whole_number("--seed", 0, MAX_SEED), default=SHEET_SEED, help="the sheet's face")
    attrs.add_argument("--truncation", type=float, default=1.0, help="(0, 1]: lower is tamer")
    attrs.add_argument("-o", "--output", type=Path, help="where the sheet goes (with --sheet)")
    return p


def check_output(args: argparse.Namespace) -> None:
    """Refuse what cannot be written, or would be absurdly large, before any drawing."""
    grid_faces = len(args.seeds) if getattr(args, "seeds", None) else getattr(args, "random", 0)
    count = {"face": 1, "morph": getattr(args, "frames", 1), "grid": grid_faces}[args.command]
    if not SIZE_RANGE[0] <= args.size <= SIZE_RANGE[1]:
        raise ValueError(f"size must be from {SIZE_RANGE[0]} to {SIZE_RANGE[1]} px, got {args.size}")
    if args.command == "morph" and not 2 <= count <= MAX_FRAMES:
        raise ValueError(f"frames must be from 2 to {MAX_FRAMES}, got {count}")
    if count * args.size**2 > MAX_PIXELS:
        raise ValueError(f"{count} pictures of {args.size} px is over {MAX_PIXELS // 2**20} Mpx: lower --size")
    if args.output.is_dir():
        raise ValueError(f"{args.output} is a folder: give a file name, e.g. {args.output / 'face.png'}")


def run(args: argparse.Namespace) -> str:
    if args.command != "attributes":
        check_output(args)
    elif args.sheet and args.output is None:
        raise ValueError("--sheet needs -o FILE.png: where the sheet goes")
    elif args.sheet and args.output.is_dir():
        raise ValueError(f"{args.output} is a folder: give a file name, e.g. {args.output / 'sheet.png'}")
    faces = Faces.load(args.weights, device=args.device)
    if args.command == "attributes":
        if not args.sheet:
            rows = [faces.attribute_info(n) for n in faces.attributes]
            return (
                "\n".join(f"{r['name']:<12} {r['kind']:<7} {r['range']}  {r['description']}" for r in rows)
                or "no sliders installed"
            )
        if not faces.attributes:
            raise ValueError("this model has no sliders to draw")
        images = faces.decode(sheet_latents(faces, args.seed, args.truncation))
        data = png_bytes(sheet_picture(faces, images, args.seed))
        return _write(args.output, data)
    edits = dict(args.edit)
    if args.command == "face":
        img = faces.render([args.seed if args.code is None else args.code], args.truncation, edits)[0]
        data = png_bytes(upscale(img, args.size))
    elif args.command == "morph":
        frames = faces.morph(args.seed_a, args.seed_b, args.frames, args.truncation, edits)
        data = gif_bytes(upscale(frames, args.size), args.frame_ms)
    else:
        seeds = args.seeds or faces.random_seeds(args.random, np.random.default_rng(args.rng))
        images = faces.render(seeds, args.truncation, edits)
        data = png_bytes(grid(upscale(images, args.size)))
    picked = f"seeds: {','.join(map(str, seeds))}\n" if getattr(args, "random", None) else ""
    return picked + _write(args.output, data)


def _write(output: Path, data: bytes) -> str:
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
    except OSError as e:
        raise ValueError(f"cannot write {output}: {e.strerror or e}") from None
    return f"wrote {output} ({len(data) // 1024} KiB)"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        print(run(args))
    except (ValueError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
