"""Fit the random-face critic: a small network on the latent z that predicts how well the generator
will draw the face of z, so the bot can skip the generator's failures when it picks a seed.

Fitting (the train split only): render `--samples` prior latents; judge each face twice, by dlib's
face detector's confidence that it is a face (melted features, a patch over an eye, a second mouth
lower it) and by its realism score against training faces; take from each what the 40 attributes
explain (sunglasses, hats and turned heads lower the detector's confidence too); distil their sum into
an MLP on z and set its threshold so that the worst `--drop` of faces are rejected.

The report (`--report`) compares those judges and two discriminators, as image-level filters and as
latent critics, on held-out seeds against the holdout faces, and writes docs/random_faces.md with
pictures.

`python -m train.critic` (about 15 minutes on 2 cores), then `python -m train.critic --report` (about 15 more).
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gan import Faces
from gan.critic import LatentCritic
from gan.faces import CRITIC_FILE, GENERATOR_FILE, WEIGHTS_DIR
from gan.imaging import grid, png_bytes
from gan.latent import MAX_SEED

from .classifier import load_classifier, predict
from .data import DEFAULT_PACK, load_split
from .errors import TrainError, cli
from .face_scores import (
    K,
    Samples,
    attribute_neutral,
    distil,
    face_detector,
    feature_discriminator,
    pixel_discriminator,
    precision_recall,
    realism,
    sample,
    seen,
    skin_luminance,
    standardised,
)

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "runs" / "critic"
FIT_SEED = 31337  # the fitting latents; the report draws its seeds from REPORT_RNGS
REPORT_RNGS = (2026, 2027, 2028)  # the report's random seeds, as the bot would pick them: never fitted on
SHIPPED_TARGET = "face detector and realism, less attributes"  # what the shipped critic learns (fitting_target)
SHIPPED_DROP = 0.2
REPORT_FACES = 2000  # faces per row of the report; twice as many seeds are drawn for the critics to pick from
DROPS = (0.1, 0.2, 0.3)  # shares of faces rejected, tried for the shipped kind of critic
GRID_FACES = 64
UNSURE = 0.5  # the report's "detector unsure" column: faces the detector finds with less confidence than this


def fitting_samples(faces: Faces, classifier, n: int, cache: Path = CACHE, progress: bool = True) -> Samples:
    """n prior latents drawn from FIT_SEED and their faces' scores, cached per generator (minutes on a CPU)."""
    path = cache / f"samples_{model_digest(faces)}_{n}.pt"
    if path.is_file():
        cached = torch.load(path)
        return Samples(cached["z"], cached["features"], cached["probs"], cached["face"])
    z = torch.randn(n, faces.nz, generator=torch.Generator().manual_seed(FIT_SEED))
    s = sample(faces, classifier, z, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"z": s.z, "features": s.features, "probs": s.probs, "face": s.face}, path)
    return s


def model_digest(faces: Faces) -> str:
    """12 hex digits of the generator's weights: which model a cache belongs to."""
    h = hashlib.sha1()
    for name, tensor in sorted(faces.generator.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:12]


