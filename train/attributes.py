"""Fit the attribute sliders: a global direction for each, then the per-face editor that bends it.

    python -m train.attributes                 # fit: writes gan/weights/attributes.safetensors
    python -m train.attributes --report        # measure: writes docs/sliders.md and docs/sliders/*.png

1. Global directions follow InterFaceGAN: render many faces from prior latents (W for a style-based
   generator), score them with the project's attribute classifier and fit a linear boundary for
   each attribute (least squares on the classifier's logit over all samples). A slider's direction
   is that boundary's normal projected off the normals of the attributes it must not change
   (conditional editing, generalised to several conditions by projecting off their span); a
   toggle's boundary is also the probe that says which faces already wear the attribute.
2. Per-face editors (train/editing.py) learn, through the frozen generator and the classifier, the
   correction each face needs so the edit changes its attribute and holds the rest of the face.
   docs/sliders.md says why this method and what it measures.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch
from tqdm import tqdm

from gan import Faces
from gan.attributes import Attribute, AttributeSet
from gan.faces import ATTRIBUTES_FILE, GENERATOR_FILE, WEIGHTS_DIR

from .classifier import AttributeClassifier, load_classifier, predict_faces
from .data import DEFAULT_PACK, load_split
from .editing import fit_editor, prior
from .errors import TrainError, cli
from .identity_net import load_identity_net
from .slider_report import effects, measure, write
from .slider_specs import SPECS, TARGET_MOVE, Spec, conditions_for, hold_for, stages

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / "runs" / "attributes"
FIT_SEED, CALIBRATION_SEED, EDITOR_SEED = 11, 12, 13
UNITS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)  # candidate slider steps, in prior standard deviations
MARGIN = 0.0  # toggles stand this many standard deviations past the boundary (the editor makes it clear)


def fit_boundary(z: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Unit normal and held-out accuracy of the linear boundary
    that best predicts the classifier's logit for one attribute over all samples (least squares).

    Using every sample, not only the extremes, gives the direction along which the attribute
    changes across the whole distribution, which is what the conditions must be orthogonal to.
    """
    logit = torch.logit(p.clamp(1e-4, 1 - 1e-4)).clamp(-8, 8).double()
    x = torch.cat([z.double(), torch.ones(len(z), 1, dtype=torch.float64)], dim=1)
    n_val = len(z) // 5
    sol = torch.linalg.lstsq(x[n_val:], logit[n_val:, None]).solution[:, 0]
    w = sol[:-1]
    return (w / w.norm()).float(), extremes_accuracy(x[:n_val] @ sol, p[:n_val])


