"""Ship a trained generator: `python -m train.export runs/NAME [--pick best|FILE]`.

Takes one of the run's exported EMA generators (final.safetensors or a snapshot), by default
the one with the lowest Frechet distance in the run's eval.jsonl (see train.evaluate), adds
the run's measurements to its metadata and writes it, fp16, to gan/weights/generator.safetensors.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from gan.checkpoint import load_generator, save_generator
from gan.faces import GENERATOR_FILE, WEIGHTS_DIR

from .errors import TrainError, cli

MAX_BYTES = 16 * 2**20


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def pick(run: Path, choice: str, evals: list[dict]) -> Path:
    if choice != "best":
        return run / choice
    mine = [e for e in evals if Path(e["model"]).suffix == ".safetensors"]
    if not mine:
        raise TrainError(f"{run}/eval.jsonl has no generator scores: run train.evaluate first or name a file")
    return Path(min(mine, key=lambda e: e["frechet_distance"])["model"])


@cli
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", type=Path, help="run folder with *.safetensors, metrics.jsonl, eval.jsonl")
    p.add_argument("--pick", default="best", help="'best' (lowest Frechet distance) or a file name in the run")
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR / GENERATOR_FILE)
    args = p.parse_args(argv)
    evals = read_jsonl(args.run / "eval.jsonl")
    chosen = pick(args.run, args.pick, evals)
    g, meta = load_generator(chosen)
    scores = {Path(e["model"]).name: e["frechet_distance"] for e in evals}
    log = read_jsonl(args.run / "metrics.jsonl")
    meta["metrics"] = {
        "frechet_distance": scores.get(chosen.name),
        "frechet_distance_all": scores,
        "frechet_space": "attribute-classifier penultimate features (train/classifier.py), "
        "10k generated vs 2,159 holdout",
        "train_img_per_s_median": statistics.median(r["img_per_s"] for r in log) if log else None,
    }
    meta["source"] = f"{args.run.name}/{chosen.name}"
    save_generator(args.out, g, meta)
    size = args.out.stat().st_size
    if size > MAX_BYTES:
        raise TrainError(f"{args.out} is {size / 2**20:.1f} MiB, over the 16 MiB limit")
    print(f"wrote {args.out} ({size / 2**20:.1f} MiB) from {chosen}, Frechet distance {scores.get(chosen.name)}")


if __name__ == "__main__":
    raise SystemExit(main())