def neutral_judges(s: Samples, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two judges' scores of the samples, each less what the 40 attributes explain (sunglasses, hats
    and turned heads lower the detector's confidence, smiles the realism, and neither is a failure):
    the face detector's confidence, and the log realism score against the real features."""
    detector = attribute_neutral(s.face, s.probs)
    real_like = attribute_neutral(realism(s.features, real).log(), s.probs)
    return detector, real_like


def fitting_target(detector: torch.Tensor, real_like: torch.Tensor) -> torch.Tensor:
    """What the shipped critic learns: the two attribute-neutral judges, standardised and summed."""
    return standardised(detector) + standardised(real_like)


def fit(
    faces: Faces, classifier, data: str, n_samples: int, n_real: int | None, drop: float, cache: Path = CACHE
) -> LatentCritic:
    """The critic for this generator, fitted on the train split only."""
    real = predict(classifier, load_split(data, "train", limit=n_real).images, features=True)
    s = fitting_samples(faces, classifier, n_samples, cache)
    return distil(s.z, fitting_target(*neutral_judges(s, real)), drop)


# --- report -------------------------------------------------------------------------------------
@dataclass
class Row:
    """One way of picking random faces, measured on the report's faces (averaged over its rngs)."""

    name: str
    work: float  # generator draws per face shown
    precision: list[float]  # one per rng
    recall: list[float]
    rates: np.ndarray  # (40,) share of faces with each attribute (classifier probability > 0.5)
    skin: np.ndarray  # skin luma of every face measured
    face: np.ndarray  # the face detector's confidence in every face measured


@dataclass
class Drawn:
    """Faces drawn for the report: seeds, images (N, 3, 64, 64) uint8 and what the judges see."""

    seeds: list[int]
    images: torch.Tensor
    samples: Samples

    @classmethod
    def of(cls, faces: Faces, classifier, seeds: list[int]) -> Drawn:
        images = torch.from_numpy(faces.render(seeds)).permute(0, 3, 1, 2)
        features, probs = seen(classifier, images)
        face = face_detector()(images.permute(0, 2, 3, 1).numpy())
        return cls(seeds, images, Samples(faces.latent(seeds), features, probs, face))

    def pick(self, keep: np.ndarray) -> Drawn:
        idx = torch.from_numpy(np.flatnonzero(keep))
        s = self.samples
        picked = Samples(s.z[idx], s.features[idx], s.probs[idx], s.face[idx])
        return Drawn([self.seeds[i] for i in idx], self.images[idx], picked)


def measure(name: str, drawn: Drawn, holdout: torch.Tensor, n: int, work: float = 1.0) -> Row:
    f, probs = drawn.samples.features[:n], drawn.samples.probs[:n]
    precision, recall = precision_recall(f, holdout)
    rates = (probs > 0.5).float().mean(0).numpy()
    skin = skin_luminance(drawn.images[:n]).numpy()
    return Row(name, work, [precision], [recall], rates, skin, drawn.samples.face[:n].numpy())


def average(rows: list[Row]) -> Row:
    """The same way of picking measured on several rngs, as one row."""
    return Row(
        rows[0].name,
        float(np.mean([r.work for r in rows])),
        [p for r in rows for p in r.precision],
        [c for r in rows for c in r.recall],
        np.mean([r.rates for r in rows], axis=0),
        np.concatenate([r.skin for r in rows]),
        np.concatenate([r.face for r in rows]),
    )


def kept_by(name: str, pool: Drawn, keep: np.ndarray, holdout: torch.Tensor, n: int, *, image_level: bool) -> Row:
    """The first n faces of the pool that a critic keeps: an image-level critic must draw every face
    it looks at (work > 1), a latent one draws only those it keeps."""
    used = int(np.searchsorted(np.cumsum(keep), n)) + 1
    return measure(name, pool.pick(keep), holdout, n, used / n if image_level else 1.0)


def measure_critics(faces: Faces, classifier, args: argparse.Namespace) -> tuple[list[Row], dict]:
    """Every judge, as an image-level filter and distilled into a latent critic, on the same held-out
    seeds of each report rng; then the shipped critic through Faces.random_seeds, as the bot calls it."""
    real_faces = load_split(args.data, "train", limit=args.real).images
    real = predict(classifier, real_faces, features=True)
    holdout = predict(classifier, load_split(args.data, "holdout").images, features=True)
    n = args.faces
    fitting = fitting_samples(faces, classifier, args.samples, args.cache)
    fake_faces = torch.from_numpy(faces.decode(faces.edit(fitting.z[: len(real_faces)]))).permute(0, 3, 1, 2)
    feature_d = feature_discriminator(real, fitting.features[: len(real)])
    pixel_d = pixel_discriminator(real_faces, fake_faces, args.pixel_steps)
    judges: dict[str, Callable[[Drawn], torch.Tensor]] = {  # image-level scores, higher is better
        "realism": lambda d: realism(d.samples.features, real).log(),
        "face detector": lambda d: d.samples.face,
        "discriminator on features": lambda d: feature_d(d.samples.features),
        "discriminator on pixels": lambda d: pixel_d(d.images),
    }
    detector, real_like = neutral_judges(fitting, real)
    fitted = {  # the same judges' scores of the fitting samples, to distil
        "realism less attributes": real_like,
        "discriminator on features, less attributes": attribute_neutral(feature_d(fitting.features), fitting.probs),
        "face detector": fitting.face,
        "face detector less attributes": detector,
        SHIPPED_TARGET: fitting_target(detector, real_like),
    }
    latent = [(name, drop) for name in fitted for drop in (DROPS if name == SHIPPED_TARGET else (SHIPPED_DROP,))]
    critics = {(name, drop): distil(fitting.z, fitted[name], drop) for name, drop in latent}
    table: dict[str, list[Row]] = {}
    for rng in REPORT_RNGS:
        drawn = np.random.default_rng(rng).integers(0, MAX_SEED, 2 * n, endpoint=True)  # as random_seeds draws
        pool = Drawn.of(faces, classifier, drawn.tolist())
        rows = [
            measure("every seed (no critic)", pool, holdout, n),
            measure(
                f"every seed, the next {n:,} (another sample: the noise)", pool.pick(np.arange(2 * n) >= n), holdout, n
            ),
        ]
        for name, judge in judges.items():  # upper bounds: each must draw every face it judges
            score = judge(pool)
            keep = (score >= torch.quantile(score, SHIPPED_DROP)).numpy()
            rows.append(
                kept_by(f"{name}, of the image, drop {SHIPPED_DROP:.0%}", pool, keep, holdout, n, image_level=True)
            )
        for (name, drop), critic in critics.items():
            keep = critic.accepts(pool.samples.z).numpy()
            rows.append(kept_by(f"{name} -> latent critic, drop {drop:.0%}", pool, keep, holdout, n, image_level=False))
        shipped = Drawn.of(faces, classifier, faces.random_seeds(n, np.random.default_rng(rng)))
        rows.append(measure("**shipped: Faces.random_seeds**", shipped, holdout, n))
        for r in rows:
            table.setdefault(r.name, []).append(r)
        print(f"rng {rng}: " + ", ".join(f"{r.name} {r.precision[0]:.3f}/{r.recall[0]:.3f}" for r in rows), flush=True)
        if rng == REPORT_RNGS[0]:
            accepted = faces.critic.accepts(pool.samples.z).tolist()
            pictures = {
                "before": pool.seeds[:GRID_FACES],
                "after": faces.random_seeds(GRID_FACES, np.random.default_rng(rng)),
                "rejected": [s for s, ok in zip(pool.seeds, accepted, strict=True) if not ok][:GRID_FACES],
            }
    return [average(rows) for rows in table.values()], pictures


def _spread(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def write_report(
    faces: Faces, rows: list[Row], pictures: dict[str, list[int]], names: list[str], n: int, out_md: Path
) -> None:
    pics = out_md.parent / "random_faces"
    pics.mkdir(parents=True, exist_ok=True)
    for name, seeds in pictures.items():
        (pics / f"{name}.png").write_bytes(png_bytes(grid(faces.render(seeds), cols=8)))
    base, shipped = rows[0], rows[-1]
    table = [
        "| how random faces are picked | generator draws per face | precision | recall "
        f"| detector finds no face | detector unsure (< {UNSURE}) | largest attribute shift | skin luma (mean) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        shift = r.rates - base.rates
        worst = int(np.abs(shift).argmax())
        table.append(
            f"| {r.name} | {r.work:.2f} | {_spread(r.precision)} | {_spread(r.recall)} "
            f"| {(r.face < 0).mean():.1%} | {(r.face < UNSURE).mean():.1%} "
            f"| {names[worst]} {shift[worst]:+.3f} | {r.skin.mean():.1f} |"
        )
    fairness = ["| attribute | every seed | shipped critic | shift |", "|---|---|---|---|"]
    for i, attribute in enumerate(names):
        fairness.append(
            f"| {attribute} | {base.rates[i]:.3f} | {shipped.rates[i]:.3f} | {shipped.rates[i] - base.rates[i]:+.3f} |"
        )
    dark = np.percentile(base.skin, 10)
    lines = [
        "# Random faces: skipping the generator's failures",
        "",
        f"Written by `python -m train.critic --report`. Every row is {n:,} random faces from the seeds "
        f"`numpy.random.default_rng(R)` draws for R in {', '.join(map(str, REPORT_RNGS))} (seeds no critic was "
        "fitted on; mean, and lowest to highest over the three), measured in the attribute classifier's features "
        "against the holdout faces: improved precision and recall (Kynkaanniemi et al. 2019, "
        f"k = {K}), the share of faces with each of the 40 attributes (the largest change from every seed), and "
        "the skin luma of the cheeks-and-nose box. Image-level rows keep the best-judged faces of each draw and "
        "must draw every face they judge; latent critics judge the seed before anything is drawn.",
        "",
        *table,
        "",
        "## What was chosen, and why",
        "",
        "- **A critic on the latent, not on the image.** The image-level scores select best, but they must draw "
        "every candidate face to judge it (the draws-per-face column): with every request random, the bot would "
        "draw up to a third more faces than it posts. A critic on the seed's latent z reads a 100-number vector in "
        "microseconds before anything is drawn, so a random face costs exactly what an explicit one does, in the "
        "same batches.",
        "- **Which judge.** The realism score in the classifier's features raises precision the most, but the faces "
        "it ranks lowest are mostly unusual kinds of face (sunglasses, hats, strong light) while many melted faces "
        "rank high: the classifier's features describe attributes, not artefacts. Neither discriminator, trained on "
        "the CPU against the frozen generator, finds the broken faces either: the one on the classifier's features "
        "favours average-looking faces (recall rises, precision barely), the one on pixels learned brightness and "
        "colour. dlib's face detector, which never saw these faces, is the judge whose lowest-ranked faces are the "
        "broken ones by eye, and its confidence is the one a critic on z predicts best (the two detector columns).",
        "- **Less the attributes.** The detector is also less sure of sunglasses, hats and turned heads, and surer "
        "of brightly lit faces: a critic fitted to it alone moves attribute rates by the most of any row and "
        "lightens the skin. Each judge's score is taken less what the 40 attribute probabilities explain "
        "linearly, so a face is compared with faces like it.",
        "- **Both judges together.** The shipped critic learns the sum of the two attribute-neutral scores, "
        "standardised: the detector for the faces that fall apart, realism for the precision this project "
        "measures. It rejects the worst 20 %: at 30 % the detector columns gain little more and recall falls further.",
        "",
        "What it does not do: a critic on z knows its face only roughly. It rejects some good faces and lets some "
        "broken ones through (the pictures below). The image-level rows show what a critic that sees each face "
        "could do, at a quarter more generator work per random face; the generator issue (a better model) is the "
        "real cure.",
        "",
        "## Fairness: every attribute rate and the skin tone",
        "",
        f"Skin luma: mean {base.skin.mean():.1f} with every seed, {shipped.skin.mean():.1f} with the shipped critic; "
        f"faces darker than every seed's 10th percentile ({dark:.0f}): {(shipped.skin < dark).mean():.1%} of the "
        "shipped critic's faces (10% of every seed's).",
        "",
        *fairness,
        "",
        "## Pictures",
        "",
        f"The same rng, {GRID_FACES} faces each: every seed as drawn (before), `Faces.random_seeds` (after), and "
        "faces the critic rejects.",
        "",
        "![before](random_faces/before.png)",
        "![after](random_faces/after.png)",
        "![rejected](random_faces/rejected.png)",
    ]
    out_md.write_text("\n".join(lines) + "\n")
    print(f"wrote {out_md}")


@cli
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--weights", type=Path, default=WEIGHTS_DIR, help="folder of the generator; the critic goes beside it"
    )
    p.add_argument("--data", default=str(DEFAULT_PACK))
    p.add_argument("--samples", type=int, default=200_000, help="prior latents to fit on")
    p.add_argument("--real", type=int, default=None, help="training faces the realism score measures against (all)")
    p.add_argument("--drop", type=float, default=0.2, help="share of random faces to reject")
    p.add_argument("--report", action="store_true", help="measure critics on held-out seeds instead of fitting")
    p.add_argument("--report-file", type=Path, default=ROOT / "docs" / "random_faces.md")
    p.add_argument("--faces", type=int, default=REPORT_FACES, help="random faces per row of the report")
    p.add_argument("--pixel-steps", type=int, default=1000, help="training steps of the report's pixel discriminator")
    p.add_argument("--cache", type=Path, default=CACHE, help="where the rendered fitting samples are kept")
    args = p.parse_args(argv)
    if not 0.0 <= args.drop < 1.0:
        raise TrainError(f"--drop must be in [0, 1), got {args.drop}")
    if args.samples < 100 or args.faces < 2 * K + 2 or (args.real is not None and args.real < 2 * K + 2):
        raise TrainError(f"need at least 100 --samples, and {2 * K + 2} --faces and --real faces")
    classifier, names = load_classifier()
    faces = Faces.load(args.weights / GENERATOR_FILE)
    if args.report:
        if faces.critic is None:
            raise TrainError(f"no {CRITIC_FILE} in {args.weights}: fit one first (python -m train.critic)")
        rows, pictures = measure_critics(faces, classifier, args)
        write_report(faces, rows, pictures, names, args.faces, args.report_file)
        return
    critic = fit(faces, classifier, args.data, args.samples, args.real, args.drop, args.cache)
    out = args.weights / CRITIC_FILE
    critic.save(
        out,
        {"generator": faces.meta.get("source"), "samples": args.samples, "real": args.real, "drop": args.drop},
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    raise SystemExit(main())
