"""Frechet distance, precision and recall of generated faces against the holdout, in the attribute
classifier's features.

Like FID, but measured with the project's own CelebA classifier (penultimate 256-d layer)
instead of an ImageNet Inception net, which this offline project cannot download and which
knows little about faces anyway. Lower is better; both sides are uint8 images, so the
generator gets no credit or penalty for sub-quantisation detail.

Precision and recall (Kynkaanniemi et al. 2019, k = 3) say apart what the Frechet distance mixes:
how often a face looks like some real one, and how much of the real faces' variety the generator
covers. They compare as many generated faces as there are holdout faces, so that the real train
faces' own scores (the floor, printed beside them) are measured with the same sample sizes.

`python -m train.evaluate gan/weights/generator.safetensors --reference ../shared/reference/dcgan_reference_300s.pt`
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gan.checkpoint import load_generator
from gan.imaging import grid, png_bytes, to_uint8

from .classifier import DEFAULT_PATH as CLASSIFIER_PATH
from .classifier import AttributeClassifier, load_classifier, predict, predict_faces
from .data import DEFAULT_PACK, load_split
from .errors import cli
from .face_scores import precision_recall

EVAL_SEED = 2024
REFERENCE_NZ = 100  # the pytorch/examples DCGAN's latent size


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N, D).

    tr(sqrt(Sa Sb)) is computed as the sum of square roots of the eigenvalues of the
    symmetric PSD matrix sqrt(Sa) Sb sqrt(Sa), which needs only numpy and stays real.
    """
    a, b = a.astype(np.float64), b.astype(np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(cov_a)
    sqrt_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    tr_sqrt = np.sqrt(np.clip(cross, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_sqrt)


def load_reference(path: Path | str, device: str = "cpu") -> Callable[[torch.Tensor], torch.Tensor]:
    """The pytorch/examples DCGAN generator of ../shared/reference (see its README)."""

    def up(cin: int, cout: int, stride: int, pad: int) -> list[nn.Module]:
        return [nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

    net = nn.Sequential(
        *up(REFERENCE_NZ, 512, 1, 0),
        *up(512, 256, 2, 1),
        *up(256, 128, 2, 1),
        *up(128, 64, 2, 1),
        nn.ConvTranspose2d(64, 3, 4, 2, 1, bias=False),
        nn.Tanh(),
    )
    state = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    net.to(device).eval()
    return lambda z: net(z.to(device).reshape(-1, REFERENCE_NZ, 1, 1))


@torch.no_grad()
def generated_features(
    generate: Callable[[torch.Tensor], torch.Tensor],
    classifier: AttributeClassifier,
    n: int,
    nz: int,
    batch: int = 500,
    seed: int = EVAL_SEED,
) -> np.ndarray:
    """Features of n faces drawn from N(0, I) latents with a fixed seed, quantised to uint8 first."""
    g = torch.Generator().manual_seed(seed)
    z = torch.cat([torch.randn(min(batch, n - start), nz, generator=g) for start in range(0, n, batch)])
    return predict_faces(classifier, lambda chunk: to_uint8(generate(chunk)), z, batch, features=True).numpy()


@torch.no_grad()
def write_side_by_side(path: Path | str, generators: list[tuple[Callable[[torch.Tensor], torch.Tensor], int]]) -> None:
    """One 8x4 grid per (model, nz), from the same latents (of each model's size), left to right."""
    panels = []
    for gen, nz in generators:
        z = torch.randn(32, nz, generator=torch.Generator().manual_seed(EVAL_SEED + 1))
        panels.append(grid(to_uint8(gen(z)), cols=4))
    gap = np.full((panels[0].shape[0], 16, 3), 255, dtype=np.uint8)
    tiles = [x for panel in panels for x in (panel, gap)][:-1]
    Path(path).write_bytes(png_bytes(np.concatenate(tiles, axis=1)))


def scores(features: np.ndarray, holdout: np.ndarray) -> dict[str, float]:
    """Frechet distance of all the features, precision and recall of as many as the holdout has."""
    precision, recall = precision_recall(torch.from_numpy(features[: len(holdout)]), torch.from_numpy(holdout))
    return {
        "frechet_distance": round(frechet_distance(features, holdout), 3),
        "precision": round(precision, 3),
        "recall": round(recall, 3),
    }


def real_floor(classifier: AttributeClassifier, data: str, holdout: np.ndarray, n: int) -> dict[str, float]:
    """The scores of n real train faces against the holdout: what a perfect generator would get
    with this classifier and these sample sizes, printed beside every score for context."""
    train = load_split(data, "train", limit=n).images
    return scores(predict(classifier, train, features=True).numpy(), holdout)


@cli
@torch.no_grad()
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description="Frechet distance, precision and recall of generators against the celeba64 holdout."
    )
    p.add_argument("checkpoints", nargs="*", help="generator safetensors files")
    p.add_argument("--reference", help="also score the reference DCGAN .pt file")
    p.add_argument("--data", default=str(DEFAULT_PACK))
    p.add_argument("--classifier", default=str(CLASSIFIER_PATH))
    p.add_argument("--n", type=int, default=10000, help="generated faces per model")
    p.add_argument("--out", help="append one JSON line per model to this file")
    p.add_argument("--grid", help="also write a PNG: the same 32 latents drawn by each model, side by side")
    p.add_argument("--seed", type=int, default=EVAL_SEED, help="latent seed; other seeds show the score's spread")
    p.add_argument("--device", default="cpu", help="where generators and classifier run, e.g. cuda")
    args = p.parse_args(argv)
    classifier, _ = load_classifier(args.classifier, args.device)
    real = predict(classifier, load_split(args.data, "holdout").images, features=True).numpy()
    floor = real_floor(classifier, args.data, real, args.n)
    print(
        f"floor: real train faces score {floor['frechet_distance']:.3f} against the same holdout ({args.n} faces),"
        f" precision {floor['precision']:.3f}, recall {floor['recall']:.3f}",
        flush=True,
    )
    models: list[tuple[str, Callable, int]] = []  # name, z -> images, nz
    for c in args.checkpoints:
        g = load_generator(c, args.device)[0]
        models.append((c, lambda z, g=g: g(z.to(args.device)), g.config.nz))
    if args.reference:
        models.append((args.reference, load_reference(args.reference, args.device), REFERENCE_NZ))
    if args.grid:
        write_side_by_side(args.grid, [(gen, nz) for _, gen, nz in models])
    for name, gen, nz in models:
        line = {
            "model": name,
            **scores(generated_features(gen, classifier, args.n, nz, seed=args.seed), real),
            "n_generated": args.n,
            "n_holdout": len(real),
            "real_floor": floor["frechet_distance"],
            "real_precision": floor["precision"],
            "real_recall": floor["recall"],
            **({"seed": args.seed} if args.seed != EVAL_SEED else {}),
        }
        print(json.dumps(line), flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