def offset_along(z: torch.Tensor, p: torch.Tensor, direction: torch.Tensor) -> float:
    """Offset c of the boundary direction . z + c = 0 where the classifier's probability crosses
    one half along `direction`: a 1-D logistic fit of the probabilities (soft labels) on the
    position along it. (A least-squares fit of logits puts rare attributes' boundaries too far out.)"""
    s = (z @ direction).double()
    params = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([params], max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(params[0] * s + params[1], p.double())
        loss.backward()
        return loss

    opt.step(closure)
    alpha, beta = params.tolist()
    return beta / alpha


def extremes_accuracy(score: torch.Tensor, p: torch.Tensor, keep: float = 0.1) -> float:
    """How well the linear score separates the held-out samples the classifier is most and least
    sure have the attribute (InterFaceGAN's validation measure), thresholded half-way."""
    k = max(1, int(len(p) * keep))
    order = torch.argsort(p)
    lo, hi = score[order[:k]], score[order[-k:]]
    threshold = (lo.mean() + hi.mean()) / 2
    return ((hi > threshold).double().mean() + (lo <= threshold).double().mean()).item() / 2


def project_off(n: torch.Tensor, others: list[torch.Tensor]) -> torch.Tensor:
    """n with its components along span(others) removed, renormalised (InterFaceGAN's conditional
    manipulation, for any number of conditions)."""
    if not others:
        return n.clone()
    q, _ = torch.linalg.qr(torch.stack(others, dim=1).double())
    d = n.double() - q @ (q.T @ n.double())
    return (d / d.norm()).float()


def sample_scores(faces: Faces, classifier, n: int, cache: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """n prior latents and their 40 probabilities, cached in `cache` (it takes minutes on a CPU)."""
    path = cache / "samples.pt"
    if path.is_file():
        cached = torch.load(path)
        if len(cached["z"]) >= n and cached["model"] == faces.meta.get("source"):
            return cached["z"][:n], cached["p"][:n]
    z = prior(faces, n, torch.Generator().manual_seed(FIT_SEED))
    chunks = tqdm(z.split(1000), desc="samples", mininterval=5)
    p = torch.cat([predict_faces(classifier, faces.decode, chunk) for chunk in chunks])
    cache.mkdir(parents=True, exist_ok=True)
    torch.save({"z": z, "p": p, "model": faces.meta.get("source")}, path)
    return z, p


def fit(
    faces: Faces,
    classifier: AttributeClassifier,
    names: list[str],
    n_samples: int,
    steps: int,
    cache: Path,
    calibration: int = 200,
    progress: bool = True,
    only: set[str] | None = None,
) -> AttributeSet:
    """Fit all sliders: global directions (their steps calibrated on `calibration` faces), then each
    slider's editor (`steps` batches each). With `only`, refit those and keep the installed others
    (each editor still learns to compose with the edits applied before its own, as installed)."""

    def chosen(s: Spec) -> bool:
        return only is None or s.name in only

    z, p = sample_scores(faces, classifier, n_samples, cache)
    needed = sorted({s.celeba for s in SPECS} | {c for s in SPECS for c in conditions_for(s)})
    boundaries = {attr: fit_boundary(z, p[:, names.index(attr)]) for attr in needed}
    calib = prior(faces, calibration, torch.Generator().manual_seed(CALIBRATION_SEED))
    attributes: list[Attribute] = []
    for s in SPECS:
        if not chosen(s):  # kept as installed, but told to users as the specs now say
            attributes.append(dataclasses.replace(faces.sliders[s.name], description=s.description))
            continue
        normal, acc = boundaries[s.celeba]
        conds = conditions_for(s)
        direction = project_off(normal, [boundaries[c][0] for c in conds])
        a = Attribute(
            name=s.name,
            key=s.key,
            celeba=s.celeba,
            sign=s.sign,
            kind=s.kind,
            conditions=conds,
            accuracy=round(acc, 4),
            description=s.description,
            direction=direction,
            margin=MARGIN if s.kind == "toggle" else 0.0,
            region=s.region if s.regional else None,
        )
        if s.kind == "toggle":  # the side is read along the move itself, so any margin is reachable
            a.offset = offset_along(z, p[:, names.index(s.celeba)], direction)
        if s.kind == "slider" and s.unit is not None:
            a.unit = s.unit
        elif s.kind == "slider":  # the smallest step whose +-3 moves the attribute enough
            for unit in UNITS:
                a.unit = unit
                if (
                    s.sign * effects(faces, classifier, AttributeSet([a]), s.name, calib)[names.index(s.celeba)]
                    >= TARGET_MOVE
                ):
                    break
        attributes.append(a)
        tqdm.write(f"{s.name:<11} {s.celeba:<20} acc {acc:.3f} unit {a.unit:.2f} conditions {conds}")
    fitted = [s for s in SPECS if s.editor and chosen(s)]
    identity = load_identity_net() if any(st.weights.identity for s in fitted for st in stages(s)) else None
    for i, (s, a) in enumerate(zip(SPECS, attributes, strict=True)):
        if s not in fitted:
            continue
        # each learns to compose with the edits a face may carry when it reaches this editor: the
        # sliders before it, as fitted above or installed (with or without an editor of their own)
        before = AttributeSet(attributes).applied_before(s.name)
        start = None
        for stage in stages(s):  # a first stage finds the edit, the last holds the face to it (or trades it)
            start = fit_editor(
                faces,
                classifier,
                names,
                a,
                hold_for(stage, names),
                before,
                steps,
                seed=EDITOR_SEED + i,
                progress=progress,
                identity=identity,
                start=start,
            )
    for s, a in zip(SPECS, attributes, strict=True):
        if chosen(s) and s.kind == "slider":  # after every editor is fitted: each learned at the full span
            a.span = s.span
    return AttributeSet(attributes, {attr: b[0] for attr, b in boundaries.items()})


@cli
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="folder of the generator; the sliders go beside it")
    p.add_argument("--samples", type=int, default=50_000, help="prior samples the global directions are fitted on")
    p.add_argument("--steps", type=int, default=600, help="batches of 32 faces each slider's editor learns from")
    p.add_argument("--calibration", type=int, default=200, help="faces each slider's step is calibrated on")
    p.add_argument("--cache", type=Path, default=CACHE_DIR, help="where the rendered samples are kept between runs")
    p.add_argument("--only", help="refit these sliders (comma-separated names) and keep the installed others")
    p.add_argument("--report", action="store_true", help="measure the installed sliders instead of fitting")
    p.add_argument("--report-file", type=Path, default=ROOT / "docs" / "sliders.md")
    p.add_argument("--seeds", type=int, default=1000, help="report: held-out seeds 0..N-1 the effects are measured on")
    p.add_argument("--identity-seeds", type=int, default=200, help="report: of those, how many the recognizer sees")
    p.add_argument("--data", type=Path, default=DEFAULT_PACK, help="report: the pack whose holdout the FD is against")
    args = p.parse_args(argv)
    for flag, value, low in (
        ("--samples", args.samples, 100),
        ("--steps", args.steps, 1),
        ("--calibration", args.calibration, 8),
        ("--seeds", args.seeds, 8),
    ):
        if value < low:
            raise TrainError(f"{flag} must be at least {low}, got {value}")
    if not 1 <= args.identity_seeds <= args.seeds:
        raise TrainError(f"--identity-seeds must be from 1 to --seeds ({args.seeds}), got {args.identity_seeds}")
    classifier, names = load_classifier()
    classifier.requires_grad_(False)
    faces = Faces.load(args.out / GENERATOR_FILE)
    if args.report:
        if not faces.attributes:
            raise TrainError(f"no sliders in {args.out}: fit them first (python -m train.attributes)")
        holdout = None
        if (args.data / "holdout.zip").is_file():
            holdout = load_split(args.data, "holdout").images.permute(0, 2, 3, 1).numpy()
        else:
            print(f"no face pack at {args.data}: the report leaves out the Frechet distances", flush=True)
        write(faces, measure(faces, classifier, names, args.seeds, args.identity_seeds, holdout), args.report_file)
        return
    only = None
    if args.only is not None:
        only = set(args.only.split(","))
        known = [s.name for s in SPECS]
        if unknown := sorted(only - set(known)):
            raise TrainError(f"--only: no slider named {', '.join(unknown)}; the sliders are {', '.join(known)}")
        if missing := [n for n in known if n not in faces.attributes]:
            raise TrainError(f"--only keeps the installed sliders, but {', '.join(missing)} are not installed: fit all")
    attribute_set = fit(faces, classifier, names, args.samples, args.steps, args.cache, args.calibration, only=only)
    attribute_set.save(
        args.out / ATTRIBUTES_FILE,
        {
            **({"refitted": sorted(only)} if only else {}),
            "samples": args.samples,
            "editor_steps": args.steps,
            "generator": faces.meta.get("source"),
            "target_move": TARGET_MOVE,
            "margin": MARGIN,
        },
    )
    print(f"wrote {args.out / ATTRIBUTES_FILE}")


if __name__ == "__main__":
    raise SystemExit(main())
